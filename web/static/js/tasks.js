// The task panel: filters, sort, search, the list with paging, quick add, and inline edits of each row.

import { ApiError, get, patch, post, withQuery } from "./api.js";
import { userTimezone } from "./account.js";
import { byId, debounce, plural, setMessage } from "./dom.js";
import { buildRow, updateRow } from "./taskrow.js";

const PAGE = 20;
const SEARCH_DELAY_MS = 250;
const RELOAD_DELAY_MS = 150;
const DEFAULT_ORDER = { due: "asc", priority: "desc", created: "desc", updated: "desc", title: "asc" };
const CLOCK_MS = 30_000;
const CONFLICT = "That task was changed somewhere else meanwhile; the list has been reloaded. Please try again.";

let rows = new Map(); // task id -> li (built once, updated in place)
let pages = 0; // pages shown (a reload fetches as many again)
let nextCursor = null;
let loadSeq = 0; // answers of older list requests are dropped
let active = false;
let clock = null;
const queues = new Map(); // task id -> promise: one change per task at a time, each with the latest version

export const scheduleReload = debounce(() => reload(), RELOAD_DELAY_MS);

export function initTasks() {
  byId("new-task-form").addEventListener("submit", (event) => {
    event.preventDefault();
    addTask();
  });
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
}

export function startTasks() {
  active = true;
  clearInterval(clock);
  clock = setInterval(refreshOverdue, CLOCK_MS);
  return reload({ fresh: true });
}

/** Time passes: a task whose due went by while it was shown becomes overdue without a reload. */
function refreshOverdue() {
  const deleted = byId("filter-status").value === "deleted";
  for (const li of rows.values()) updateRow(li, li.task, { timeZone: userTimezone(), deleted });
}

/** Sign out: forget the list and put the filters back to their defaults. */
export function stopTasks() {
  active = false;
  clearInterval(clock);
  scheduleReload.cancel();
  loadSeq++;
  rows = new Map();
  queues.clear();
  pages = 0;
  nextCursor = null;
  byId("task-filters").reset();
  byId("new-task-form").reset();
  byId("task-list").replaceChildren();
  byId("task-count").textContent = "";
  byId("tasks-more").hidden = true;
  setError("");
}

function setError(text) {
  setMessage(byId("tasks-error"), text);
}

/** The query of the current filters (GET /api/v1/tasks parameters). */
function query() {
  const status = byId("filter-status").value;
  const due = byId("filter-due").value;
  const tags = byId("filter-tag").value.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean);
  return {
    status: status && status !== "all" ? status : undefined,
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

/** Reload the list: the first page (`fresh`) or as many pages as are shown now (after a change). */
export async function reload({ fresh = false } = {}) {
  if (!active) return;
  scheduleReload.cancel();
  const mine = ++loadSeq;
  const want = fresh ? 1 : Math.max(1, pages);
  const params = query();
  const tasks = [];
  let count = 0;
  let cursor = null;
  let got = 0;
  try {
    do {
      const page = await get(withQuery("/api/v1/tasks", { ...params, cursor }));
      if (mine !== loadSeq) return;
      tasks.push(...page.data);
      count = page.count;
      cursor = page.next_cursor;
      got++;
    } while (cursor && got < want);
  } catch (err) {
    if (mine === loadSeq) failed(err, "Could not load the tasks");
    return;
  }
  pages = got;
  nextCursor = cursor;
  render(tasks, count);
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
    const shown = [...byId("task-list").children].map((li) => li.task);
    render([...shown, ...page.data.filter((t) => !rows.has(t.id))], page.count);
  } catch (err) {
    if (mine === loadSeq) failed(err, "Could not load more tasks");
  } finally {
    button.disabled = false;
  }
}

/** Show `tasks` in order, reusing each task's row (so focus and typing survive a live refresh). */
function render(all, count) {
  const seen = new Set();
  const tasks = all.filter((task) => !seen.has(task.id) && seen.add(task.id));
  const list = byId("task-list");
  const deleted = byId("filter-status").value === "deleted";
  const timeZone = userTimezone();
  const keep = new Map();
  tasks.forEach((task, index) => {
    let li = rows.get(task.id);
    if (!li) li = buildRow(task, actions);
    // A list fetched before a change of ours answered is older than the row: never go back a version.
    const newest = li.task && li.task.version > task.version ? li.task : task;
    updateRow(li, newest, { timeZone, deleted });
    keep.set(task.id, li);
    if (list.children[index] !== li) list.insertBefore(li, list.children[index] || null);
  });
  for (const li of [...list.children]) if (!keep.has(Number(li.dataset.id))) li.remove();
  rows = keep;
  byId("task-count").textContent = plural(count, "task");
  byId("tasks-more").hidden = !nextCursor;
  byId("tasks-empty").hidden = tasks.length > 0;
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

function showTask(task) {
  const li = rows.get(task.id);
  // Not forced: a control the user is editing right now keeps their text (it saves on its own).
  if (li) updateRow(li, task, { timeZone: userTimezone(), deleted: false });
}

function revert(id) {
  const li = rows.get(id);
  if (li) updateRow(li, li.task, { timeZone: userTimezone(), force: true, deleted: li.classList.contains("deleted") });
}

async function mutate(id, what, request) {
  try {
    const task = await request(rows.get(id)?.task);
    setError("");
    showTask(task);
  } catch (err) {
    revert(id);
    failed(err, what);
    return;
  }
  scheduleReload(); // the change may move the task in or out of the current filter and order
}

const actions = {
  toggle: (id, done) => enqueue(id, () => mutate(id, done ? "Could not complete the task" : "Could not reopen the task",
    (task) => post(`/api/v1/tasks/${id}/${done ? "complete" : "reopen"}`, { version: task?.version }))),
  update: (id, changes) => enqueue(id, () => mutate(id, "Could not save the change",
    (task) => patch(`/api/v1/tasks/${id}`, { ...changes, version: task?.version }))),
  restore: (id) => enqueue(id, () => mutate(id, "Could not restore the task",
    (task) => post(`/api/v1/tasks/${id}/restore`, { version: task?.version }))),
};

async function addTask() {
  const input = byId("new-task-title");
  const title = input.value.trim();
  if (!title) {
    setError("Type a title for the new task.");
    input.focus();
    return;
  }
  input.value = ""; // ready for the next one at once; the title comes back if it could not be added
  try {
    await post("/api/v1/tasks", { title });
    setError("");
    await reload();
  } catch (err) {
    if (!input.value) input.value = title;
    failed(err, "Could not add the task");
  }
}
