// Helpers shared by the task editor's fields: error slots, showing server values without overwriting what the
// user typed, Enter to save and Escape to cancel.

import { el } from "./dom.js";

let serial = 0; // ids that tie a field to its error message

/** An error message slot for `control`, announced when it appears. */
export function errorSlot(control) {
  const slot = el("p", { class: "field-error", id: `field-error-${++serial}`, role: "alert", hidden: true });
  if (control) control.setAttribute("aria-describedby", slot.id);
  return slot;
}

/** Show the server's value in a control unless the user has changed it (then they keep what they typed). */
export function sync(control, value) {
  if (control.shown === undefined || control.value === control.shown || control.value === value) control.value = value;
  control.shown = value;
}

/** Has the user changed the control since the server's value was shown? */
export function edited(control) {
  return control.value !== control.shown;
}

/** Escape in a changed field puts the shown value back (and so does not close the editor); then `after()`. */
export function escapeReverts(control, after = () => {}) {
  control.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !edited(control)) return;
    event.preventDefault();
    control.value = control.shown;
    after();
  });
}

/** Enter in `control` runs `fn` (instead of submitting or adding a line). */
export function onEnter(control, fn) {
  control.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      fn();
    }
  });
}

/** A visible label around a control (its accessible name), with optional extras such as a counter. */
export function labelled(text, control, ...extra) {
  return el("label", { class: "editor-field" }, el("span", { class: "field-label" }, text), control, ...extra);
}
