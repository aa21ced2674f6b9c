// The project list beside the tasks: All tasks, the Inbox, then your projects with their colours and open-task
// counts. Picking one shows its tasks; each project's menu renames, recolours, archives or deletes it (deleting
// asks where its tasks go), every change ends in a toast with Undo. Archived projects show on request.

import { ApiError, api, get, post } from "./api.js";
import { modal } from "./dialogs.js";
import { byId, debounce, el, plural, truncate } from "./dom.js";
import { menuButton } from "./menu.js";
import { sentence, undoAction } from "./undo.js";
import { toast } from "./toast.js";

const KEY = "todo-agent.project"; // the project shown lasts for the browser session, as the Chat/Tasks view does
const REFRESH_DELAY_MS = 300;
export const COLOURS = [
  ["#ef4444", "Red"], ["#f97316", "Orange"], ["#eab308", "Yellow"], ["#22c55e", "Green"], ["#14b8a6", "Teal"],
  ["#3b82f6", "Blue"], ["#8b5cf6", "Violet"], ["#ec4899", "Pink"], ["#6b7280", "Grey"],
];

let projects = []; // every live project of the user, archived ones too, in the server's order (Inbox first)
let selected = null; // the id of the project shown; null: all tasks
let active = false;
let seq = 0; // answers of older loads are dropped
let on = { selected: () => {}, tasksChanged: () => {}, renamed: () => {} };

/**
 * Wire the list. `selected()` runs when another project is shown, `tasksChanged()` when a change moved tasks,
 * `renamed()` when a project's name or colour changed (rows naming a project show them).
 */
export function initProjects(handlers) {
  on = handlers;
  byId("project-add").addEventListener("click", addProject);
  byId("projects-toggle").addEventListener("click", () => toggleDrawer());
  const archived = byId("projects-archived-toggle");
  archived.addEventListener("click", () => {
    const show = archived.getAttribute("aria-expanded") !== "true";
    archived.setAttribute("aria-expanded", String(show));
    archived.textContent = show ? "Hide archived" : "Show archived";
    render();
  });
}

/** Sign in: show the list, and the project this tab showed before a reload if it still exists. */
export async function startProjects() {
  active = true;
  selected = stored();
  await loadProjects();
}

/** Sign out: forget the projects and the selection. */
export function stopProjects() {
  active = false;
  seq++;
  refreshProjects.cancel();
  projects = [];
  selected = null;
  remember(null);
  const archived = byId("projects-archived-toggle");
  archived.setAttribute("aria-expanded", "false");
  archived.textContent = "Show archived";
  render();
}

/** The id of the project shown (null: all tasks). */
export const selectedProject = () => selected;
/** A project by id (archived ones too), or null. */
export const projectById = (id) => projects.find((p) => p.id === id) || null;
/** The projects a task can move to: the Inbox and the ones not archived. */
export const openProjects = () => projects.filter((p) => !p.archived);

/** Load the projects and their counts again; a selected project that is gone shows all tasks instead. */
export async function loadProjects() {
  if (!active) return;
  refreshProjects.cancel();
  const mine = ++seq;
  let list;
  try {
    list = await get("/api/v1/projects?include_archived=true");
  } catch (err) {
    if (mine !== seq || (err instanceof ApiError && err.status === 401)) return;
    toast(`Could not load the projects: ${err instanceof ApiError ? err.detail : "unexpected error"}`,
      { key: "projects", error: true });
    if (!(err instanceof ApiError)) console.error(err);
    return;
  }
  if (mine !== seq) return;
  // A project's menu is open: rebuilding the list would close it under the user's hands; try again shortly.
  if (byId("project-nav").querySelector(".menu")) {
    refreshProjects();
    return;
  }
  const looks = (all) => JSON.stringify(all.map((p) => [p.id, p.name, p.colour, p.archived]));
  const renamed = looks(list) !== looks(projects);
  projects = list;
  render();
  if (selected !== null && !projectById(selected)) select(null);
  if (renamed) on.renamed();
}

/** Counts change with every task change: load them once things settle. */
export const refreshProjects = debounce(() => loadProjects(), REFRESH_DELAY_MS);

/** A dot in the project's colour (none without one). */
export function projectDot(project) {
  const dot = el("span", { class: "project-dot", "aria-hidden": "true" });
  if (project?.colour) dot.style.setProperty("--project-colour", project.colour); // CSSOM: allowed by the CSP
  else dot.classList.add("plain");
  return dot;
}

