// The one way to reach the server: JSON in and out, the bearer token, and problem+json errors.
// The access and refresh tokens live only in this module's memory (never in storage or cookies): a reload signs
// out. Forgetting a token whose session is still live ends that session on the server (POST /auth/logout).

let token = null;
let refresh = null;
let sessionLive = false; // does the server still hold the session of `token`?
let unauthorizedHandler = () => {};

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
}

/** Keep a new access token (and, when given, the session's new refresh token); null forgets both. */
export function setToken(value, refreshToken) {
  const previous = sessionLive ? token : null;
  token = value || null;
  if (refreshToken !== undefined) refresh = refreshToken || null;
  sessionLive = token !== null;
  if (token === null) {
    refresh = null;
    if (previous) endSession(previous);
  }
}

/** The current session's refresh token (null when signed out). */
export function refreshToken() {
  return refresh;
}

/** The server has already ended this session (e.g. "sign out everywhere"): forgetting it needs no logout. */
export function sessionEnded() {
  sessionLive = false;
}

/** Tell the page its session is over (a refused renewal): it signs out with `detail`. */
export function endedByServer(detail) {
  sessionLive = false;
  unauthorizedHandler(detail);
}

function endSession(previous) {
  // Fire and forget: the page is signed out either way; the server refuses the token from now on.
  fetch("/api/v1/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${previous}` }, cache: "no-store" })
    .catch(() => {});
}

export function hasToken() {
  return token !== null;
}

/** Called with a message whenever an authenticated request answers 401 (the session is over). */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

function headersFor({ auth = true, json = false, extra = {} } = {}) {
  const headers = { Accept: "application/json", ...extra };
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

/**
 * Send a request and answer the Response (2xx only); throws ApiError otherwise.
 * `auth: false` for register and login (their 401 means bad credentials, not an expired session).
 */
export async function send(path, { method = "GET", body, auth = true, signal, headers = {} } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headersFor({ auth, json: body !== undefined, extra: headers }),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "Cannot reach the server. Check your connection and try again.");
  }
  if (response.ok) return response;
  const error = await errorFrom(response);
  if (response.status === 401 && auth) endedByServer(error.detail);
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
