// The task panel: the project list, filters, sort, search and the list with paging; a project's list shows its
// top-level tasks with their subtasks under them (subtasks.js), filters and search show flat lists; each row
// opens its editor in place; its changes (taskchanges.js) go one at a time per task and end in a toast with Undo.

import { ApiError, get, withQuery } from "./api.js";
import { userTimezone } from "./account.js";
import { byId, debounce, plural, setMessage } from "./dom.js";
import {
  initProjects, loadProjects, projectById, refreshProjects, selectedProject, startProjects, stopProjects,
} from "./projects.js";
import { initQuickAdd, resetQuickAdd } from "./quickadd.js";
import {
  forgetRow, initSubtasks, refreshSubtasks, resetSubtasks, subtaskRow, subtaskRows, toggleSubtasks,
} from "./subtasks.js";
import { changes, forgetChanges, initChanges } from "./taskchanges.js";
import { moveItems } from "./taskmove.js";
import { buildEditor } from "./taskpanel.js";
import { arrange, buildRow, setOpen, updateRow } from "./taskrow.js";
import { changeText, initUndo, undoAction } from "./undo.js";
import { clearToasts, toast } from "./toast.js";

const PAGE = 20;
const SEARCH_DELAY_MS = 250;
const RELOAD_DELAY_MS = 150;
const FADE_MS = 600; // .task.leaving in app.css
const DEFAULT_ORDER = { due: "asc", priority: "desc", created: "desc", updated: "desc", title: "asc" };
const STATUSES = { open: ["open"], completed: ["completed"], all: ["open", "completed"], deleted: ["deleted"] };
const CLOCK_MS = 30_000;
const CONFLICT = "That task was changed somewhere else meanwhile; the list has been reloaded. Please try again.";

let rows = new Map(); // task id -> li of the list (built once, updated in place); subtasks.js has the subtasks' rows
let pages = 0; // pages shown (a reload fetches as many again)
let nextCursor = null;
let loadSeq = 0; // answers of older list requests are dropped
let active = false;
let clock = null;
let openId = null; // the task whose editor is open

export const scheduleReload = debounce(() => reload(), RELOAD_DELAY_MS);

const rowOf = (id) => rows.get(id) || subtaskRow(id);

export function initTasks() {
  initQuickAdd({
    added: (task) => {
      toast(changeText(task, { created: true, into: filedInto(task) }), { key: "change", action: undoAction });
      reload();
      refreshProjects();
    },
  });
  initUndo({ isActive: () => active, reload: () => {
    reload();
    loadProjects(); // an undone project change sends no task event
  } });
  initProjects({
    selected: () => {
      resetSubtasks();
      reload({ fresh: true });
    },
    tasksChanged: () => reload(),
    renamed: () => redraw(),
  });
  initChanges({ rowOf, show, fadeOut, failed, setError, leavesView, scheduleReload, reload });
  initSubtasks({ actions, show, failed, order: () => ({ sort: byId("sort").value, order: byId("order").value }),
    closeEditorIn: (node) => {
      if (openId !== null && node.contains(rowOf(openId))) closeEditor({ focus: false });
    } });
  const search = debounce(() => reload({ fresh: true }), SEARCH_DELAY_MS);
  byId("search").addEventListener("input", search);
  byId("filter-tag").addEventListener("input", search);
  for (const id of ["filter-status", "filter-priority", "filter-due", "order"]) {
    byId(id).addEventListener("change", () => reload({ fresh: true }));
  }
  byId("sort").addEventListener("change", (event) => {
    byId("order").value = DEFAULT_ORDER[event.target.value] || "asc";
    reload({ fresh: true });
  });
  byId("tasks-more").addEventListener("click", loadMore);
  byId("task-filters").addEventListener("submit", (event) => event.preventDefault());
  byId("task-list").addEventListener("keydown", (event) => {
    const li = rowOf(openId);
    const inside = li && (li.controls.line.contains(event.target) || li.editor?.contains(event.target));
    if (event.key === "Escape" && !event.defaultPrevented && inside) closeEditor();
  });
}

export async function startTasks() {
  active = true;
  clearInterval(clock);
  clock = setInterval(redraw, CLOCK_MS);
  await startProjects(); // the project shown before a reload, if it still exists
  return reload({ fresh: true });
}

