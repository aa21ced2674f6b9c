// The editor of one task, opened in place under its row (it reads as well on a phone as beside the chat):
// title and description (Enter or leaving the field saves, Escape cancels), priority, tags, due (a phrase, or the
// native day and time pickers; a day alone is all day), recurrence and reminders (taskschedule.js), delete.
// Nothing is trapped: Tab leaves the editor as usual, Escape closes it and focus goes back to the row.

import { dayKey, formatDue, timeKey } from "./dates.js";
import { el, setMessage } from "./dom.js";
import { edited, errorSlot, escapeReverts, labelled, onEnter, sync } from "./fields.js";
import { recurrenceField, reminderField } from "./taskschedule.js";
import { DESCRIPTION_MAX, TITLE_MAX, lengthLimit } from "./textlimit.js";

const PRIORITIES = ["none", "low", "medium", "high", "urgent"];

/**
 * Build the editor of `task`. `ctx` = {save(id, changes) -> {task} | {error}, preview(rule, start), remove(id),
 * close(id), timeZone()}. The node's `refresh(task)` shows a newer version of the task.
 */
export function buildEditor(task, ctx) {
  const id = task.id;
  let current = task;
  const save = async (changes, slot, control) => {
    const answer = await ctx.save(id, changes);
    setMessage(slot, answer.error ? answer.error.detail : "");
    if (answer.error) control.setAttribute("aria-invalid", "true");
    else if (answer.task) control.removeAttribute("aria-invalid");
    return answer;
  };

  // Title: one line, saved on Enter or when the field is left; the 500-character limit is shown, never cut.
  const title = el("input", { type: "text", class: "task-title-input", autocomplete: "off" });
  const titleCount = el("span", { class: "counter" });
  const titleError = errorSlot(title);
  const titleOk = lengthLimit(title, { max: TITLE_MAX, counter: titleCount, error: titleError, what: "title" });
  let titleSent = null;
  const saveTitle = async () => {
    const value = title.value.trim();
    if (value === current.title || value === titleSent) return;
    if (!value) return setMessage(titleError, "A task needs a title; press Escape to keep the old one.");
    if (!titleOk()) return;
    titleSent = value;
    const answer = await save({ title: value }, titleError, title);
    titleSent = null;
    if (answer.task && title.value.trim() === value) title.value = answer.task.title;
  };
  onEnter(title, saveTitle);
  title.addEventListener("change", saveTitle);
  escapeReverts(title, titleOk);

  // Description: several lines; saved when the field is left or with Ctrl+Enter.
  const description = el("textarea", { class: "task-description", rows: 3, placeholder: "Notes" });
  const descriptionCount = el("span", { class: "counter" });
  const descriptionError = errorSlot(description);
  const descriptionOk = lengthLimit(description, { max: DESCRIPTION_MAX, counter: descriptionCount,
    error: descriptionError, what: "description", length: () => description.value.length });
  let descriptionSent = null;
  const saveDescription = async () => {
    const value = description.value;
    if (value === current.description || value === descriptionSent || !descriptionOk()) return;
    descriptionSent = value;
    await save({ description: value }, descriptionError, description);
    descriptionSent = null;
  };
  description.addEventListener("change", saveDescription);
  description.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      saveDescription();
    }
  });
  escapeReverts(description, descriptionOk);

  const priority = el("select", { class: "task-priority", on: { change: () => save({ priority: priority.value }, priorityError, priority) } },
    PRIORITIES.map((p) => el("option", { value: p }, p === "none" ? "No priority" : p[0].toUpperCase() + p.slice(1))));
  const priorityError = errorSlot(priority);

  const tags = el("input", { type: "text", class: "task-tags", placeholder: "home, errands", autocomplete: "off" });
  const tagsError = errorSlot(tags);
  const saveTags = () => {
    const value = parseTags(tags.value);
    if (value.join(",") !== (current.tags || []).join(",")) save({ tags: value }, tagsError, tags);
  };
  tags.addEventListener("change", saveTags);
  onEnter(tags, saveTags);
  escapeReverts(tags);

  const due = dueField(ctx, save);
  const recurrence = recurrenceField(ctx, save);
  const reminders = reminderField(save);
  const remove = el("button", { type: "button", class: "task-delete-button danger", on: { click: () => ctx.remove(id) } }, "Delete task");
  const close = el("button", { type: "button", class: "task-close", on: { click: () => ctx.close(id) } }, "Close");

  const node = el("div", { class: "task-editor", id: `task-editor-${id}`, role: "group" },
    labelled("Title", title, titleCount), titleError,
    labelled("Description", description, descriptionCount), descriptionError,
    el("div", { class: "editor-row" },
      el("div", {}, labelled("Priority", priority), priorityError),
      el("div", {}, labelled("Tags", tags), tagsError)),
    due.node, recurrence.node, reminders.node,
    el("div", { class: "editor-buttons" }, remove, close));
  node.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.defaultPrevented) {
      event.preventDefault();
      ctx.close(id);
    }
  });
  node.focusFirst = () => title.focus();
  node.refresh = (task) => {
    current = task;
    node.setAttribute("aria-label", `Edit ${task.title}`);
    sync(title, task.title);
    titleOk();
    sync(description, task.description || "");
    descriptionOk();
    sync(priority, task.priority);
    sync(tags, (task.tags || []).join(", "));
    due.refresh(task);
    recurrence.refresh(task);
    reminders.refresh(task);
    remove.setAttribute("aria-label", `Delete ${task.title}`);
  };
  node.refresh(task);
  return node;
}

