// The header's account controls: who is signed in and their timezone (a select that PATCHes /api/v1/me).

import { get, patch } from "./api.js";
import { byId, clear, el } from "./dom.js";
import { notify } from "./status.js";

let user = null;
let zonesFilled = false;
let changeHandler = () => {};

/** Wire the timezone select; `onTimezoneChange(zone)` runs after the server accepted a new zone. */
export function initAccount({ onTimezoneChange }) {
  changeHandler = onTimezoneChange;
  byId("timezone").addEventListener("change", onSelect);
}

/** Load the signed-in user and show them in the header. */
export async function loadAccount() {
  user = await get("/api/v1/me");
  byId("user-email").textContent = user.email;
  fillZones(user.timezone);
  return user;
}

/** The user's IANA timezone (UTC until known). */
export function userTimezone() {
  return user?.timezone || "UTC";
}

export function resetAccount() {
  user = null;
  byId("user-email").textContent = "";
}

function allZones() {
  let zones = [];
  try {
    zones = Intl.supportedValuesOf("timeZone");
  } catch {
    zones = [];
  }
  return zones;
}

function fillZones(current) {
  const select = byId("timezone");
  if (!zonesFilled) {
    clear(select);
    const zones = new Set(allZones());
    zones.add("UTC");
    for (const zone of [...zones].sort()) select.append(el("option", { value: zone }, zone));
    zonesFilled = true;
  }
  ensureOption(select, current);
  select.value = current;
}

function ensureOption(select, zone) {
  if ([...select.options].some((o) => o.value === zone)) return;
  select.prepend(el("option", { value: zone }, zone)); // a zone the browser does not list: still the account's
}

async function onSelect(event) {
  const select = event.target;
  const previous = userTimezone();
  const zone = select.value;
  if (zone === previous) return;
  select.disabled = true;
  try {
    user = await patch("/api/v1/me", { timezone: zone });
    notify(`Timezone set to ${user.timezone}.`);
    changeHandler(user.timezone);
  } catch (err) {
    select.value = previous;
    if (err.status !== 401) notify(`Could not change the timezone: ${err.detail || err.message}`, { error: true });
  } finally {
    select.disabled = false;
    ensureOption(select, userTimezone());
    select.value = userTimezone();
  }
}
