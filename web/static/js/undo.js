// Undo of the last change (POST /api/v1/undo): in the toast after every change, the panel's Undo button, and
// Ctrl+Z (⌘Z) when the focus is not in a text field (where the browser's own undo of typing belongs).

import { ApiError, post } from "./api.js";
import { userTimezone } from "./account.js";
import { formatDue } from "./dates.js";
import { dialogOpen } from "./dialogs.js";
import { byId, plural, truncate } from "./dom.js";
import { toast } from "./toast.js";

let context = { isActive: () => false, reload: () => {} };

/** The Undo button of every change toast. */
export const undoAction = { label: "Undo", name: "Undo the last change", run: () => undoLast() };

/** Wire the Undo button and the shortcut; `reload()` shows the list after an undo. */
export function initUndo({ isActive, reload }) {
  context = { isActive, reload };
  byId("tasks-undo").addEventListener("click", () => undoLast());
  document.addEventListener("keydown", (event) => {
    if (!context.isActive() || event.key.toLowerCase() !== "z" || !(event.ctrlKey || event.metaKey)) return;
    if (event.shiftKey || event.altKey || typing(event.target) || dialogOpen()) return;
    event.preventDefault();
    undoLast();
  });
}

function typing(target) {
  if (target.isContentEditable || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  return target instanceof HTMLInputElement && !["checkbox", "radio", "button", "submit", "reset"].includes(target.type);
}

/** Revert the latest change of this account, whoever made it here (the page, the chat, an MCP client). */
async function undoLast() {
  if (!context.isActive()) return;
  try {
    const result = await post("/api/v1/undo");
    toast(undoneText(result), { key: "change" });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return; // the page is signing out
    toast(sentence(err instanceof ApiError ? err.detail : "could not undo"), { key: "change", error: true });
    if (!(err instanceof ApiError)) console.error(err);
  }
  context.reload();
}

/**
 * "Undone: update of ‘Buy milk’." from {undone: "update of task 7", tasks: [...]}; projects by name too
 * ("deletion of ‘Shopping’; update of 4 tasks" from "deletion of project 2; update of tasks 1, 2, 3, 4").
 */
function undoneText({ undone, tasks, projects = [] }) {
  const names = (items, name) => items.map((item) => `‘${truncate(name(item), 40)}’`).join(", ");
  let text = undone;
  if (tasks.length) text = text.replace(/tasks? [\d, ]+(?=;|$)/, tasks.length > 3 ? plural(tasks.length, "task") : names(tasks, (t) => t.title));
  if (projects.length) text = text.replace(/projects? [\d, ]+(?=;|$)/, names(projects, (p) => p.name));
  return `Undone: ${text}.`;
}

/** The server's sentence as one of the page's: a capital first, a full stop last. */
export function sentence(text) {
  const s = String(text).trim();
  return `${s.charAt(0).toUpperCase()}${s.slice(1)}${/[.!?]$/.test(s) ? "" : "."}`;
}

/** The toast of a change: what happened to which task, dates in the page's one format. */
export function changeText(task, changes) {
  const name = `‘${truncate(task.title, 40)}’`;
  if (changes.created) return `Added ${name}${changes.into ? ` to ${changes.into}` : ""}${dueText(task)}.`;
  if (changes.completed) return `Completed ${name}.`;
  if (changes.reopened) return `Reopened ${name}.`;
  if (changes.restored) return `Restored ${name}.`;
  if ("title" in changes) return `Renamed to ${name}.`;
  if ("due_at" in changes) return task.due_at || task.due_date ? `${name}${dueText(task)}.` : `${name} has no due date.`;
  if ("priority" in changes) return `${name}: priority ${task.priority}.`;
  if ("recurrence" in changes) return task.recurrence ? `${name} repeats ${task.recurrence.rule}.` : `${name} no longer repeats.`;
  if ("reminders" in changes) return `${name}: reminders saved.`;
  if ("tags" in changes) return `${name}: tags saved.`;
  return `Saved ${name}.`;
}

function dueText(task) {
  const due = formatDue(task, userTimezone());
  return due ? ` · due ${due}${task.all_day ? " (all day)" : ""}` : "";
}