function stored() {
  try {
    const value = Number(sessionStorage.getItem(KEY));
    return Number.isInteger(value) && value > 0 ? value : null;
  } catch {
    return null; // storage switched off
  }
}

function remember(id) {
  try {
    if (id === null) sessionStorage.removeItem(KEY);
    else sessionStorage.setItem(KEY, String(id));
  } catch {
    // storage switched off: the choice lasts until the next reload only
  }
}

function select(id) {
  toggleDrawer(false);
  if (id === selected) return;
  selected = id;
  remember(id);
  render();
  on.selected(id);
}

function toggleDrawer(open) {
  const nav = byId("project-nav");
  const next = open === undefined ? !nav.classList.contains("open") : open;
  nav.classList.toggle("open", next);
  byId("projects-toggle").setAttribute("aria-expanded", String(next));
}

function render() {
  const list = byId("projects");
  // The list is rebuilt: the control that had the focus gets it back (same project, same kind of control).
  const focused = document.activeElement;
  const focusKey = focused?.closest?.("#project-nav li") ? [focused.closest("li").dataset.id, focused.classList[0]] : null;
  const allTasks = el("li", { class: "project-item", dataset: { id: "" } },
    el("button", { type: "button", class: "project", "aria-current": selected === null ? "true" : undefined,
      on: { click: () => select(null) } }, el("span", { class: "project-dot all", "aria-hidden": "true" }),
    el("span", { class: "project-name" }, "All tasks")));
  list.replaceChildren(allTasks, ...projects.filter((p) => !p.archived).map(item));
  const showArchived = byId("projects-archived-toggle").getAttribute("aria-expanded") === "true";
  const archived = projects.filter((p) => p.archived);
  const shelf = byId("archived-projects");
  shelf.replaceChildren(...archived.map(archivedItem));
  if (!archived.length) shelf.append(el("li", { class: "empty" }, "No archived projects."));
  shelf.hidden = !showArchived;
  const current = selected === null ? null : projectById(selected);
  byId("projects-toggle").textContent = current ? current.name : "All tasks";
  if (focusKey) {
    const [id, kind] = focusKey.map((part) => CSS.escape(part));
    byId("project-nav").querySelector(`li[data-id="${id}"] .${kind}`)?.focus();
  }
}

function item(project) {
  const count = project.open_count;
  const button = el("button", { type: "button", class: "project", "aria-current": selected === project.id ? "true" : undefined,
    on: { click: () => select(project.id) } },
  projectDot(project), el("span", { class: "project-name" }, project.name),
  el("span", { class: "project-count", "aria-hidden": "true" }, count ? String(count) : ""),
  el("span", { class: "visually-hidden" }, `, ${plural(count, "open task")}`));
  const actions = el("button", { type: "button", class: "project-menu", "aria-label": `Actions for ${project.name}`,
    title: "Rename, colour, archive, delete" }, "⋯");
  menuButton(actions, () => project.is_inbox
    ? [{ label: "Change colour…", run: () => editProject(project) }]
    : [
      { label: "Rename…", run: () => editProject(project) },
      { label: "Archive", run: () => archive(project, true) },
      { label: "Delete…", run: () => deleteProject(project) },
    ]);
  return el("li", { class: "project-item", dataset: { id: project.id } }, button, el("span", { class: "menu-wrap" }, actions));
}

function archivedItem(project) {
  return el("li", { class: "project-item archived", dataset: { id: project.id } },
    el("button", { type: "button", class: "project", "aria-current": selected === project.id ? "true" : undefined,
      on: { click: () => select(project.id) } }, projectDot(project), el("span", { class: "project-name" }, project.name)),
    el("button", { type: "button", class: "project-unarchive", "aria-label": `Unarchive ${project.name}`,
      on: { click: () => archive(project, false) } }, "Unarchive"));
}

/** The name and colour fields of the project dialog. */
function projectFields(project) {
  const name = el("input", { type: "text", class: "project-name-input", autocomplete: "off", value: project?.name || "",
    disabled: project?.is_inbox || false });
  const colour = el("select", { class: "project-colour-input" }, el("option", { value: "" }, "No colour"),
    COLOURS.map(([value, label]) => el("option", { value }, label)));
  if (project?.colour && !COLOURS.some(([value]) => value === project.colour)) {
    colour.append(el("option", { value: project.colour }, `Custom (${project.colour})`));
  }
  colour.value = project?.colour || "";
  const swatch = el("span", { class: "colour-swatch" }, projectDot(project));
  colour.addEventListener("change", () => swatch.replaceChildren(projectDot({ colour: colour.value || null })));
  const nodes = [
    el("label", { class: "editor-field" }, el("span", { class: "field-label" }, "Name"), name),
    el("label", { class: "editor-field" }, el("span", { class: "field-label" }, "Colour"),
      el("span", { class: "colour-line" }, colour, swatch)),
  ];
  return { nodes, name, colour };
}