/** Show every row again: time passed ("Tomorrow" becomes "Today", a due went by), or a project was renamed. */
function redraw() {
  for (const li of [...rows.values(), ...subtaskRows()]) show(li, li.task);
}

/** The toast's "to Shopping" for a task just added: named unless it went where the list shown implies (the
 * project shown, or the Inbox when all tasks are shown). */
function filedInto(task) {
  const project = projectById(task.project_id);
  if (!project || project.id === selectedProject()) return "";
  if (!project.is_inbox) return project.name;
  return selectedProject() !== null ? "the Inbox" : "";
}

/** Sign out: forget the list and put the filters back to their defaults. */
export function stopTasks() {
  active = false;
  clearInterval(clock);
  scheduleReload.cancel();
  loadSeq++;
  rows = new Map();
  resetSubtasks();
  stopProjects();
  forgetChanges();
  openId = null;
  pages = 0;
  nextCursor = null;
  byId("task-filters").reset();
  resetQuickAdd();
  clearToasts();
  byId("task-list").replaceChildren();
  byId("task-count").textContent = "";
  byId("tasks-more").hidden = true;
  setError("");
}

function setError(text) {
  setMessage(byId("tasks-error"), text);
}

const inTrash = () => byId("filter-status").value === "deleted";

/** A project's tasks show as a tree (top-level tasks, subtasks under them); a search, a filter or the trash
 * shows a flat list, as does All tasks. */
function treeMode() {
  return selectedProject() !== null && !inTrash() && !byId("search").value.trim() && !byId("filter-tag").value.trim()
    && !byId("filter-priority").value && !byId("filter-due").value;
}

/** The query of the current filters (GET /api/v1/tasks parameters). */
function query() {
  const due = byId("filter-due").value;
  const tags = byId("filter-tag").value.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean);
  return {
    status: STATUSES[byId("filter-status").value] || STATUSES.open,
    priority: byId("filter-priority").value || undefined,
    tag: tags,
    overdue: due === "overdue" ? "true" : undefined,
    due_today: due === "today" ? "true" : undefined,
    has_due: due === "has_due" ? "true" : due === "no_due" ? "false" : undefined,
    q: byId("search").value.trim() || undefined,
    project: selectedProject() ?? undefined,
    top_level: treeMode() ? "true" : undefined,
    sort: byId("sort").value,
    order: byId("order").value,
    limit: PAGE,
  };
}

/** Does a task no longer belong in the list shown (completed in "Open", deleted, restored from the trash...)? */
function leavesView(task) {
  const wanted = STATUSES[byId("filter-status").value] || STATUSES.open;
  return !wanted.includes(task.deleted_at ? "deleted" : task.status);
}

/** Reload the list: the first page (`fresh`) or as many pages as are shown now (after a change). */
export async function reload({ fresh = false } = {}) {
  if (!active) return;
  scheduleReload.cancel();
  const mine = ++loadSeq;
  const want = fresh ? 1 : Math.max(1, pages);
  const params = query();
  const tasks = [];
  let count = 0;
  let exact = true;
  let cursor = null;
  let got = 0;
  try {
    do {
      const page = await get(withQuery("/api/v1/tasks", { ...params, cursor }));
      if (mine !== loadSeq) return;
      tasks.push(...page.data);
      count = page.count;
      exact = page.count_exact !== false;
      cursor = page.next_cursor;
      got++;
    } while (cursor && got < want);
  } catch (err) {
    if (mine === loadSeq) failed(err, "Could not load the tasks");
    return;
  }
  pages = got;
  nextCursor = cursor;
  render(tasks, count, exact);
}

async function loadMore() {
  if (!nextCursor) return;
  const mine = ++loadSeq;
  const button = byId("tasks-more");
  button.disabled = true;
  try {
    const page = await get(withQuery("/api/v1/tasks", { ...query(), cursor: nextCursor }));
    if (mine !== loadSeq) return;
    pages++;
    nextCursor = page.next_cursor;
    const shown = [...rows.values()].map((li) => li.task);
    render([...shown, ...page.data.filter((t) => !rows.has(t.id))], page.count, page.count_exact !== false);
  } catch (err) {
    if (mine === loadSeq) failed(err, "Could not load more tasks");
  } finally {
    button.disabled = false;
  }
}

