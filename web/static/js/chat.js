// The chat: availability (and what to do without a model), the first screen's greeting and example prompts, the
// conversation list, the composer, and one streamed turn at a time.

import { ApiError, get, isAbort, send, withQuery } from "./api.js";
import * as chatlog from "./chatlog.js";
import { userTimezone } from "./account.js";
import { byId, clear, el } from "./dom.js";
import { jsonData, readEvents } from "./sse.js";
import { dayKey, formatDay, formatTime } from "./dates.js";

const RELOAD_AFTER_STOP_MS = 300; // give the server a moment to record the cancelled turn
const ASK = "Ask me to add, change or find tasks…";
const COMPOSER_HINT = "Enter sends · Shift+Enter for a new line";
const OFF = "The chat is off on this server (see above). Your tasks still work.";

let available = false;
let conversationId = null; // the conversation shown (null: the next message opens a new one)
let turn = null; // {controller, stopped, ended, userBubble} while a turn streams
let sendWhenDone = false; // Enter was pressed while a turn was still streaming: send the text once it ends
let generation = 0; // bumps on sign out and on switching conversations: late answers are dropped
let onTurnEnded = () => {};

/** Wire the chat; `turnEnded()` runs after every turn (the agent may have changed what the page shows). */
export function initChat({ turnEnded = () => {} } = {}) {
  onTurnEnded = turnEnded;
  byId("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitMessage();
  });
  byId("chat-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitMessage();
    }
  });
  byId("stop").addEventListener("click", stopTurn);
  byId("chat-welcome").addEventListener("click", (event) => {
    const example = event.target.closest("button.chat-example");
    if (!example) return;
    byId("chat-input").value = example.textContent;
    submitMessage();
  });
  byId("new-conversation").addEventListener("click", newConversation);
  byId("conversations-toggle").addEventListener("click", () => toggleDrawer());
}

/** After sign in: is a model configured, and what was said before? */
export async function startChat() {
  const mine = ++generation;
  await checkAvailability();
  const list = await loadConversations();
  if (mine !== generation || conversationId !== null) return;
  if (list.length) await showConversation(list[0].id);
  else showWelcome(true);
}

/** Sign out: abort a running turn and forget everything shown. */
export function stopChat() {
  generation++;
  if (turn) turn.controller.abort();
  turn = null;
  sendWhenDone = false;
  conversationId = null;
  available = false;
  chatlog.resetLog();
  showWelcome(false);
  clear(byId("conversations"));
  byId("chat-input").value = "";
  setRunning(false);
}

async function checkAvailability() {
  let state;
  let noModel = false;
  try {
    state = await get("/api/v1/chat");
    noModel = !state.available;
  } catch (err) {
    if (err.status === 401) throw err;
    state = { available: false, message: `The chat is not available on this server (${err.detail}).` };
  }
  available = Boolean(state.available);
  const model = byId("chat-model"); // which model answers, e.g. "cohere command-a-03-2025"
  model.textContent = available && state.model ? `Model: ${state.model}` : "";
  model.hidden = !model.textContent;
  byId("chat-unavailable").hidden = available;
  byId("chat-unavailable-reason").textContent = noModel
    ? "The chat is off: this server has no chat model configured."
    : (state.message ?? "");
  byId("chat-setup").hidden = !noModel; // what to set, that a restart is needed, and that tasks work anyway
  const input = byId("chat-input");
  input.disabled = !available;
  input.placeholder = available ? ASK : OFF;
  byId("composer-hint").textContent = available ? COMPOSER_HINT : OFF;
  if (!available) showWelcome(false);
  setRunning(false);
}

/** The first screen of an empty conversation (a greeting and example prompts) instead of the empty log. */
function showWelcome(show) {
  const welcome = show && available;
  byId("chat-welcome").hidden = !welcome;
  byId("messages").hidden = welcome;
}

function setRunning(running) {
  byId("send").disabled = running || !available;
  byId("stop").disabled = !running;
  byId("messages").setAttribute("aria-busy", String(running));
  byId("chat-form").classList.toggle("running", running);
}

function submitMessage() {
  const input = byId("chat-input");
  const text = input.value.trim();
  if (!text || !available) return;
  if (turn) {
    sendWhenDone = true; // typed ahead (e.g. right as the answer finished): sent as soon as this turn ends
    return;
  }
  input.value = "";
  showWelcome(false);
  const userBubble = chatlog.addUserMessage(text);
  const body = { message: text };
  if (conversationId !== null) body.conversation_id = conversationId;
  runTurn(body, userBubble);
}

function answerApproval(toolCallId, approved) {
  if (turn || conversationId === null) {
    chatlog.reopenApproval(toolCallId);
    return;
  }
  runTurn({ conversation_id: conversationId, approval: { tool_call_id: toolCallId, approved } }, null);
}

