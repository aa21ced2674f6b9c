// One row of the task list (li.task): its controls, and updating them in place when the task changes.
// A row is built once per task id and then only updated, so a control being edited keeps its focus and text.

import { el } from "./dom.js";

export const PRIORITIES = ["none", "low", "medium", "high", "urgent"];
const DUE_SAVE_DELAY_MS = 700; // date inputs fire change per edited segment: save once the edit settles

/**
 * Build the row for a task. `actions` = {toggle(id, done), update(id, changes), restore(id)}; each answers a
 * promise and reads the task's latest version itself.
 */
export function buildRow(task, actions) {
  const id = task.id;
  const done = el("input", { type: "checkbox", class: "task-done", on: { change: (e) => actions.toggle(id, e.target.checked) } });
  const title = el("span", { class: "task-title" });
  const priority = el("select", { class: "task-priority", on: { change: (e) => actions.update(id, { priority: e.target.value }) } },
    PRIORITIES.map((p) => el("option", { value: p }, p === "none" ? "no priority" : p)));
  const tags = el("input", { type: "text", class: "task-tags", placeholder: "tags, comma separated", autocomplete: "off" });
  const due = el("input", { type: "datetime-local", class: "task-due" });
  const dueLocal = el("span", { class: "task-due-local" });
  const recurrence = el("span", { class: "task-recurrence", hidden: true });
  const restore = el("button", { type: "button", class: "task-restore", hidden: true, on: { click: () => actions.restore(id) } }, "Restore");

  const saveTags = () => {
    const value = parseTags(tags.value);
    if (value.join(",") !== (li.task.tags || []).join(",")) actions.update(id, { tags: value });
  };
  tags.addEventListener("change", saveTags);
  tags.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      saveTags();
    }
  });

  let dueTimer = null;
  const saveDue = () => {
    clearTimeout(dueTimer);
    dueTimer = null;
    const value = due.value || null;
    if (value !== dueValue(li.task, due.type)) actions.update(id, { due_at: value });
  };
  due.addEventListener("change", () => {
    clearTimeout(dueTimer);
    dueTimer = setTimeout(saveDue, DUE_SAVE_DELAY_MS);
  });
  due.addEventListener("blur", () => dueTimer && saveDue());
  due.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      saveDue();
    }
  });

  const li = el(
    "li",
    { class: "task", dataset: { id } },
    el("div", { class: "task-main" }, done, title),
    el("div", { class: "task-fields" },
      el("label", { class: "task-field" }, el("span", { class: "field-label" }, "Priority"), priority),
      el("label", { class: "task-field task-field-tags" }, el("span", { class: "field-label" }, "Tags"), tags),
      el("label", { class: "task-field task-field-due" }, el("span", { class: "field-label" }, "Due"), due)),
    el("div", { class: "task-meta" }, dueLocal, recurrence, restore),
  );
  li.controls = { done, title, priority, tags, due, dueLocal, recurrence, restore };
  updateRow(li, task, { timeZone: "UTC" });
  return li;
}

/** Show a task's current state in its row; the focused control keeps what the user is typing unless `force`. */
export function updateRow(li, task, { timeZone, force = false, deleted = false }) {
  li.task = task;
  li.dataset.version = String(task.version);
  const c = li.controls;
  const focused = force ? null : document.activeElement;
  const set = (control, apply) => {
    if (control !== focused) apply();
  };
  const completed = task.status === "completed";
  li.classList.toggle("completed", completed);
  li.classList.toggle("deleted", deleted);
  li.classList.toggle("overdue", !completed && !deleted && isOverdue(task, timeZone));
  li.classList.toggle("has-priority", task.priority !== "none");
  li.dataset.priority = task.priority;

  c.done.checked = completed;
  c.done.setAttribute("aria-label", `Complete ${task.title}`); // checked = completed; unchecking reopens
  c.title.textContent = task.title;
  c.title.title = task.description || "";
  set(c.priority, () => { c.priority.value = task.priority; });
  c.priority.setAttribute("aria-label", `Priority of ${task.title}`);
  set(c.tags, () => { c.tags.value = (task.tags || []).join(", "); });
  c.tags.setAttribute("aria-label", `Tags of ${task.title}`);
  set(c.due, () => {
    const type = task.all_day ? "date" : "datetime-local";
    if (c.due.type !== type) c.due.type = type;
    c.due.value = dueValue(task, type) || "";
  });
  c.due.setAttribute("aria-label", `Due ${task.all_day ? "date" : "date and time"} of ${task.title}`);
  c.dueLocal.textContent = task.due_local ? `Due ${task.due_local}` : "No due date";
  const rule = recurrenceText(task.recurrence);
  c.recurrence.textContent = rule ? `↻ ${rule}` : "";
  c.recurrence.hidden = !rule;
  for (const control of [c.done, c.priority, c.tags, c.due]) control.disabled = deleted;
  c.restore.hidden = !deleted;
  c.restore.setAttribute("aria-label", `Restore ${task.title}`);
}

/** The value a date input shows for a task: "YYYY-MM-DD" (all day) or local "YYYY-MM-DDTHH:MM". */
export function dueValue(task, type) {
  if (type === "date") return task.due_date || (task.due_at ? task.due_at.slice(0, 10) : null);
  // due_at carries the user's own offset, so its first 16 characters are the local wall-clock time.
  if (task.due_at) return task.due_at.slice(0, 16);
  return task.due_date ? `${task.due_date}T00:00` : null;
}

export function parseTags(text) {
  const seen = new Set();
  for (const part of text.split(",")) {
    const tag = part.trim().toLowerCase();
    if (tag) seen.add(tag);
  }
  return [...seen];
}

function recurrenceText(recurrence) {
  if (!recurrence) return "";
  const text = recurrence.text || recurrence.summary || recurrence.rule || "";
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

/** "YYYY-MM-DD" of a moment in a timezone. */
function localDate(date, timeZone) {
  try {
    return date.toLocaleDateString("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
  } catch {
    return date.toISOString().slice(0, 10);
  }
}

function isOverdue(task, timeZone) {
  const now = new Date();
  if (task.due_at) return new Date(task.due_at) < now;
  if (task.all_day && task.due_date) return task.due_date < localDate(now, timeZone);
  return false;
}
