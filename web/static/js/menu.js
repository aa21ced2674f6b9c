// Menu buttons (the ARIA menu button pattern): the button opens a list of commands under it; arrow keys, Home
// and End move between them, Enter or Space runs one, Escape closes and focus goes back to the button, Tab or a
// click elsewhere (or scrolling what it belongs to) closes. The items are built each time the menu opens, so they
// always fit the current state. The menu is placed on the screen (fixed), so no scrolling box cuts it off.

import { el } from "./dom.js";

let openMenu = null; // {button, node}: at most one menu is open

/**
 * Make `button` open a menu built by `items()`: a list of {label, run(), name?} commands, {group, items: [...]}
 * groups (a labelled section) and "separator" lines. The menu node is put right after the button.
 */
export function menuButton(button, items) {
  button.setAttribute("aria-haspopup", "menu");
  button.setAttribute("aria-expanded", "false");
  button.addEventListener("click", () => (openMenu?.button === button ? close({ focus: false }) : open(button, items)));
  button.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    event.preventDefault();
    open(button, items, event.key === "ArrowUp" ? -1 : 0);
  });
}

/** Close the open menu, if any (e.g. the row it belongs to is about to go). */
export function closeMenu() {
  close({ focus: false });
}

function open(button, items, first = 0) {
  close({ focus: false });
  const node = el("div", { class: "menu", role: "menu", "aria-label": button.getAttribute("aria-label") || button.textContent });
  for (const item of items()) node.append(entry(item, button));
  button.after(node);
  place(node, button);
  button.setAttribute("aria-expanded", "true");
  openMenu = { button, node };
  node.addEventListener("keydown", onKey);
  node.addEventListener("focusout", (event) => {
    if (openMenu?.node === node && !node.contains(event.relatedTarget) && event.relatedTarget !== button) close({ focus: false });
  });
  document.addEventListener("pointerdown", onOutside, true);
  document.addEventListener("scroll", onScroll, true);
  window.addEventListener("resize", closeMenu);
  const commands = commandsOf(node);
  (commands.at(first) || node).focus();
}

function entry(item, button) {
  if (item === "separator") return el("div", { role: "separator", class: "menu-separator" });
  if (item.group) {
    const heading = el("div", { class: "menu-heading", "aria-hidden": "true" }, item.group);
    return el("div", { role: "group", "aria-label": item.group }, heading, item.items.map((i) => entry(i, button)));
  }
  return el("button", {
    type: "button", role: "menuitem", tabindex: "-1", class: "menu-item", "aria-label": item.name,
    on: { click: () => { close({ focus: true }); item.run(); } },
  }, item.label);
}

/** Under the button, its right edges aligned, kept on the screen (above the button when there is no room below). */
function place(node, button) {
  const MARGIN = 8;
  const at = button.getBoundingClientRect();
  const { width, height } = node.getBoundingClientRect();
  const left = Math.max(MARGIN, Math.min(at.right - width, window.innerWidth - width - MARGIN));
  const below = at.bottom + 4;
  const top = below + height <= window.innerHeight - MARGIN ? below : Math.max(MARGIN, at.top - height - 4);
  node.style.left = `${left}px`; // CSSOM, which the Content-Security-Policy allows (style attributes it does not)
  node.style.top = `${top}px`;
}

function commandsOf(node) {
  return [...node.querySelectorAll("[role=menuitem]")];
}

function onKey(event) {
  const commands = commandsOf(event.currentTarget);
  const at = commands.indexOf(document.activeElement);
  const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: commands.length - 1 }[event.key];
  if (to !== undefined) {
    event.preventDefault();
    commands[(to + commands.length) % commands.length]?.focus();
  } else if (event.key === "Escape") {
    event.preventDefault();
    event.stopPropagation(); // the menu closes, not the editor or dialog around it
    close({ focus: true });
  } else if (event.key === "Tab") {
    close({ focus: false });
  }
}

function onOutside(event) {
  if (openMenu && !openMenu.node.contains(event.target) && !openMenu.button.contains(event.target)) close({ focus: false });
}

function onScroll(event) {
  if (openMenu && !openMenu.node.contains(event.target)) close({ focus: false });
}

function close({ focus }) {
  if (!openMenu) return;
  const { button, node } = openMenu;
  openMenu = null;
  document.removeEventListener("pointerdown", onOutside, true);
  document.removeEventListener("scroll", onScroll, true);
  window.removeEventListener("resize", closeMenu);
  button.setAttribute("aria-expanded", "false");
  // Focus first: once the menu is gone the button may be hidden (a row's controls show while focus is inside).
  if (focus || node.contains(document.activeElement)) button.focus();
  node.remove();
}