/** POST /api/v1/chat and render its event stream into the log until the turn ends. */
async function runTurn(body, userBubble) {
  const mine = generation;
  const current = { controller: new AbortController(), stopped: false, ended: false, userBubble };
  turn = current;
  setRunning(true);
  chatlog.showTyping();
  try {
    const response = await send("/api/v1/chat", {
      method: "POST", body, signal: current.controller.signal, headers: { Accept: "text/event-stream" },
    });
    await readEvents(response, (event) => {
      if (mine === generation) handleEvent(event, current);
    });
    if (!current.ended && mine === generation) {
      chatlog.chatError("The connection closed before the answer was complete.", true);
    }
  } catch (err) {
    if (mine !== generation) return;
    if (isAbort(err)) {
      if (current.stopped) await afterStop();
    } else if (err instanceof ApiError) {
      if (err.status === 401) return;
      chatlog.chatError(err.detail, err.status === 0 || err.status >= 500);
      if (body.approval) chatlog.reopenApproval(body.approval.tool_call_id); // it can be answered again
    } else {
      console.error(err);
      chatlog.chatError("The answer could not be read.", true);
    }
  } finally {
    if (turn === current) {
      turn = null;
      chatlog.hideTyping();
      chatlog.closeBubble();
      if (mine === generation) {
        setRunning(false);
        loadConversations();
        onTurnEnded();
        if (sendWhenDone) {
          sendWhenDone = false;
          submitMessage();
        }
      }
    }
  }
}

function handleEvent(event, current) {
  const data = jsonData(event);
  if (!data) return;
  switch (data.type || event.type) {
    case "turn_started":
      enterConversation(data, current);
      break;
    case "text_delta":
      chatlog.appendDelta(data.text);
      break;
    case "tool_call":
      chatlog.toolCall(data);
      break;
    case "tool_result":
      chatlog.toolResult(data);
      break;
    case "approval_required":
      chatlog.approvalRequired(data, answerApproval);
      break;
    case "message_done":
      chatlog.finishAssistant(data.text);
      break;
    case "error":
      chatlog.chatError(data.message || "Something went wrong.", Boolean(data.retryable));
      break;
    case "turn_end":
      current.ended = true;
      chatlog.hideTyping();
      break;
    default:
      break; // an event type this page does not know yet
  }
}

function enterConversation({ conversation_id: id, new_conversation: isNew }, current) {
  if (isNew && conversationId !== null && id !== conversationId) {
    // The shown conversation had timed out: the server opened a new one for this message.
    chatlog.resetLog();
    chatlog.restore(current.userBubble);
    chatlog.showTyping();
  }
  conversationId = id;
  loadConversations();
}

function stopTurn() {
  if (!turn) return;
  turn.stopped = true;
  turn.controller.abort();
}

async function afterStop() {
  await new Promise((resolve) => setTimeout(resolve, RELOAD_AFTER_STOP_MS));
  if (conversationId !== null) await loadHistory(conversationId);
  chatlog.notice("Stopped.");
}

function newConversation() {
  abortQuietly();
  conversationId = null;
  chatlog.resetLog();
  showWelcome(true);
  markCurrent();
  toggleDrawer(false);
  byId("chat-input").focus();
}

function abortQuietly() {
  generation++;
  if (turn) turn.controller.abort();
  turn = null;
  sendWhenDone = false;
  setRunning(false);
}

async function showConversation(id) {
  conversationId = id;
  showWelcome(false);
  markCurrent();
  await loadHistory(id);
}

async function loadHistory(id) {
  const mine = generation;
  try {
    const page = await get(withQuery(`/api/v1/conversations/${id}/messages`, { limit: 500 }));
    if (mine === generation && id === conversationId) chatlog.renderHistory(page.data || [], answerApproval);
  } catch (err) {
    if (mine === generation && err.status !== 401) chatlog.chatError(err.detail || "Could not load the conversation.");
  }
}

/** Refresh the conversation list (most recent first); answers the list. */
async function loadConversations() {
  const mine = generation;
  let list;
  try {
    list = await get(withQuery("/api/v1/conversations", { limit: 50 }));
  } catch (err) {
    if (err.status === 401) throw err;
    return [];
  }
  if (mine !== generation) return list;
  const ul = byId("conversations");
  const focused = ul.contains(document.activeElement) ? document.activeElement.dataset.id : null;
  clear(ul);
  for (const conversation of list) {
    const button = el(
      "button",
      { type: "button", class: "conversation", dataset: { id: conversation.id }, on: { click: () => pick(conversation.id) } },
      el("span", { class: "conversation-title" }, conversation.title || "Untitled"),
      el("time", { class: "conversation-time", datetime: conversation.last_activity_at }, when(conversation.last_activity_at)),
    );
    ul.append(el("li", {}, button));
  }
  if (!list.length) ul.append(el("li", { class: "empty" }, "No conversations yet."));
  markCurrent();
  if (focused) ul.querySelector(`button.conversation[data-id="${CSS.escape(focused)}"]`)?.focus();
  return list;
}

function pick(id) {
  abortQuietly();
  toggleDrawer(false);
  showConversation(id);
}

function markCurrent() {
  for (const button of byId("conversations").querySelectorAll("button.conversation")) {
    if (Number(button.dataset.id) === conversationId) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

function toggleDrawer(open) {
  const nav = byId("conversation-nav");
  const next = open === undefined ? !nav.classList.contains("open") : open;
  nav.classList.toggle("open", next);
  byId("conversations-toggle").setAttribute("aria-expanded", String(next));
}

function when(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const timeZone = userTimezone();
  // Today's conversations show the time, older ones the day, in the page's one format (dates.js).
  return dayKey(date, timeZone) === dayKey(new Date(), timeZone) ? formatTime(date, timeZone)
    : formatDay(dayKey(date, timeZone), timeZone);
}
