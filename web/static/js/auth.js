// The sign-in view (log in, create an account), resuming the session on page load, the renewal of the access
// token (by the session cookie) before it expires, "Sign out everywhere", and the change-password form.

import {
  ApiError, adoptSession, endedByServer, onRenewed, post, renewSession, sessionEnded, sessionEndsAt,
} from "./api.js";
import { byId, setMessage } from "./dom.js";
import { notify } from "./status.js";

const RENEW_AT = 0.8; // renew at 80 % of the token's lifetime
const MIN_PASSWORD = 8;
const EXPIRED = "Your session expired; please sign in again.";
const ELSEWHERE = "You were signed out from another device.";

let renewTimer = null;
let signedInHandler = () => {};

/** Wire the sign-in form; `onSignedIn()` runs once a token is in memory. */
export function initAuth({ onSignedIn }) {
  signedInHandler = onSignedIn;
  onRenewed((answer) => scheduleRenewal(answer.expires_in));
  byId("auth-form").addEventListener("submit", (event) => {
    event.preventDefault();
    run(login);
  });
  byId("register-button").addEventListener("click", () => run(register));
  byId("sign-out-everywhere").addEventListener("click", signOutEverywhere);
  byId("password-toggle").addEventListener("click", () => showPasswordForm(byId("password-popover").hidden));
  byId("password-form").addEventListener("submit", (event) => {
    event.preventDefault();
    changePassword();
  });
}

/**
 * On page load: renew the session the cookie holds and go straight to the app, or show the sign-in form (saying
 * why, when this browser's session ended rather than was signed out).
 */
export async function resumeSession() {
  try {
    await renewSession();
  } catch (err) {
    showSignIn(err instanceof ApiError && err.status !== 401 ? err.detail : whyEnded(err, { onLoad: true }));
    return;
  }
  try {
    await signedInHandler();
  } catch (err) {
    showSignIn(messageFor(err));
  }
}

/**
 * Plain words for a session that is over (the ApiError of a refused renewal). On load, a browser that signed out
 * (or never signed in) gets no message.
 */
export function whyEnded(err, { onLoad = false } = {}) {
  const ends = sessionEndsAt();
  if (onLoad && ends === null) return "";
  const code = err instanceof ApiError ? err.code : "";
  if (code === "session_expired" || (ends !== null && Date.now() >= ends)) return EXPIRED;
  if (code === "session_ended") return ELSEWHERE;
  if (onLoad) return "";
  // The cookie is gone while this tab was signed in: another tab of this browser signed out.
  return ends === null ? "You signed out in another tab." : "Your session has ended. Please sign in again.";
}

/** Show the sign-in view (with an optional message, e.g. why the session ended). */
export function showSignIn(message = "") {
  byId("app").hidden = true;
  byId("auth").hidden = false;
  byId("password").value = "";
  byId("password-popover").hidden = true;
  setMessage(byId("auth-error"), message);
  setBusy(false);
  byId("email").focus();
}

export function hideSignIn() {
  byId("auth").hidden = true;
  setMessage(byId("auth-error"), "");
}

/** Keep the token fresh: renew at 80 % of its lifetime, then again for each new token. */
export function scheduleRenewal(expiresIn) {
  stopRenewal();
  const seconds = Number(expiresIn);
  if (!Number.isFinite(seconds) || seconds <= 0) return;
  renewTimer = setTimeout(renew, Math.max(5, seconds * RENEW_AT) * 1000);
}

export function stopRenewal() {
  clearTimeout(renewTimer);
  renewTimer = null;
}

async function renew() {
  renewTimer = null;
  try {
    await renewSession(); // schedules the next renewal (onRenewed)
  } catch (err) {
    if (err?.name === "AbortError") return; // signed out meanwhile
    // A refused renewal ends the session (signed out elsewhere, or too old); a network blip gets another try.
    if (err instanceof ApiError && err.status === 401) endedByServer(err);
    else renewTimer = setTimeout(renew, 30_000);
  }
}

/** End every session of the account (this page's too), then sign this page out. */
async function signOutEverywhere() {
  const button = byId("sign-out-everywhere");
  button.disabled = true;
  try {
    await post("/api/v1/auth/sessions/revoke");
    sessionEnded();
    byId("sign-out").click(); // the page's usual sign-out, without a logout call for the ended session
  } catch (err) {
    if (err.status !== 401) notify(`Could not sign out everywhere: ${err.detail || err.message}`, { error: true });
  } finally {
    button.disabled = false;
  }
}

function showPasswordForm(open) {
  byId("password-popover").hidden = !open;
  byId("password-toggle").setAttribute("aria-expanded", String(open));
  setMessage(byId("password-error"), "");
  byId("password-form").reset();
  if (open) byId("current-password").focus();
}

/** Change the password: every other session ends, and this page continues with the fresh session answered. */
async function changePassword() {
  const body = { current_password: byId("current-password").value, new_password: byId("new-password").value };
  if (body.new_password.length < MIN_PASSWORD) {
    setMessage(byId("password-error"), `Choose a password of at least ${MIN_PASSWORD} characters.`);
    return;
  }
  byId("password-submit").disabled = true;
  try {
    const answer = await post("/api/v1/auth/password", { ...body, session: "cookie" });
    adoptSession(answer);
    scheduleRenewal(answer.expires_in);
    showPasswordForm(false);
    notify("Password changed. Every other session was signed out.");
  } catch (err) {
    setMessage(byId("password-error"), err.status === 422 ? err.detail : messageFor(err));
  } finally {
    byId("password-submit").disabled = false;
  }
}

function credentials() {
  return { email: byId("email").value.trim(), password: byId("password").value };
}

function browserTimezone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

async function login() {
  const { email, password } = credentials();
  if (!email || !password) throw new ApiError(0, "Enter your email and password.");
  // The refresh token goes into an HttpOnly cookie (never into this script); the access token stays in memory.
  const answer = await post("/api/v1/auth/login", { email, password, session: "cookie" }, { auth: false });
  adoptSession(answer);
  scheduleRenewal(answer.expires_in);
  byId("password").value = "";
  await signedInHandler();
}

async function register() {
  const { email, password } = credentials();
  if (!email) throw new ApiError(0, "Enter an email address for the new account.");
  if (password.length < MIN_PASSWORD) throw new ApiError(0, `Choose a password of at least ${MIN_PASSWORD} characters.`);
  await post("/api/v1/auth/register", { email, password, timezone: browserTimezone() }, { auth: false });
  try {
    await login();
  } catch (err) {
    // Registering a taken email answers like a new account (so it reveals nothing); only the login tells.
    if (err instanceof ApiError && err.status === 401) {
      throw new ApiError(401, "Could not sign in. If this email already has an account, log in with its password.");
    }
    throw err;
  }
}

async function run(action) {
  setMessage(byId("auth-error"), "");
  setBusy(true);
  try {
    await action();
  } catch (err) {
    setMessage(byId("auth-error"), messageFor(err));
    setBusy(false);
  }
}

function messageFor(err) {
  if (!(err instanceof ApiError)) {
    console.error(err);
    return "Something went wrong. Please try again.";
  }
  if (err.status === 401) return err.detail || "Wrong email or password.";
  return err.detail;
}

function setBusy(busy) {
  byId("login-button").disabled = busy;
  byId("register-button").disabled = busy;
  byId("auth-form").setAttribute("aria-busy", String(busy));
}
