// The task panel: filters, sort, search and the list with paging; each row opens its editor in place; changes
// go one at a time per task (each with the version the previous one produced) and end in a toast with Undo.

import { ApiError, api, get, post, withQuery } from "./api.js";
import { userTimezone } from "./account.js";
import { byId, debounce, plural, setMessage, truncate } from "./dom.js";
import { initQuickAdd, resetQuickAdd } from "./quickadd.js";
import { buildEditor } from "./taskpanel.js";
import { buildRow, setOpen, updateRow } from "./taskrow.js";
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

let rows = new Map(); // task id -> li (built once, updated in place)
let pages = 0; // pages shown (a reload fetches as many again)
let nextCursor = null;
let loadSeq = 0; // answers of older list requests are dropped
let active = false;
let clock = null;
let openId = null; // the task whose editor is open
const queues = new Map(); // task id -> promise: one change per task at a time, each with the latest version

export const scheduleReload = debounce(() => reload(), RELOAD_DELAY_MS);

export function initTasks() {
  initQuickAdd({
    added: (task) => {
      toast(changeText(task, { created: true }), { key: "change", action: undoAction });
      reload();
    },
  });
  initUndo({ isActive: () => active, reload: () => reload() });
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
    if (event.key === "Escape" && !event.defaultPrevented && rows.get(openId)?.contains(event.target)) closeEditor();
  });
}

export function startTasks() {
  active = true;
  clearInterval(clock);
  clock = setInterval(refreshDates, CLOCK_MS);
  return reload({ fresh: true });
}

/** Time passes: "Tomorrow" becomes "Today", a due that went by is overdue, without a reload. */
function refreshDates() {
  for (const li of rows.values()) show(li, li.task);
}

/** Sign out: forget the list and put the filters back to their defaults. */
export function stopTasks() {
  active = false;
  clearInterval(clock);
  scheduleReload.cancel();
  loadSeq++;
  rows = new Map();
  queues.clear();
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
  // Put the rows in order; rows fading out keep their place until they are gone.
  let next = list.firstElementChild;
  for (const li of keep.values()) {
    while (next && next.classList.contains("leaving")) next = next.nextElementSibling;
    if (next === li) next = li.nextElementSibling;
    else list.insertBefore(li, next);
  }
  for (const li of [...list.children]) if (!li.classList.contains("leaving") && !keep.has(Number(li.dataset.id))) li.remove();
  if (!keep.has(openId)) openId = null;
  rows = keep;
  // Past 1,000 matches the server stops counting (count_exact is false).
  byId("task-count").textContent = exact ? plural(count, "task") : `more than ${plural(count, "task")}`;
  byId("tasks-more").hidden = !nextCursor;
  byId("tasks-empty").hidden = keep.size > 0;
}

/** Show a task in its row and, when open, its editor (which keeps what the user is typing). */
function show(li, task) {
  updateRow(li, task, { timeZone: userTimezone(), deleted: inTrash() });
  li.editor?.refresh(task);
}

/** A task left the list shown: its row fades out, and focus moves to a neighbour rather than to nowhere. */
function fadeOut(id) {
  const li = rows.get(id);
  if (!li) return;
  if (openId === id) openId = null;
  if (li.contains(document.activeElement)) {
    const neighbour = [li.nextElementSibling, li.previousElementSibling].find((n) => n && !n.classList.contains("leaving"));
    (neighbour ? neighbour.controls.open : byId("new-task-title")).focus();
  }
  li.classList.add("leaving");
  rows.delete(id);
  setTimeout(() => li.remove(), FADE_MS);
}

function openEditor(id) {
  if (openId !== null) closeEditor({ focus: false });
  const li = rows.get(id);
  if (!li || inTrash()) return;
  li.editor = buildEditor(li.task, editorContext);
  li.append(li.editor);
  setOpen(li, true);
  openId = id;
  li.editor.focusFirst();
}

/** Close the open editor; focus goes back to its row (first, so the field being left saves as on any blur). */
function closeEditor({ focus = true } = {}) {
  const li = rows.get(openId);
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

/** Run changes to one task one after the other, so each sends the version the previous one produced. */
function enqueue(id, change) {
  const previous = queues.get(id) || Promise.resolve();
  const next = previous.then(change, change);
  queues.set(id, next);
  next.finally(() => {
    if (queues.get(id) === next) queues.delete(id);
  });
  return next;
}

/**
 * Send one change of a task; answers {task} on success. `inline`: a refused value (422) is answered as {error}
 * for the editor to show next to its field; other failures are reported above the list and answer {}.
 */
async function mutate(id, what, request, { inline = false } = {}) {
  let task;
  try {
    task = await request(rows.get(id)?.task);
  } catch (err) {
    const li = rows.get(id);
    if (li) show(li, li.task); // e.g. the checkbox goes back
    if (inline && err instanceof ApiError && err.status === 422) return { error: err };
    failed(err, what);
    return {};
  }
  setError("");
  const li = rows.get(id);
  if (li) show(li, task);
  if (leavesView(task)) fadeOut(id);
  scheduleReload(); // the change may move the task in or out of the current filter and order
  return { task };
}

const versioned = (task) => ({ version: task?.version });

const actions = {
  toggle: (id, done) => enqueue(id, async () => {
    const { task } = await mutate(id, done ? "Could not complete the task" : "Could not reopen the task",
      (t) => post(`/api/v1/tasks/${id}/${done ? "complete" : "reopen"}`, versioned(t)));
    if (task) toast(changeText(task, { [done ? "completed" : "reopened"]: true }), { key: "change", action: undoAction });
  }),
  save: (id, changes) => enqueue(id, async () => {
    const answer = await mutate(id, "Could not save the change",
      (t) => api(`/api/v1/tasks/${id}`, { method: "PATCH", body: { ...changes, ...versioned(t) } }), { inline: true });
    if (answer.task) toast(changeText(answer.task, changes), { key: "change", action: undoAction });
    return answer;
  }),
  remove: (id) => enqueue(id, async () => {
    const { task } = await mutate(id, "Could not delete the task",
      (t) => api(`/api/v1/tasks/${id}`, { method: "DELETE", body: versioned(t) }));
    if (!task) return;
    toast(`Deleted ‘${truncate(task.title, 40)}’.`, { key: "change", action: {
      label: "Undo", name: `Undo deleting ${task.title}`, run: () => actions.restore(id, task),
    } });
  }),
  /** Take a task out of the trash: from the trash view, or the Undo of a delete (`deleted` = its answer). */
  restore: (id, deleted) => enqueue(id, async () => {
    const { task } = await mutate(id, "Could not restore the task",
      (t) => post(`/api/v1/tasks/${id}/restore`, versioned(deleted || t)));
    if (task) toast(changeText(task, { restored: true }), { key: "change", action: undoAction });
  }),
  open: (id) => (openId === id ? closeEditor() : openEditor(id)),
};

const editorContext = {
  save: actions.save,
  remove: actions.remove,
  close: () => closeEditor(),
  preview: (rule, start) => get(withQuery("/api/v1/recurrence/preview", { rule, start, count: 3 })),
  timeZone: userTimezone,
};