/** Show `tasks` in order, reusing each task's row (so focus and typing survive a live refresh). */
function render(all, count, exact = true) {
  const seen = new Set();
  const list = byId("task-list");
  const keep = new Map();
  const tree = treeMode();
  list.classList.toggle("tree", tree);
  for (const task of all) {
    const old = rows.get(task.id);
    // A row fading out after a change of ours stays out, even if a list fetched before the change still has it.
    if (seen.has(task.id) || old?.classList.contains("leaving")) continue;
    seen.add(task.id);
    const li = old || buildRow(task, actions);
    // A list fetched before a change of ours answered is older than the row: never go back a version.
    show(li, li.task && li.task.version > task.version ? li.task : task);
    keep.set(task.id, li);
  }
  arrange(list, keep);
  for (const li of [...list.children]) if (!li.classList.contains("leaving") && !keep.has(Number(li.dataset.id))) li.remove();
  rows = keep;
  refreshSubtasks(keep.values(), tree);
  if (!rowOf(openId)?.isConnected) openId = null;
  // Past 1,000 matches the server stops counting (count_exact is false).
  byId("task-count").textContent = exact ? plural(count, "task") : `more than ${plural(count, "task")}`;
  byId("tasks-more").hidden = !nextCursor;
  byId("tasks-empty").hidden = keep.size > 0;
}

/** Show a task in its row and, when open, its editor (which keeps what the user is typing). */
function show(li, task) {
  // All tasks names each task's project (but the Inbox's); a project's own list does not.
  const project = selectedProject() === null ? projectById(task.project_id) : null;
  updateRow(li, task, { timeZone: userTimezone(), deleted: inTrash(), tree: treeMode(),
    project: project && !project.is_inbox ? project : null });
  li.editor?.refresh(task);
}

/** A task left the list shown: its row fades out, and focus moves to a neighbour rather than to nowhere. */
function fadeOut(id) {
  const li = rowOf(id);
  if (!li) return;
  if (openId === id) openId = null;
  if (li.contains(document.activeElement)) {
    const neighbour = [li.nextElementSibling, li.previousElementSibling].find((n) => n && !n.classList.contains("leaving"));
    (neighbour ? neighbour.controls.open : byId("new-task-title")).focus();
  }
  li.classList.add("leaving");
  rows.delete(id);
  forgetRow(id);
  setTimeout(() => li.remove(), FADE_MS);
}

function openEditor(id) {
  if (openId !== null) closeEditor({ focus: false });
  const li = rowOf(id);
  if (!li || inTrash()) return;
  li.editor = buildEditor(li.task, editorContext);
  li.controls.line.after(li.editor); // above its subtasks
  setOpen(li, true);
  openId = id;
  li.editor.focusFirst();
}

/** Close the open editor; focus goes back to its row (first, so the field being left saves as on any blur). */
function closeEditor({ focus = true } = {}) {
  const li = rowOf(openId);
  openId = null;
  if (!li?.editor) return;
  if (focus) li.controls.open.focus();
  li.editor.remove();
  li.editor = null;
  setOpen(li, false);
}

function failed(err, what) {
  if (err instanceof ApiError && err.status === 401) return; // the page is signing out
  if (err instanceof ApiError && err.status === 409) {
    setError(CONFLICT);
    reload();
    return;
  }
  const detail = err instanceof ApiError ? err.detail : "unexpected error";
  if (!(err instanceof ApiError)) console.error(err);
  setError(`${what}: ${detail}`);
}

const actions = {
  ...changes,
  open: (id) => (openId === id ? closeEditor() : openEditor(id)),
  expand: (id) => {
    const li = rowOf(id);
    if (li) toggleSubtasks(li);
  },
  moveItems: (id) => (rowOf(id) ? moveItems(rowOf(id).task, changes.move) : []),
};

const editorContext = {
  save: actions.save,
  remove: actions.remove,
  close: () => closeEditor(),
  preview: (rule, start) => get(withQuery("/api/v1/recurrence/preview", { rule, start, count: 3 })),
  timeZone: userTimezone,
};
