// The add box, quick add: as the user types, the server reads the text (POST /api/v1/tasks/quick/preview) and
// chips under the box show what it understood (due, priority, the project a #name files it in, tags,
// recurrence). Removing a chip keeps its words in the title: they are wrapped in double quotes, which the grammar
// reads literally. Enter or Add creates the task from the same text (POST /api/v1/tasks/quick).

import { ApiError, isAbort, post } from "./api.js";
import { userTimezone } from "./account.js";
import { formatDue, formatWhen } from "./dates.js";
import { byId, debounce, el, setMessage } from "./dom.js";
import { openProjects, projectDot, selectedProject } from "./projects.js";
import { TITLE_MAX, lengthLimit } from "./textlimit.js";

const PREVIEW_DELAY_MS = 200;

let seq = 0; // answers of older previews are dropped
let understood = null; // {text, result}: the preview of the text in the box
let onAdded = () => {};
let check = () => true;

const box = () => byId("new-task-title");
const errorNode = () => byId("new-task-error");

/** Wire the add box; `added(task, text)` runs after the server created a task. */
export function initQuickAdd({ added }) {
  onAdded = added;
  const input = box();
  check = lengthLimit(input, { max: TITLE_MAX, counter: byId("new-task-count"), error: errorNode(), what: "title",
    length: () => titleOf(input.value).length });
  const previewSoon = debounce(() => preview(input.value), PREVIEW_DELAY_MS);
  input.addEventListener("input", previewSoon);
  byId("new-task-form").addEventListener("submit", (event) => {
    event.preventDefault();
    previewSoon.cancel();
    add();
  });
}

/** Sign out: empty the box and forget what it showed. */
export function resetQuickAdd() {
  seq++;
  understood = null;
  byId("new-task-form").reset();
  showChips(null);
  check();
}

/** The title the task would get: the server's reading of the text when known, else the text itself. */
function titleOf(text) {
  const trimmed = text.trim();
  return understood?.text === trimmed ? understood.result.title : trimmed;
}

async function preview(text) {
  const mine = ++seq;
  const trimmed = text.trim();
  if (!trimmed) {
    understood = null;
    showChips(null);
    check();
    return;
  }
  try {
    const result = await post("/api/v1/tasks/quick/preview", { text: trimmed });
    if (mine !== seq) return;
    understood = { text: trimmed, result };
    showChips(result);
    check();
  } catch (err) {
    if (mine !== seq || isAbort(err)) return;
    understood = null;
    showChips(null);
    // The words themselves are refused (e.g. far too long): say why; anything else only costs the chips.
    if (err instanceof ApiError && err.status === 422) setMessage(errorNode(), err.detail);
  }
}

function chipText(chip, result) {
  const zone = userTimezone();
  switch (chip.kind) {
    case "due": {
      const due = formatDue(result, zone) || chip.text;
      return `Due ${due}${result.all_day ? " · all day" : ""}`;
    }
    case "priority":
      return `Priority ${chip.value ?? result.priority}`;
    case "tag":
      return `#${chip.value ?? chip.text.replace(/^#/, "")}`;
    case "project":
      return `Project ${chip.value ?? result.project}`;
    case "recurrence": {
      const first = result.recurrence?.next?.[0]; // the task's own due: a rule alone gives the task its first
      return `↻ ${result.recurrence?.rule || chip.text}${first ? ` · from ${formatWhen(first, zone)}` : ""}`;
    }
    default:
      return chip.text;
  }
}

function showChips(result) {
  const list = byId("quick-chips");
  const chips = result?.chips || [];
  list.replaceChildren(...chips.map((chip) => el("li", { class: "chip quick-chip", dataset: { kind: chip.kind } },
    chip.kind === "project" ? projectDot(projectNamed(chip.value ?? result.project)) : null,
    el("span", { class: "chip-text" }, chipText(chip, result)),
    el("button", {
      type: "button", class: "chip-remove", "aria-label": `Keep “${chip.text}” in the title`,
      title: `Keep “${chip.text}” as words of the title`, on: { click: () => keepLiteral(chip.text) },
    }, "×"))));
  list.hidden = chips.length === 0;
}

/** The project of a project chip (by its name, as the server wrote it), for its colour. */
function projectNamed(name) {
  const key = String(name || "").toLocaleLowerCase();
  return openProjects().find((p) => p.name.toLocaleLowerCase() === key) || null;
}

/** Remove a chip: quote its words so the parser leaves them in the title, and read the text again. */
function keepLiteral(fragment) {
  const input = box();
  input.value = quoted(input.value, fragment);
  input.focus();
  preview(input.value);
}

/** `text` with the last unquoted occurrence of `fragment` (any case) wrapped in double quotes. */
function quoted(text, fragment) {
  const lower = text.toLowerCase();
  const needle = fragment.toLowerCase();
  for (let at = lower.lastIndexOf(needle); at >= 0; at = at === 0 ? -1 : lower.lastIndexOf(needle, at - 1)) {
    const quotesBefore = (text.slice(0, at).match(/"/g) || []).length;
    if (quotesBefore % 2 === 0) return `${text.slice(0, at)}"${text.slice(at, at + fragment.length)}"${text.slice(at + fragment.length)}`;
  }
  return text;
}

async function add() {
  const input = box();
  const text = input.value.trim();
  if (!text) {
    setMessage(errorNode(), "Type a title for the new task.");
    input.focus();
    return;
  }
  // A long text may still make a short title once its dates and tags are read: ask before refusing it.
  if (text.length > TITLE_MAX && understood?.text !== text) {
    await preview(text);
    if (input.value.trim() !== text) return; // typed on meanwhile: that text is sent by its own Enter
  }
  if (!check()) return;
  seq++;
  input.value = ""; // ready for the next one at once; the text comes back if it could not be added
  understood = null;
  showChips(null);
  try {
    // A task typed while a project is shown goes there, unless its text names another with #name.
    const task = await post("/api/v1/tasks/quick", { text, project: selectedProject() ?? undefined });
    setMessage(errorNode(), "");
    onAdded(task, text);
  } catch (err) {
    if (!input.value) input.value = text;
    if (err instanceof ApiError && err.status === 401) return; // the page is signing out
    setMessage(errorNode(), `Could not add the task: ${err instanceof ApiError ? err.detail : "unexpected error"}`);
    if (!(err instanceof ApiError)) console.error(err);
    preview(input.value);
  }
}
