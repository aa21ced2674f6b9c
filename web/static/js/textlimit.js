// A text field's length limit, shown rather than enforced by `maxlength` (which silently cuts a paste):
// a counter appears near the limit, and over it an error says by how much; the caller then sends nothing.

import { setMessage } from "./dom.js";

export const TITLE_MAX = 500; // domain/values.py TITLE_MAX
export const DESCRIPTION_MAX = 10_000; // domain/values.py DESCRIPTION_MAX
const NEAR = 0.9; // the counter shows from 90 % of the limit

/**
 * Watch `field` against `max`. `counter` and `error` are the elements to fill; `length()` measures what will be
 * sent (default: the field's text). Answers `check()`: updates both and returns true when within the limit.
 */
export function lengthLimit(field, { max, counter, error, what, length = () => field.value.trim().length }) {
  const check = () => {
    const n = length();
    const over = n > max;
    counter.textContent = n >= max * NEAR ? `${n.toLocaleString()} / ${max.toLocaleString()}` : "";
    counter.classList.toggle("over", over);
    setMessage(error, over ? `The ${what} is ${n.toLocaleString()} characters; the limit is ${max.toLocaleString()}. `
      + `Shorten it by ${(n - max).toLocaleString()} to save.` : "");
    if (over) field.setAttribute("aria-invalid", "true");
    else field.removeAttribute("aria-invalid");
    return !over;
  };
  field.addEventListener("input", check);
  return check;
}
