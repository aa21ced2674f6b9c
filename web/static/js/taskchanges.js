// Changes of tasks from the panel: one at a time per task (each with the version the previous one produced),
// each ending in a toast with Undo. Completing a parent with open subtasks asks first (taskmove.js); a move the
// server refuses (a cycle, too deep, an archived project) says why in an error toast.

import { ApiError, api, post } from "./api.js";
import { truncate } from "./dom.js";
import { refreshProjects } from "./projects.js";
import { isSubtaskRow, keepExpanded } from "./subtasks.js";
import { completeSubtasksToo } from "./taskmove.js";
import { toast } from "./toast.js";
import { changeText, sentence, undoAction } from "./undo.js";

const queues = new Map(); // task id -> promise: one change per task at a time, each with the latest version

/** The user declined a change when asked (e.g. completing a parent without its open subtasks). */
class Declined extends Error {}

// The list the changes show in, from tasks.js: {rowOf(id), show(li, task), fadeOut(id), failed(err, what),
// setError(text), leavesView(task), scheduleReload(), reload()}
let view = null;

export function initChanges(context) {
  view = context;
}

/** Sign out: forget the changes waiting (their answers find no rows any more). */
export function forgetChanges() {
  queues.clear();
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
    task = await request(view.rowOf(id)?.task);
  } catch (err) {
    const li = view.rowOf(id);
    if (li) view.show(li, li.task); // e.g. the checkbox goes back
    if (err instanceof Declined) return {};
    if (inline && err instanceof ApiError && err.status === 422) return { error: err };
    view.failed(err, what);
    return {};
  }
  view.setError("");
  const li = view.rowOf(id);
  if (li) view.show(li, task);
  // A subtask stays under its parent when completed or reopened; it leaves only for the trash.
  if (li && isSubtaskRow(li) ? Boolean(task.deleted_at) : view.leavesView(task)) view.fadeOut(id);
  view.scheduleReload(); // the change may move the task in or out of the current filter and order
  refreshProjects(); // and change the open-task counts
  return { task };
}

/** Complete a task; a parent with open subtasks is completed with them only when the user says so. */
async function complete(id, task) {
  const path = `/api/v1/tasks/${id}/complete`;
  try {
    return await post(path, versioned(task));
  } catch (err) {
    if (!(err instanceof ApiError && err.code === "open_subtasks")) throw err;
    if (!(await completeSubtasksToo(task, err))) throw new Declined();
    return post(path, { ...versioned(view.rowOf(id)?.task || task), subtasks: "complete" });
  }
}

/** Move a task (POST /move); a refusal (a cycle, too deep, an archived project) shows in an error toast. */
export function move(id, body, text) {
  return enqueue(id, async () => {
    let task;
    try {
      task = await post(`/api/v1/tasks/${id}/move`, { ...body, ...versioned(view.rowOf(id)?.task) });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return; // the page is signing out
      toast(sentence(err instanceof ApiError ? err.detail : "could not move the task"), { key: "change", error: true });
      if (!(err instanceof ApiError)) console.error(err);
      if (err instanceof ApiError && err.status === 409) view.reload();
      return;
    }
    view.setError("");
    if (body.parent_id) keepExpanded(body.parent_id); // show where it went
    const li = view.rowOf(id);
    if (li) view.show(li, task);
    toast(text(task), { key: "change", action: undoAction });
    view.scheduleReload();
    refreshProjects();
  });
}

const versioned = (task) => ({ version: task?.version });

/** The changes a row or its editor makes; each reads the task's latest version itself. */
export const changes = {
  toggle: (id, done) => enqueue(id, async () => {
    const { task } = await mutate(id, done ? "Could not complete the task" : "Could not reopen the task",
      (t) => (done ? complete(id, t) : post(`/api/v1/tasks/${id}/reopen`, versioned(t))));
    if (task) toast(changeText(task, { [done ? "completed" : "reopened"]: true }), { key: "change", action: undoAction });
  }),
  save: (id, fields) => enqueue(id, async () => {
    const answer = await mutate(id, "Could not save the change",
      (t) => api(`/api/v1/tasks/${id}`, { method: "PATCH", body: { ...fields, ...versioned(t) } }), { inline: true });
    if (answer.task) toast(changeText(answer.task, fields), { key: "change", action: undoAction });
    return answer;
  }),
  remove: (id) => enqueue(id, async () => {
    const { task } = await mutate(id, "Could not delete the task",
      (t) => api(`/api/v1/tasks/${id}`, { method: "DELETE", body: versioned(t) }));
    if (!task) return;
    toast(`Deleted ‘${truncate(task.title, 40)}’.`, { key: "change", action: {
      label: "Undo", name: `Undo deleting ${task.title}`, run: () => changes.restore(id, task),
    } });
  }),
  /** Take a task out of the trash: from the trash view, or the Undo of a delete (`deleted` = its answer). */
  restore: (id, deleted) => enqueue(id, async () => {
    const { task } = await mutate(id, "Could not restore the task",
      (t) => post(`/api/v1/tasks/${id}/restore`, versioned(deleted || t)));
    if (task) toast(changeText(task, { restored: true }), { key: "change", action: undoAction });
  }),
  move,
};
