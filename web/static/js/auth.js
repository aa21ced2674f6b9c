// The sign-in view (log in, create an account) and the renewal of the access token before it expires.

import { ApiError, post, setToken } from "./api.js";
import { byId, setMessage } from "./dom.js";

const RENEW_AT = 0.8; // renew at 80 % of the token's lifetime
const MIN_PASSWORD = 8;

let renewTimer = null;
let signedInHandler = () => {};

/** Wire the sign-in form; `onSignedIn()` runs once a token is in memory. */
export function initAuth({ onSignedIn }) {
  signedInHandler = onSignedIn;
  byId("auth-form").addEventListener("submit", (event) => {
    event.preventDefault();
    run(login);
  });
  byId("register-button").addEventListener("click", () => run(register));
}

/** Show the sign-in view (with an optional message, e.g. why the session ended). */
export function showSignIn(message = "") {
  byId("app").hidden = true;
  byId("auth").hidden = false;
  byId("password").value = "";
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
    const answer = await post("/api/v1/auth/refresh");
    setToken(answer.access_token);
    scheduleRenewal(answer.expires_in);
  } catch (err) {
    // A 401 has already signed the page out (api.js); a network blip gets another try soon.
    if (err instanceof ApiError && err.status !== 401) renewTimer = setTimeout(renew, 30_000);
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
  const answer = await post("/api/v1/auth/login", { email, password }, { auth: false });
  setToken(answer.access_token);
  scheduleRenewal(answer.expires_in);
  byId("password").value = "";
  await signedInHandler();
}

async function register() {
  const { email, password } = credentials();
  if (!email) throw new ApiError(0, "Enter an email address for the new account.");
  if (password.length < MIN_PASSWORD) throw new ApiError(0, `Choose a password of at least ${MIN_PASSWORD} characters.`);
  await post("/api/v1/auth/register", { email, password, timezone: browserTimezone() }, { auth: false });
  await login();
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