/**
 * The due: a text field for phrases and ISO values ("tomorrow 9am", "dec 5", "2026-12-24"), the native day and
 * time pickers (a day without a time is all day), and Clear. A refused value shows the server's reason; the
 * task keeps its old due.
 */
function dueField(ctx, save) {
  let current = null;
  const text = el("input", { type: "text", class: "task-due-text", autocomplete: "off",
    placeholder: "tomorrow 9am, next friday, dec 5" });
  const day = el("input", { type: "date", class: "task-due-date", "aria-label": "Due day" });
  const time = el("input", { type: "time", class: "task-due-time", "aria-label": "Due time (none: all day)" });
  const clear = el("button", { type: "button", class: "task-due-clear", "aria-label": "Remove the due date" }, "Clear");
  const now = el("p", { class: "task-due-now" });
  const error = errorSlot(text);
  text.shown = ""; // the field is for typing a new due; the current one is shown above it
  day.setAttribute("aria-describedby", error.id);

  let sent = null;
  const saveText = async () => {
    const value = text.value.trim();
    if (!value || value === sent) return;
    sent = value;
    const answer = await save({ due_at: value }, error, text);
    sent = null;
    if (answer.task && text.value.trim() === value) text.value = "";
  };
  onEnter(text, saveText);
  text.addEventListener("change", saveText);
  escapeReverts(text);

  // Date inputs change once per edited part (day, month, year): save when the pickers are left or on Enter.
  const pickers = el("span", { class: "due-pickers" }, day, time);
  const savePicked = () => {
    if (!edited(day) && !edited(time)) return;
    // A half-typed date reads as empty: say so rather than take it for "no due".
    if (day.validity.badInput || time.validity.badInput) {
      return setMessage(error, "Finish the date (day, month and year) and time, or press Escape to keep the due.");
    }
    if (!day.value && time.value) return setMessage(error, "Pick a day for that time, or clear the time.");
    if (!day.value && !current?.due_at && !current?.due_date) return;
    save({ due_at: !day.value ? null : time.value ? `${day.value}T${time.value}` : day.value }, error, day);
  };
  pickers.addEventListener("focusout", (event) => {
    if (!pickers.contains(event.relatedTarget)) savePicked();
  });
  onEnter(pickers, savePicked);
  escapeReverts(day);
  escapeReverts(time);
  clear.addEventListener("click", () => save({ due_at: null }, error, text));

  const node = el("fieldset", { class: "editor-group task-due-field" },
    el("legend", { class: "field-label" }, "Due"),
    now,
    el("div", { class: "editor-inline" }, el("label", { class: "grow" },
      el("span", { class: "visually-hidden" }, "Due: a date or a phrase"), text), clear),
    pickers, error);
  return {
    node,
    refresh(task) {
      current = task;
      const zone = ctx.timeZone();
      const shown = formatDue(task, zone);
      now.textContent = shown ? `${shown}${task.all_day ? " · all day" : ""}` : "No due date";
      now.classList.toggle("all-day", Boolean(task.all_day));
      clear.disabled = !shown;
      const at = task.due_at ? new Date(task.due_at) : null;
      sync(day, at ? dayKey(at, zone) : task.due_date || "");
      sync(time, at ? timeKey(at, zone) : "");
    },
  };
}

/** "Home, errands ,home" -> ["home", "errands"]: trimmed, lower-cased, each once. */
function parseTags(text) {
  const seen = new Set();
  for (const part of text.split(",")) {
    const tag = part.trim().toLowerCase();
    if (tag) seen.add(tag);
  }
  return [...seen];
}
