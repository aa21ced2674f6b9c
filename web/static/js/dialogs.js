// Modal dialogs (the native <dialog>, so focus stays inside and Escape cancels): a title, a sentence, optional
// fields, and buttons. A dialog that saves something waits for the server and shows its refusal in place.

import { ApiError } from "./api.js";
import { el, setMessage } from "./dom.js";

let serial = 0;

/**
 * Show a dialog; answers the value of the button that closed it, or null (Cancel, Escape).
 * `buttons` = [{label, value, danger?}] (the first is the default, run by Enter); a Cancel button follows.
 * `submit(value)` runs first when given: when it answers a message or throws an ApiError, the dialog shows that
 * (or the error's detail) and stays open.
 * `focus`: the node to focus first (default: the first field, else the first button).
 */
export function modal({ title, text = "", content = [], buttons, cancel = "Cancel", submit = null, focus = null }) {
  const id = ++serial;
  const error = el("p", { class: "form-error", role: "alert", hidden: true });
  const actions = buttons.map((b, i) => el("button", {
    type: "submit", value: b.value, class: i === 0 ? (b.danger ? "primary danger-fill" : "primary") : "",
  }, b.label));
  const form = el("form", { class: "dialog-form", novalidate: true },
    el("h2", { id: `dialog-title-${id}` }, title),
    text ? el("p", { id: `dialog-text-${id}`, class: "dialog-text" }, text) : null,
    content, error,
    el("div", { class: "dialog-buttons" }, actions,
      el("button", { type: "button", class: "dialog-cancel", on: { click: () => finish(null) } }, cancel)));
  const dialog = el("dialog", { class: "dialog", "aria-labelledby": `dialog-title-${id}`,
    "aria-describedby": text ? `dialog-text-${id}` : undefined }, form);
  const opener = document.activeElement;
  let result = null;
  let resolve;
  const done = new Promise((r) => { resolve = r; });

  function finish(value) {
    result = value;
    dialog.close();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = event.submitter?.value ?? buttons[0].value;
    if (!submit) return finish(value);
    for (const b of actions) b.disabled = true;
    try {
      const problem = await submit(value);
      if (problem) setMessage(error, problem);
      else finish(value);
    } catch (err) {
      if (!(err instanceof ApiError)) console.error(err);
      setMessage(error, err instanceof ApiError ? err.detail : "Something went wrong; please try again.");
    } finally {
      for (const b of actions) b.disabled = false;
    }
  });
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
    resolve(result);
  });
  document.body.append(dialog);
  dialog.showModal();
  (focus || form.querySelector("input, select, textarea") || actions[0]).focus();
  return done;
}

/** Is a dialog open (keyboard shortcuts of the page wait)? */
export function dialogOpen() {
  return document.querySelector("dialog[open]") !== null;
}
