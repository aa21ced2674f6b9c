// The page's one live stream (GET /api/v1/stream): task changes, notifications, and resync, with reconnects
// that resume from the last event id.

import { ApiError, isAbort, send } from "./api.js";
import { jsonData, readEvents } from "./sse.js";

const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 15000;
const HEALTHY_MS = 10000; // a stream that stayed open this long starts the backoff over

let controller = null;
let lastEventId = "";
let timer = null;
let handlers = {};
let running = false;
let closedByServer = false; // the server ended this stream for a newer one (too many open): do not fight it

/**
 * Start the stream. `on` = {taskChanged(data), projectChanged(data), notification(data), resync(), connected(first), dropped(),
 * closed() (the server closed it for a newer one: no reconnect)}.
 */
export function startLive(on) {
  stopLive();
  handlers = on;
  running = true;
  lastEventId = "";
  connect(FIRST_BACKOFF_MS, true);
}

export function stopLive() {
  running = false;
  clearTimeout(timer);
  timer = null;
  if (controller) controller.abort();
  controller = null;
}

async function connect(backoff, first) {
  timer = null;
  if (!running) return;
  const mine = new AbortController();
  controller = mine;
  closedByServer = false;
  let openedAt = 0;
  try {
    const headers = { Accept: "text/event-stream" };
    if (lastEventId) headers["Last-Event-ID"] = lastEventId;
    const response = await send("/api/v1/stream", { headers, signal: mine.signal });
    openedAt = Date.now();
    handlers.connected?.(first, Boolean(lastEventId));
    lastEventId = await readEvents(response, dispatch, { lastEventId });
  } catch (err) {
    if (isAbort(err) || controller !== mine) return; // stopped on purpose
    if (err instanceof ApiError && err.status === 401) return; // the page signs out
    console.warn("live stream dropped", err.message || err);
  }
  if (!running || controller !== mine) return;
  // Reconnecting would in turn close the oldest stream of another tab, and so on for ever: stay closed.
  if (closedByServer) {
    handlers.closed?.();
    return;
  }
  handlers.dropped?.();
  // A stream that was open a while starts over at the first delay; failing ones wait longer each time.
  const wait = openedAt && Date.now() - openedAt >= HEALTHY_MS ? FIRST_BACKOFF_MS : backoff;
  timer = setTimeout(() => connect(Math.min(wait * 2, MAX_BACKOFF_MS), false), wait);
}

function dispatch(event) {
  if (event.id) lastEventId = event.id;
  const data = jsonData(event);
  switch (event.type) {
    case "task.changed":
      handlers.taskChanged?.(data);
      break;
    case "project.changed":
      handlers.projectChanged?.(data);
      break;
    case "notification":
      handlers.notification?.(data);
      break;
    case "resync":
      handlers.resync?.(data);
      break;
    case "closed":
      closedByServer = true;
      console.info("live stream closed by the server:", data?.reason);
      break;
    default:
      break;
  }
}
