// The one way to reach the server: JSON in and out, the bearer token, and problem+json errors.
// The access token lives only in this module's memory. The session's refresh token is an HttpOnly cookie the page
// never sees (sent only to /api/v1/auth): renewSession() trades it for a new access token, so a reload stays signed
// in. Every request carries X-Requested-With, which the server requires wherever the cookie is used.

const PAGE_HEADERS = { "X-Requested-With": "todo-agent" };
// When the signed-in session reaches its maximum age (not a credential): the browser drops the cookie then, and
// this is how a later visit can still say "your session expired". Absent once this browser signed out.
const SESSION_ENDS = "todo-agent.session-ends";

let token = null;
let sessionLive = false; // does the server still hold the session of `token`?
let unauthorizedHandler = () => {};
let renewedHandler = () => {};
let renewing = null; // the renewal in flight: every request that needs one waits for the same
let epoch = 0; // bumps whenever the token is forgotten: a renewal that started before is dropped

/** An error answer from the API (problem+json), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, detail, problem = {}) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.problem = problem;
    this.field = problem.field ?? problem.errors?.[0]?.field ?? null;
    this.retryAfter = null;
  }

  /** The problem's code, the last part of its type (e.g. "session_ended"); "" when it has none. */
  get code() {
    const type = typeof this.problem.type === "string" ? this.problem.type : "";
    return type.includes("/problems/") ? type.slice(type.lastIndexOf("/") + 1) : "";
  }
}

/** Start using a login answer (login, renewal, password change): its access token, and when its session ends. */
export function adoptSession(answer) {
  token = answer.access_token;
  sessionLive = true;
  const ends = Date.now() + Number(answer.refresh_expires_in) * 1000;
  try {
    if (Number.isFinite(ends)) localStorage.setItem(SESSION_ENDS, String(ends));
  } catch {
    // storage switched off: only the "expired" wording after a reload is lost
  }
}

/** Forget the access token; a session the server still holds is ended there (which clears the cookie). */
export function forgetSession() {
  const live = sessionLive && token !== null;
  token = null;
  sessionLive = false;
  epoch++;
  try {
    localStorage.removeItem(SESSION_ENDS);
  } catch {
    // storage switched off
  }
  if (live) endSession();
}

/** When this browser's session reaches its maximum age (ms since the epoch), or null once signed out. */
export function sessionEndsAt() {
  let value = null;
  try {
    value = localStorage.getItem(SESSION_ENDS);
  } catch {
    value = null;
  }
  return value === null || !Number.isFinite(Number(value)) ? null : Number(value);
}

/** The server has already ended this session (e.g. "sign out everywhere"): forgetting it needs no logout. */
export function sessionEnded() {
  sessionLive = false;
}

/** Tell the page its session is over (a refused renewal, the ApiError saying why): it signs out. */
export function endedByServer(error) {
  sessionLive = false;
  unauthorizedHandler(error);
}

function endSession() {
  // Fire and forget, by the cookie alone (the access token may have run out): the page is signed out either way.
  fetch("/api/v1/auth/logout", { method: "POST", headers: { ...PAGE_HEADERS }, cache: "no-store" }).catch(() => {});
}

/**
 * Trade the session cookie for a new access token (the server rotates the cookie). Concurrent callers share one
 * request. Answers the login answer; throws the ApiError of a refusal (401: the session is over) or a network
 * failure, or an AbortError when the page signed out meanwhile.
 */
export function renewSession() {
  if (!renewing) {
    renewing = renewOnce().finally(() => {
      renewing = null;
    });
  }
  return renewing;
}

async function renewOnce() {
  const mine = epoch;
  const response = await reach("/api/v1/auth/refresh", { method: "POST", headers: headersFor({ auth: false }) });
  if (!response.ok) throw await errorFrom(response);
  const answer = await response.json();
  if (mine !== epoch) throw new DOMException("signed out while renewing", "AbortError");
  adoptSession(answer);
  renewedHandler(answer);
  return answer;
}

export function hasToken() {
  return token !== null;
}

/** Called with the ApiError whenever the session turns out to be over (a renewal was refused). */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/** Called with the login answer of every renewal, whoever asked for it (to schedule the next one). */
export function onRenewed(handler) {
  renewedHandler = handler;
}

function headersFor({ auth = true, json = false, extra = {} } = {}) {
  const headers = { Accept: "application/json", ...PAGE_HEADERS, ...extra };
  if (json) headers["Content-Type"] = "application/json";
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

/** Build "/api/v1/tasks?status=open&tag=a&tag=b" from a path and params (arrays repeat, empty values drop). */
export function withQuery(path, params = {}) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) if (v !== undefined && v !== null && v !== "") search.append(key, String(v));
  }
  const qs = search.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Turn a non-2xx response into an ApiError (reading problem+json when the body is one). */
export async function errorFrom(response) {
  let problem = {};
  try {
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("json")) problem = await response.json();
  } catch {
    problem = {};
  }
  const detail = describeProblem(problem) || `${response.status} ${response.statusText || "error"}`.trim();
  const error = new ApiError(response.status, detail, problem);
  const retry = Number(response.headers.get("Retry-After"));
  if (Number.isFinite(retry) && retry > 0) error.retryAfter = retry;
  return error;
}

function describeProblem(problem) {
  if (typeof problem.detail === "string" && problem.detail) return problem.detail;
  // FastAPI's own validation shape ({detail: [{msg}]}) or a list of field errors.
  if (Array.isArray(problem.detail)) return problem.detail.map((d) => d.msg || String(d)).join("; ");
  if (Array.isArray(problem.errors) && problem.errors.length) return problem.errors.map((e) => e.message).join("; ");
  return typeof problem.title === "string" ? problem.title : "";
}

async function reach(path, init) {
  try {
    return await fetch(path, { cache: "no-store", ...init });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "Cannot reach the server. Check your connection and try again.");
  }
}

/**
 * Send a request and answer the Response (2xx only); throws ApiError otherwise. A 401 first renews the access
 * token once (it may have run out while the computer slept) and retries; a refused renewal signs the page out.
 * `auth: false` for register and login (their 401 means bad credentials, not an expired session).
 */
export async function send(path, { method = "GET", body, auth = true, signal, headers = {} } = {}) {
  const attempt = () => reach(path, {
    method,
    headers: headersFor({ auth, json: body !== undefined, extra: headers }),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  const used = token;
  let response = await attempt();
  if (response.status === 401 && auth && used !== null) {
    try {
      if (token === used) await renewSession(); // else another request renewed it meanwhile
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) endedByServer(err);
      throw err;
    }
    response = await attempt();
  }
  if (response.ok) return response;
  const error = await errorFrom(response);
  if (response.status === 401 && auth) endedByServer(error);
  throw error;
}

/** A JSON request: answers the parsed body (or null for an empty one). */
export async function api(path, options = {}) {
  const response = await send(path, options);
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path, options) => api(path, { ...options, method: "GET" });
export const post = (path, body, options) => api(path, { ...options, method: "POST", body });
export const patch = (path, body, options) => api(path, { ...options, method: "PATCH", body });

/** Is this the error of an aborted fetch (Stop, sign out)? */
export function isAbort(err) {
  return err?.name === "AbortError";
}
