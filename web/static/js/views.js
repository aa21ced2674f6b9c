// Narrow screens (phones) show one panel at a time, switched by the Chat / Tasks tabs under the top bar; wide
// screens show both side by side and the tabs are hidden. The last choice lasts for the browser session.

import { byId } from "./dom.js";

const NARROW = window.matchMedia("(max-width: 900px)"); // the same width as the one-column layout in app.css
const VIEWS = ["chat", "tasks"];
const KEY = "todo-agent.view";

export function initViews() {
  for (const view of VIEWS) {
    const tab = byId(`tab-${view}`);
    tab.addEventListener("click", () => show(view));
    tab.addEventListener("keydown", onKey);
  }
  NARROW.addEventListener("change", apply);
  show(stored(), { save: false });
}

function stored() {
  try {
    const view = sessionStorage.getItem(KEY);
    return VIEWS.includes(view) ? view : "chat";
  } catch {
    return "chat"; // storage switched off
  }
}

function show(view, { save = true, focus = false } = {}) {
  byId("layout").dataset.view = view;
  for (const name of VIEWS) {
    const tab = byId(`tab-${name}`);
    const selected = name === view;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1; // one tab stop; the arrow keys move between the tabs
    if (selected && focus) tab.focus();
  }
  if (save) {
    try {
      sessionStorage.setItem(KEY, view);
    } catch {
      // storage switched off: the choice lasts until the next reload only
    }
  }
  apply();
}

/** Arrow keys, Home and End move between the tabs (and show their panel), as the ARIA tabs pattern has it. */
function onKey(event) {
  const index = VIEWS.indexOf(byId("layout").dataset.view);
  const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: VIEWS.length - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  show(VIEWS[(next + VIEWS.length) % VIEWS.length], { focus: true });
}

/** Tab semantics only while the tabs show: on wide screens the panels are two plain regions side by side. */
function apply() {
  const narrow = NARROW.matches;
  const view = byId("layout").dataset.view;
  for (const name of VIEWS) {
    const panel = byId(name);
    panel.hidden = narrow && name !== view;
    if (narrow) {
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", `tab-${name}`);
    } else {
      panel.removeAttribute("role");
      panel.setAttribute("aria-labelledby", `${name}-heading`);
    }
  }
}
