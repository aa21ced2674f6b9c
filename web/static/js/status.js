// A small, polite status line in the header for app-wide messages (timezone saved, live stream trouble).

import { byId } from "./dom.js";

let timer = null;

/** Show a short message; errors stay until replaced, other messages fade after a few seconds. */
export function notify(text, { error = false } = {}) {
  const node = byId("app-status");
  clearTimeout(timer);
  node.textContent = text;
  node.classList.toggle("error", error);
  node.hidden = !text;
  if (text && !error) timer = setTimeout(() => notify(""), 5000);
}
