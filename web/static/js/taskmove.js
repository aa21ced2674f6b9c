// Moving a task from its row's Move menu: to another project (top-level there), under another task of its
// project (a dialog lists the tasks that can take it: not itself or its own subtasks, and no deeper than three
// levels), or back to the top level. And the question asked when a parent with open subtasks is completed.

import { ApiError, get, withQuery } from "./api.js";
import { modal } from "./dialogs.js";
import { el, plural, truncate } from "./dom.js";
import { openProjects, projectById } from "./projects.js";
import { toast } from "./toast.js";
import { sentence } from "./undo.js";

const DEPTH_MAX = 3; // a task, its subtask and the subtask's subtask
const CANDIDATES = 100; // the tasks of the project offered as parents (one page)

/** The items of a task's Move menu; `move(id, body, text(task))` sends POST /move and says `text` when done. */
export function moveItems(task, move) {
  const name = `‘${truncate(task.title, 40)}’`;
  const targets = openProjects().filter((p) => p.id !== task.project_id);
  const items = [];
  if (targets.length) {
    items.push({ group: "Move to project", items: targets.map((p) => ({
      label: p.name, name: `Move to ${p.name}`, run: () => move(task.id, { project: p.id }, () => `Moved ${name} to ${p.name}.`),
    })) }, "separator");
  }
  items.push({ label: "Make subtask of…", run: () => pickParent(task, move) });
  if (task.parent_id !== null) {
    items.push({ label: "Make top-level", run: () => move(task.id, { parent_id: null }, () => `${name} is now a top-level task.`) });
  }
  return items;
}

async function pickParent(task, move) {
  const name = `‘${truncate(task.title, 40)}’`;
  let page;
  try {
    page = await get(withQuery("/api/v1/tasks", { project: task.project_id, status: ["open", "completed"], sort: "title",
      limit: CANDIDATES }));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    toast(sentence(err instanceof ApiError ? err.detail : "could not load the tasks"), { key: "change", error: true });
    return;
  }
  const where = projectById(task.project_id)?.name || "its project";
  const candidates = parentsFor(task, page.data);
  if (!candidates.length) {
    toast(`No task in ${where} can take ${name} as a subtask (subtasks go ${DEPTH_MAX} levels deep at most).`,
      { key: "change" });
    return;
  }
  const picker = el("select", { class: "parent-picker", size: String(Math.min(8, Math.max(2, candidates.length))) },
    candidates.map(({ task: c, path }) => el("option", { value: String(c.id) }, path)));
  picker.value = String(candidates[0].task.id);
  const choice = await modal({
    title: `Make ${name} a subtask of…`,
    content: [el("label", { class: "editor-field" }, el("span", { class: "field-label" }, `A task in ${where}`), picker)],
    buttons: [{ label: "Make subtask", value: "move" }], focus: picker,
  });
  const parent = candidates.find((c) => c.task.id === Number(picker.value))?.task;
  if (choice !== "move" || !parent) return;
  move(task.id, { parent_id: parent.id }, () => `${name} is now a subtask of ‘${truncate(parent.title, 40)}’.`);
}

/**
 * The open tasks of `tasks` (one project's) that can take `task` with its subtasks: not the task, its parent or
 * one of its own subtasks, and shallow enough for its subtree. Each with its path ("Trip › Packing"), by path.
 */
function parentsFor(task, tasks) {
  const known = new Map(tasks.map((t) => [t.id, t]));
  known.set(task.id, task);
  const chain = (t) => { // t and its ancestors among the known tasks, the top first
    const out = [];
    for (let at = t; at && out.length <= DEPTH_MAX; at = at.parent_id === null ? null : known.get(at.parent_id)) out.unshift(at);
    return out;
  };
  const own = chain(task).length;
  const under = tasks.filter((t) => t.id !== task.id && chain(t).includes(task));
  const height = 1 + Math.max(0, ...under.map((t) => chain(t).length - own));
  return tasks
    .filter((t) => t.status === "open" && t.id !== task.id && t.id !== task.parent_id && !under.includes(t))
    .map((t) => ({ task: t, levels: chain(t) }))
    .filter(({ levels }) => levels.length + height <= DEPTH_MAX)
    .map(({ task: t, levels }) => ({ task: t, path: levels.map((l) => l.title).join(" › ") }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * The server refused to complete `task` because of its open subtasks (`err`, open_subtasks): ask whether to
 * complete them too. Answers true for yes.
 */
export async function completeSubtasksToo(task, err) {
  // The problem names the count of open subtasks at every level; the row knows only the direct ones.
  const count = Number(/has (\d+) open subtask/.exec(err.detail)?.[1]) || task.open_subtask_count || 0;
  const title = count === 1 ? "Complete its open subtask too?" : count ? `Complete the ${count} open subtasks too?`
    : "Complete its open subtasks too?";
  const answer = await modal({
    title,
    text: `‘${truncate(task.title, 60)}’ has ${count ? plural(count, "open subtask") : "open subtasks"}. Completing it with them `
      + "completes them as well; Undo reopens them all.",
    buttons: [{ label: "Complete all", value: "complete" }], cancel: "Leave it open",
  });
  return answer === "complete";
}
