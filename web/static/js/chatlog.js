// Rendering of the chat log (#messages): message bubbles, tool-call cards with approvals, errors and notices.
// Text is always set with textContent: what the model or the user wrote is shown, never interpreted.

import { userTimezone } from "./account.js";
import { formatDue } from "./dates.js";
import { byId, clear, el, nearBottom, truncate } from "./dom.js";

const MAX_ARGS = 6; // arguments shown on a card
const MAX_VALUE = 80; // characters per argument value
const HISTORY_APPROVAL_REASON = "This call is waiting for your approval.";

let current = null; // the assistant bubble that text deltas go to
let typing = null; // the "thinking" indicator while a turn has shown nothing yet

const log = () => byId("messages");

/** Append nodes, keeping the log pinned to the bottom when the reader was already there. */
function put(...nodes) {
  const node = log();
  const pinned = nearBottom(node);
  hideTyping();
  node.append(...nodes);
  if (pinned) node.scrollTop = node.scrollHeight;
}

function keepPinned(action) {
  const node = log();
  const pinned = nearBottom(node);
  action();
  if (pinned) node.scrollTop = node.scrollHeight;
}

export function resetLog() {
  current = null;
  typing = null;
  clear(log());
}

export function addUserMessage(text) {
  const bubble = el("div", { class: "message user" }, el("p", { class: "message-text", text }));
  put(bubble);
  return bubble;
}

/** Put back a node (the just-sent message) after the log was cleared. */
export function restore(node) {
  if (node) put(node);
}

function assistantBubble(text = "") {
  return el("div", { class: "message assistant" }, el("p", { class: "message-text", text }));
}

/** A piece of the assistant's answer as it streams in. */
export function appendDelta(text) {
  if (!text) return;
  if (!current) {
    current = assistantBubble();
    current.classList.add("streaming");
    put(current);
  }
  keepPinned(() => current.querySelector(".message-text").append(text));
}

/** The answer is complete: its text is authoritative (it is what history will show). */
export function finishAssistant(text) {
  if (current) {
    if (text) keepPinned(() => { current.querySelector(".message-text").textContent = text; });
    current.classList.remove("streaming");
  } else if (text) {
    put(assistantBubble(text));
  }
  current = null;
}

/** Close the bubble that was streaming (a tool call follows it; later text starts a new bubble). */
export function closeBubble() {
  if (current) current.classList.remove("streaming");
  current = null;
}

/** "Thinking…" until the first thing of the turn arrives. */
export function showTyping() {
  hideTyping();
  typing = el("p", { class: "chat-typing", role: "status" }, "Thinking…");
  const node = log();
  node.append(typing);
  node.scrollTop = node.scrollHeight;
}

export function hideTyping() {
  if (typing) typing.remove();
  typing = null;
}

function formatValue(value) {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== "object")) return value.join(", ");
  return JSON.stringify(value);
}

/** A one-line summary of a stored tool result, for messages stored before the server kept one. */
function summarize(content) {
  let doc;
  try {
    doc = JSON.parse(content);
  } catch {
    return truncate(content || "", 200);
  }
  if (doc === null || typeof doc !== "object") return truncate(String(doc), 200);
  if (typeof doc.error === "string") return truncate(doc.error, 200);
  if (typeof doc.text === "string") return truncate(doc.text, 200);
  if (isTask(doc)) return taskLine(doc);
  const list = Array.isArray(doc) ? doc : Array.isArray(doc.data) ? doc.data : null;
  if (list) {
    const total = typeof doc.count === "number" ? doc.count : list.length;
    const names = list.filter(isTask).slice(0, 3).map((t) => t.title);
    const more = list.length > names.length ? ", …" : "";
    return truncate(`${total} result${total === 1 ? "" : "s"}${names.length ? `: ${names.join(", ")}${more}` : ""}`, 200);
  }
  return truncate(Object.entries(doc).map(([k, v]) => `${k}: ${formatValue(v)}`).join(", "), 200);
}

function isTask(doc) {
  return doc && typeof doc === "object" && "id" in doc && typeof doc.title === "string";
}

function taskLine(task) {
  const parts = [task.status, task.priority && task.priority !== "none" ? task.priority : null].filter(Boolean);
  const tags = Array.isArray(task.tags) && task.tags.length ? ` [${task.tags.join(", ")}]` : "";
  const when = formatDue(task, userTimezone());
  const due = when ? `, due ${when}` : "";
  return truncate(`#${task.id} ${task.title}${parts.length ? ` — ${parts.join(", ")}` : ""}${tags}${due}`, 200);
}

function argumentList(args) {
  let parsed = args;
  if (typeof parsed === "string") {
    try {
      parsed = JSON.parse(parsed);
    } catch {
      return el("p", { class: "tool-args" }, truncate(parsed, MAX_VALUE * 2));
    }
  }
  const entries = parsed && typeof parsed === "object" ? Object.entries(parsed) : [];
  const list = el("dl", { class: "tool-args" });
  if (!entries.length) list.classList.add("empty");
  for (const [key, value] of entries.slice(0, MAX_ARGS)) {
    list.append(el("div", {}, el("dt", {}, key), el("dd", {}, truncate(formatValue(value), MAX_VALUE))));
  }
  if (entries.length > MAX_ARGS) list.append(el("div", {}, el("dt", {}, "…"), el("dd", {}, `${entries.length - MAX_ARGS} more`)));
  return list;
}

