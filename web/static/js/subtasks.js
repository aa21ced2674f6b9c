// Subtasks under their parent (a project's list shows its top-level tasks): a parent's disclosure button loads
// its direct subtasks (GET /api/v1/tasks?parent_id=ID, open and completed) into a list under its row, three
// levels at most. Expanded parents stay expanded while the project is shown, and every reload of the list loads
// their subtasks again, reusing their rows as the list does.

import { get, withQuery } from "./api.js";
import { arrange, buildRow, setExpanded } from "./taskrow.js";

const LIMIT = 100; // a page of subtasks; a parent rarely has more
const nested = new Map(); // the subtask rows shown: task id -> li
const expanded = new Set(); // the parents whose subtasks are shown

// {actions, show(li, task), failed(err, what), order() -> {sort, order}, closeEditorIn(node)}, from tasks.js
let ctx = null;

export function initSubtasks(context) {
  ctx = context;
}

/** The row of a subtask shown under its parent, or undefined. */
export const subtaskRow = (id) => nested.get(id);
/** Is this row a subtask's row (rather than one of the list)? */
export const isSubtaskRow = (li) => nested.get(Number(li.dataset.id)) === li;
/** Every subtask row shown. */
export const subtaskRows = () => nested.values();

/** A row left (faded out): forget it. */
export function forgetRow(id) {
  nested.delete(id);
}

/** Show the subtasks of this parent from now on (a task was just put under it). */
export function keepExpanded(id) {
  expanded.add(id);
}

/** Another project or sign out: nothing is expanded any more. */
export function resetSubtasks() {
  expanded.clear();
}

/** The disclosure button: show or hide a parent's subtasks. */
export function toggleSubtasks(li) {
  const id = li.task.id;
  if (expanded.has(id)) {
    expanded.delete(id);
    collapse(li);
  } else {
    expanded.add(id);
    sync(li);
  }
}

/** The list was rendered (`rows` its rows): load the subtasks of its expanded parents, or, outside a project's
 * tree (`tree` false), hide every subtask. */
export function refreshSubtasks(rows, tree) {
  if (!tree) expanded.clear();
  for (const li of rows) sync(li);
}

function sync(li) {
  if (expanded.has(li.task.id) && li.task.subtask_count > 0) {
    setExpanded(li, true);
    load(li);
  } else if (!li.controls.subtasks.hidden || li.controls.subtasks.childElementCount) {
    collapse(li);
  }
}

async function load(li) {
  const id = li.task.id;
  const mine = (li.subtaskSeq = (li.subtaskSeq || 0) + 1); // answers of older loads are dropped
  let page;
  try {
    page = await get(withQuery("/api/v1/tasks", { parent_id: id, status: ["open", "completed"], ...ctx.order(), limit: LIMIT }));
  } catch (err) {
    if (mine === li.subtaskSeq) ctx.failed(err, "Could not load the subtasks");
    return;
  }
  if (mine !== li.subtaskSeq || !expanded.has(id) || !li.isConnected) return;
  place(li, page.data);
}

function place(parent, tasks) {
  const box = parent.controls.subtasks;
  const depth = Number(parent.dataset.depth) + 1;
  const keep = new Map();
  for (const task of tasks) {
    const old = nested.get(task.id);
    if (keep.has(task.id) || old?.classList.contains("leaving")) continue;
    const li = old || buildRow(task, ctx.actions, depth);
    li.dataset.depth = String(depth);
    // A list fetched before a change of ours answered is older than the row: never go back a version.
    ctx.show(li, li.task && li.task.version > task.version ? li.task : task);
    keep.set(task.id, li);
  }
  arrange(box, keep);
  for (const li of [...box.children]) {
    if (!li.classList.contains("leaving") && !keep.has(Number(li.dataset.id))) drop(li);
  }
  for (const [id, li] of keep) {
    nested.set(id, li);
    sync(li);
  }
}

/** Hide a parent's subtasks; focus inside them goes to the parent's row. */
function collapse(li) {
  const box = li.controls.subtasks;
  if (box.contains(document.activeElement)) (li.controls.expand.hidden ? li.controls.open : li.controls.expand).focus();
  for (const row of [...box.children]) drop(row);
  setExpanded(li, false);
}

/** Take a subtask's row (and those under it) out of the page. */
function drop(li) {
  ctx.closeEditorIn(li);
  for (const row of [li, ...li.querySelectorAll("li.task")]) {
    if (nested.get(Number(row.dataset.id)) === row) nested.delete(Number(row.dataset.id));
  }
  li.remove();
}
