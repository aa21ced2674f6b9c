// The bell: the unread notification count, and a panel listing unread reminders with "Mark read".

import { ApiError, get, post, withQuery } from "./api.js";
import { userTimezone } from "./account.js";
import { byId, clear, el, plural } from "./dom.js";
import { formatDue } from "./dates.js";

const LIMIT = 20;

let unread = 0;
let items = new Map(); // notification id -> notification (unread ones shown in the panel)
let loadSeq = 0;

export function initBell() {
  byId("bell").addEventListener("click", () => setOpen(byId("notifications").hidden));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !byId("notifications").hidden) {
      setOpen(false);
      byId("bell").focus();
    }
  });
  document.addEventListener("click", (event) => {
    const panel = byId("notifications");
    if (!panel.hidden && !panel.contains(event.target) && !byId("bell").contains(event.target)) setOpen(false);
  });
}

function setOpen(open) {
  byId("notifications").hidden = !open;
  byId("bell").setAttribute("aria-expanded", String(open));
  if (open) byId("notifications").querySelector("button.mark-read, h2")?.focus?.();
}

/** Load the unread notifications and their count. */
export async function loadBell() {
  const mine = ++loadSeq;
  try {
    const page = await get(withQuery("/api/v1/notifications", { unread: "true", limit: LIMIT }));
    if (mine !== loadSeq) return;
    items = new Map(page.data.map((n) => [n.id, n]));
    unread = page.count;
    render();
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) console.warn("notifications could not be loaded", err);
  }
}

/** A notification from the live stream: list it and count it at once. */
export function addNotification(notification, { announce = true } = {}) {
  if (!notification || items.has(notification.id) || notification.read_at) return;
  items = new Map([[notification.id, notification], ...items]);
  unread++;
  render();
  if (announce) byId("bell-status").textContent = `Reminder: ${notification.title}`;
}

export function stopBell() {
  loadSeq++;
  items = new Map();
  unread = 0;
  render();
  setOpen(false);
  byId("bell-status").textContent = "";
}

async function markRead(id, button) {
  button.disabled = true;
  try {
    await post(`/api/v1/notifications/${id}/read`);
    if (items.delete(id)) unread = Math.max(0, unread - 1);
    render();
    const next = byId("notifications").querySelector("button.mark-read");
    (next || byId("bell")).focus();
  } catch (err) {
    button.disabled = false;
    if (err instanceof ApiError && err.status === 404) {
      items.delete(id);
      render();
    }
  }
}

function render() {
  const badge = byId("bell-count");
  badge.textContent = String(unread);
  badge.hidden = unread === 0;
  byId("bell").setAttribute("aria-label", `Notifications: ${unread} unread`);
  byId("bell").classList.toggle("has-unread", unread > 0);
  const list = byId("notification-list");
  clear(list);
  for (const n of items.values()) list.append(item(n));
  byId("notifications-empty").hidden = items.size > 0;
  byId("notifications-summary").textContent = unread ? plural(unread, "unread reminder") : "";
}

function item(n) {
  const details = el("p", { class: "notification-when" }, dueText(n));
  if (n.late) details.append(" ", el("span", { class: "late" }, "late"));
  return el(
    "li",
    { class: "notification", dataset: { id: n.id } },
    el("div", { class: "notification-body" }, el("p", { class: "notification-title" }, n.title), details),
    el("button", { type: "button", class: "mark-read", "aria-label": `Mark read: ${n.title}`, on: { click: (e) => markRead(n.id, e.currentTarget) } }, "Mark read"),
  );
}

function dueText(n) {
  const due = formatDue(n, userTimezone());
  if (!due) return "Reminder";
  return n.due_at ? `Due ${due}` : `Due ${due} (all day)`;
}
