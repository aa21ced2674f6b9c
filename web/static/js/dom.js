// Small DOM helpers. Everything that carries user or server data goes through textContent, never innerHTML.

/** The element with this id (throws when the page lacks it: a wiring mistake, not a runtime condition). */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing element #${id}`);
  return node;
}

/**
 * Create an element: el("button", {class: "x", type: "button", dataset: {id: 1}, on: {click: fn}}, "text", child).
 * Attribute values are set with setAttribute/properties; string children become text nodes.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "on") for (const [type, fn] of Object.entries(value)) node.addEventListener(type, fn);
    else if (key === "text") node.textContent = value;
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Remove every child of a node. */
export function clear(node) {
  node.replaceChildren();
}

/** Show or hide a node with the hidden attribute (the stylesheet makes [hidden] win over any display rule). */
export function show(node, visible = true) {
  node.hidden = !visible;
}

/** Set a message element's text and hide it when empty. */
export function setMessage(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

/** A function that runs `fn` once, `ms` after the last call. `.cancel()` drops a pending call. */
export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      fn(...args);
    }, ms);
  };
  wrapped.cancel = () => {
    clearTimeout(timer);
    timer = null;
  };
  return wrapped;
}

/** Shorten text to at most `max` characters, ending with an ellipsis when cut. */
export function truncate(text, max) {
  const s = String(text);
  return s.length <= max ? s : `${s.slice(0, Math.max(0, max - 1))}…`;
}

/** "1 task", "3 tasks". */
export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Is the user near the bottom of a scrolling element (so new content should keep it pinned)? */
export function nearBottom(node, slack = 48) {
  return node.scrollHeight - node.scrollTop - node.clientHeight <= slack;
}
