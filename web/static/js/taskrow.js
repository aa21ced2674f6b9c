// One compact row of the task list (li.task): checkbox, title, due and markers; its controls (edit, move,
// delete, restore) show on hover, keyboard focus or when the row is open. Clicking the row (or Enter on its title)
// opens the editor below it (taskpanel.js). A parent's row has a disclosure button that shows its subtasks in a
// list of their own rows under it. A row is built once per task id and then only updated in place.

import { dayKey, formatDue } from "./dates.js";
import { el, truncate } from "./dom.js";
import { menuButton } from "./menu.js";
import { projectDot } from "./projects.js";

/**
 * Build the row for a task. `actions` = {toggle(id, done), open(id), remove(id), restore(id), expand(id),
 * moveItems(id) -> menu items}; each reads the task's latest version itself. `depth`: 1 for a row of the list,
 * 2 and 3 for subtasks shown under their parent.
 */
export function buildRow(task, actions, depth = 1) {
  const id = task.id;
  const expand = el("button", { type: "button", class: "task-expand", "aria-expanded": "false",
    "aria-controls": `subtasks-${id}`, on: { click: () => actions.expand(id) } }, "▸");
  const done = el("input", { type: "checkbox", class: "task-done", on: { change: (e) => actions.toggle(id, e.target.checked) } });
  const title = el("span", { class: "task-title" });
  const open = el("button", { type: "button", class: "task-open", "aria-expanded": "false", "aria-controls": `task-editor-${id}`,
    on: { click: () => actions.open(id) } }, title);
  const due = el("span", { class: "task-due" });
  const priority = el("span", { class: "task-priority-mark" });
  const tags = el("span", { class: "task-tag-marks" });
  const recurrence = el("span", { class: "task-recurrence" });
  const subtaskCount = el("span", { class: "task-subtask-count" });
  const project = el("span", { class: "task-project" });
  const edit = el("button", { type: "button", class: "task-edit", on: { click: () => actions.open(id) } }, "Edit");
  const move = el("button", { type: "button", class: "task-move" }, "Move");
  menuButton(move, () => actions.moveItems(id));
  const remove = el("button", { type: "button", class: "task-delete", on: { click: () => actions.remove(id) } }, "Delete");
  const restore = el("button", { type: "button", class: "task-restore", on: { click: () => actions.restore(id) } }, "Restore");
  const line = el("div", { class: "task-line" },
    el("span", { class: "task-lead" }, expand, done),
    el("div", { class: "task-summary" }, open,
      el("div", { class: "task-markers" }, due, priority, subtaskCount, project, tags, recurrence)),
    el("div", { class: "task-actions" }, edit, el("span", { class: "menu-wrap" }, move), remove, restore));
  // A tap or click anywhere on the row's line (not on one of its controls) opens it, as the title does.
  line.addEventListener("click", (event) => {
    if (event.target.closest("button, input, a, select, textarea, label")) return;
    actions.open(id);
  });
  const subtasks = el("ul", { class: "subtasks", id: `subtasks-${id}`, hidden: true });
  const li = el("li", { class: "task", dataset: { id, depth } }, line, subtasks);
  li.controls = { line, expand, done, title, open, due, priority, subtaskCount, project, tags, recurrence, edit, move,
    remove, restore, subtasks };
  return li;
}

/**
 * Show a task's current state in its row. `deleted`: the row is in the trash view (restore only); `tree`: its
 * subtasks can be shown under it; `project`: the project to name on the row (null: none).
 */
export function updateRow(li, task, { timeZone, deleted = false, tree = false, project = null }) {
  li.task = task;
  li.dataset.version = String(task.version);
  const c = li.controls;
  const completed = task.status === "completed";
  const overdue = !completed && !deleted && isOverdue(task, timeZone);
  li.classList.toggle("completed", completed);
  li.classList.toggle("deleted", deleted);
  li.classList.toggle("overdue", overdue);
  li.dataset.priority = task.priority;

  c.done.checked = completed;
  c.done.disabled = deleted;
  c.done.setAttribute("aria-label", `Complete ${task.title}`); // checked = completed; unchecking reopens
  c.title.textContent = task.title;
  c.open.disabled = deleted;
  c.open.title = task.description ? truncate(task.description, 300) : "";

  const due = formatDue(task, timeZone);
  c.due.textContent = !due ? "" : `${due}${task.all_day ? " · all day" : ""}${overdue ? " · overdue" : ""}`;
  c.due.hidden = !due;
  c.due.classList.toggle("all-day", Boolean(task.all_day));
  c.priority.textContent = task.priority === "none" ? "" : task.priority;
  c.priority.hidden = task.priority === "none";
  c.priority.dataset.priority = task.priority;
  c.tags.replaceChildren(...(task.tags || []).map((tag) => el("span", { class: "task-tag" }, `#${tag}`)));
  c.tags.hidden = !(task.tags || []).length;
  const total = task.subtask_count || 0;
  const finished = total - (task.open_subtask_count || 0);
  c.subtaskCount.replaceChildren(`☑ ${finished}/${total}`, el("span", { class: "visually-hidden" }, " subtasks done"));
  c.subtaskCount.title = `${finished} of ${total} subtasks done`;
  c.subtaskCount.hidden = !total;
  c.expand.hidden = !tree || !total || deleted;
  c.expand.setAttribute("aria-label", `Subtasks of ${task.title}`);
  c.project.replaceChildren(...(project ? [projectDot(project), project.name] : []));
  c.project.hidden = !project;
  const rule = task.recurrence?.rule || "";
  c.recurrence.textContent = rule ? `↻ ${truncate(rule, 30)}` : "";
  c.recurrence.title = rule;
  c.recurrence.hidden = !rule;

  c.edit.hidden = deleted;
  c.move.hidden = deleted;
  c.remove.hidden = deleted;
  c.restore.hidden = !deleted;
  c.edit.setAttribute("aria-label", `Edit ${task.title}`);
  c.move.setAttribute("aria-label", `Move ${task.title}`);
  c.remove.setAttribute("aria-label", `Delete ${task.title}`);
  c.restore.setAttribute("aria-label", `Restore ${task.title}`);
}

/** Put `rows` (a Map in order) into `list` in that order, moving only the rows that moved (so focus and typing
 * survive); rows fading out keep their place until they are gone. */
export function arrange(list, rows) {
  let next = list.firstElementChild;
  for (const li of rows.values()) {
    while (next && next.classList.contains("leaving")) next = next.nextElementSibling;
    if (next === li) next = li.nextElementSibling;
    else list.insertBefore(li, next);
  }
}

/** Show a parent's subtasks (their rows are put in `li.controls.subtasks` by the caller) or hide them. */
export function setExpanded(li, expanded) {
  const c = li.controls;
  c.expand.setAttribute("aria-expanded", String(expanded));
  c.expand.textContent = expanded ? "▾" : "▸";
  c.subtasks.hidden = !expanded;
  c.subtasks.setAttribute("aria-label", `Subtasks of ${li.task?.title || ""}`);
}

/** Mark a row open or closed (the editor itself is mounted by taskpanel.js). */
export function setOpen(li, open) {
  li.classList.toggle("open", open);
  li.controls.open.setAttribute("aria-expanded", String(open));
}

/** Is the task past its due: a moment that has gone by, or a whole day that has ended in the user's zone? */
function isOverdue(task, timeZone, now = new Date()) {
  if (task.due_at) return new Date(task.due_at) < now;
  if (task.all_day && task.due_date) return task.due_date < dayKey(now, timeZone);
  return false;
}
