// Toasts: short messages at the bottom of the page, in an aria-live region, some with one action (Undo).
// A toast stays while the pointer or the keyboard focus is on it, so its button can always be reached.

import { byId, el } from "./dom.js";

const TOAST_MS = 8000;
const slots = new Map(); // key -> the toast shown for it (a newer one with the same key replaces it)

/**
 * Show `text` for about 8 s. `action` = {label, run, name} adds a button (`name` is its accessible label);
 * a toast with the same `key` replaces the previous one. Answers a function that closes the toast.
 */
export function toast(text, { action = null, key = null, error = false, timeout = TOAST_MS } = {}) {
  if (key && slots.has(key)) slots.get(key).close();
  const node = el("div", { class: error ? "toast error" : "toast" }, el("span", { class: "toast-text" }, text));
  let timer = null;
  const close = () => {
    clearTimeout(timer);
    node.remove();
    if (key && slots.get(key)?.node === node) slots.delete(key);
  };
  const wait = () => {
    clearTimeout(timer);
    timer = setTimeout(close, timeout);
  };
  if (action) {
    node.append(el("button", {
      type: "button", class: "toast-action", "aria-label": action.name || action.label,
      on: { click: () => { close(); action.run(); } },
    }, action.label));
  }
  node.append(el("button", { type: "button", class: "toast-close", "aria-label": "Dismiss", on: { click: close } }, "×"));
  for (const type of ["mouseenter", "focusin"]) node.addEventListener(type, () => clearTimeout(timer));
  node.addEventListener("mouseleave", () => { if (!node.contains(document.activeElement)) wait(); });
  node.addEventListener("focusout", (event) => { if (!node.contains(event.relatedTarget)) wait(); });
  byId("toasts").append(node);
  if (key) slots.set(key, { node, close });
  wait();
  return close;
}

/** Remove every toast (sign out). */
export function clearToasts() {
  for (const { close } of [...slots.values()]) close();
  byId("toasts").replaceChildren();
}