async function addProject() {
  const fields = projectFields(null);
  let created = null;
  await modal({
    title: "New project", content: fields.nodes, buttons: [{ label: "Add project", value: "add" }],
    submit: async () => {
      const name = fields.name.value.trim();
      if (!name) return "Type a name for the project.";
      created = await post("/api/v1/projects", { name, colour: fields.colour.value || null });
      return "";
    },
  });
  if (!created) return;
  toast(`Added the project ‘${truncate(created.name, 40)}’.`, { key: "change", action: undoAction });
  await loadProjects();
  select(created.id);
}

async function editProject(project) {
  project = projectById(project.id) || project; // its latest version
  const fields = projectFields(project);
  let saved = null;
  await modal({
    title: project.is_inbox ? "Colour of the Inbox" : `Rename ‘${truncate(project.name, 40)}’`,
    content: fields.nodes, buttons: [{ label: "Save", value: "save" }],
    focus: project.is_inbox ? fields.colour : fields.name,
    submit: async () => {
      const name = fields.name.value.trim();
      const colour = fields.colour.value || null;
      if (!name) return "Type a name for the project.";
      const changes = {};
      if (name !== project.name) changes.name = name;
      if (colour !== project.colour) changes.colour = colour;
      if (!Object.keys(changes).length) return "";
      saved = await api(`/api/v1/projects/${project.id}`, { method: "PATCH", body: { ...changes, version: project.version } });
      return "";
    },
  });
  if (!saved) return;
  const what = saved.name !== project.name ? `Renamed the project to ‘${truncate(saved.name, 40)}’.`
    : `Saved the colour of ‘${truncate(saved.name, 40)}’.`;
  toast(what, { key: "change", action: undoAction });
  loadProjects();
}

async function archive(project, archiving) {
  project = projectById(project.id) || project; // its latest version
  let saved;
  try {
    saved = await post(`/api/v1/projects/${project.id}/${archiving ? "archive" : "unarchive"}`, { version: project.version });
  } catch (err) {
    failed(err);
    return;
  }
  const name = `‘${truncate(saved.name, 40)}’`;
  toast(archiving ? `Archived ${name}.` : `${name} is back in your projects.`, { key: "change", action: undoAction });
  if (archiving && selected === project.id) select(null);
  loadProjects();
}

async function deleteProject(project) {
  project = projectById(project.id) || project; // its latest version
  const choice = (value, label, checked) => el("label", { class: "dialog-choice" },
    el("input", { type: "radio", name: "project-tasks", value, checked }), el("span", {}, label));
  const where = el("fieldset", { class: "editor-group" }, el("legend", { class: "field-label" }, "Its tasks"),
    choice("inbox", "Move them to the Inbox", true), choice("trash", "Move them to the trash", false));
  const open = project.open_count;
  let answer = null;
  await modal({
    title: `Delete the project ‘${truncate(project.name, 40)}’?`,
    text: `It holds ${plural(open, "open task")}. Undo brings the project and its tasks back.`,
    content: [where], buttons: [{ label: "Delete project", value: "delete", danger: true }],
    submit: async () => {
      const tasks = where.querySelector("input:checked")?.value || "inbox";
      answer = await api(`/api/v1/projects/${project.id}?tasks=${tasks}`, { method: "DELETE", body: { version: project.version } });
      return "";
    },
  });
  if (!answer) return;
  const name = `‘${truncate(project.name, 40)}’`;
  const text = answer.trashed ? `Deleted ${name} and moved ${plural(answer.trashed, "task")} to the trash.`
    : answer.moved ? `Deleted ${name} and moved ${plural(answer.moved, "task")} to the Inbox.` : `Deleted ${name}.`;
  toast(text, { key: "change", action: undoAction });
  if (selected === project.id) select(null);
  await loadProjects();
  on.tasksChanged();
}

function failed(err) {
  if (err instanceof ApiError && err.status === 401) return; // the page is signing out
  toast(sentence(err instanceof ApiError ? err.detail : "unexpected error"), { key: "change", error: true });
  if (!(err instanceof ApiError)) console.error(err);
  loadProjects(); // e.g. changed elsewhere meanwhile: show what is there now
}