function findCard(id) {
  return [...log().querySelectorAll(".tool-card")].find((card) => card.dataset.toolCallId === id) || null;
}

/** A card for a tool call, "running…" until its result arrives. */
export function toolCall({ id, name, arguments: args }) {
  closeBubble();
  let card = findCard(id);
  if (card) return card;
  card = el(
    "div",
    { class: "tool-card running", dataset: { toolCallId: id } },
    el("div", { class: "tool-head" }, el("span", { class: "tool-name" }, name || "tool"),
      el("span", { class: "tool-status" }, "running…")),
    argumentList(args),
    el("p", { class: "tool-result", hidden: true }),
  );
  put(card);
  return card;
}

/** Fill a card with its result (error style when the call failed or was declined). */
export function toolResult({ id, name, summary, is_error: isError }, { status } = {}) {
  const card = findCard(id) || toolCall({ id, name, arguments: {} });
  keepPinned(() => {
    card.classList.remove("running", "waiting");
    card.classList.toggle("error", Boolean(isError));
    const declined = card.dataset.answer === "denied" && isError;
    card.querySelector(".tool-status").textContent = status || (declined ? "declined" : isError ? "failed" : "done");
    const result = card.querySelector(".tool-result");
    result.textContent = summary || (isError ? "The call failed." : "Done.");
    result.hidden = false;
    const approval = card.querySelector(".approval");
    if (approval) for (const button of approval.querySelectorAll("button")) button.disabled = true;
  });
}

/** The call waits for the person: show why, with Approve and Deny. `onAnswer(id, approved)` sends the answer. */
export function approvalRequired({ tool_call_id: id, name, arguments: args, reason }, onAnswer) {
  const card = findCard(id) || toolCall({ id, name, arguments: args });
  card.classList.remove("running");
  card.classList.add("waiting");
  card.querySelector(".tool-status").textContent = "needs approval";
  card.querySelector(".approval")?.remove();
  const answered = el("p", { class: "approval-answer", hidden: true });
  const answer = (approved) => {
    approve.disabled = true;
    deny.disabled = true;
    answered.textContent = approved ? "Approved." : "Denied.";
    card.dataset.answer = approved ? "approved" : "denied";
    answered.hidden = false;
    onAnswer(id, approved);
  };
  const approve = el("button", { type: "button", class: "approve", on: { click: () => answer(true) } }, "Approve");
  const deny = el("button", { type: "button", class: "deny", on: { click: () => answer(false) } }, "Deny");
  const box = el(
    "div",
    { class: "approval", role: "group", "aria-label": `Approve ${name || "this call"}?` },
    el("p", { class: "approval-reason" }, reason || HISTORY_APPROVAL_REASON),
    el("div", { class: "approval-buttons" }, approve, deny),
    answered,
  );
  keepPinned(() => card.append(box));
  return box;
}

/** Re-enable the approval buttons of a card (the answer could not be sent). */
export function reopenApproval(id) {
  const card = findCard(id);
  const box = card?.querySelector(".approval");
  if (!box) return;
  delete card.dataset.answer;
  for (const button of box.querySelectorAll("button")) button.disabled = false;
  box.querySelector(".approval-answer").hidden = true;
}

export function chatError(message, retryable = false) {
  const text = retryable ? `${message} Please try again.` : message;
  closeBubble();
  put(el("p", { class: "chat-error", role: "alert" }, text));
}

export function notice(text) {
  put(el("p", { class: "chat-notice" }, text));
}

/** Render a conversation's stored messages (see GET /api/v1/conversations/{id}/messages). */
export function renderHistory(messages, onAnswer) {
  resetLog();
  for (const message of messages) {
    if (message.role === "user") {
      addUserMessage(message.content);
    } else if (message.role === "assistant") {
      if (message.content) put(assistantBubble(message.content));
      for (const call of message.tool_calls || []) toolCall(call);
    } else if (message.role === "tool") {
      historyTool(message, onAnswer);
    }
  }
  current = null;
  log().scrollTop = log().scrollHeight;
}

function historyTool(message, onAnswer) {
  const id = message.tool_call_id;
  if (!id) return;
  const card = findCard(id) || toolCall({ id, name: "tool", arguments: {} });
  switch (message.status) {
    case "running":
      break; // still "running…"
    case "pending_approval":
      approvalRequired({ tool_call_id: id, name: card.querySelector(".tool-name").textContent, reason: message.summary || "" },
        onAnswer);
      break;
    case "declined":
      toolResult({ id, summary: message.summary || summarize(message.content) || "Not run: declined.", is_error: true },
        { status: "declined" });
      break;
    default:
      // The server keeps the line the turn showed (older messages have none: make one from the stored result).
      toolResult({ id, summary: message.summary || summarize(message.content), is_error: message.status === "error" });
  }
}
