// Entry point: wires the views together and runs the session (sign in -> app, sign out -> sign-in view).

import { forgetSession, hasToken, onUnauthorized } from "./api.js";
import { initAccount, loadAccount, resetAccount } from "./account.js";
import { hideSignIn, initAuth, resumeSession, showSignIn, stopRenewal, whyEnded } from "./auth.js";
import { addNotification, initBell, loadBell, stopBell } from "./bell.js";
import { initChat, startChat, stopChat } from "./chat.js";
import { byId } from "./dom.js";
import { startLive, stopLive } from "./live.js";
import { loadProjects, refreshProjects } from "./projects.js";
import { notify } from "./status.js";
import { initTasks, reload as reloadTasks, scheduleReload, startTasks, stopTasks } from "./tasks.js";
import { initViews } from "./views.js";

let session = 0; // bumps on every sign in and sign out: work of an older session is dropped

async function signedIn() {
  const mine = ++session;
  try {
    await loadAccount();
    // The chat is ready (availability known, the latest conversation shown) before the page appears, so a
    // message typed at once goes to the right place.
    await startChat();
  } catch (err) {
    if (mine === session) forget();
    throw err;
  }
  if (mine !== session) return;
  hideSignIn();
  byId("app").hidden = false;
  byId("chat-input").focus();
  startLive({
    // The projects' open-task counts follow the task events.
    taskChanged: () => {
      scheduleReload();
      refreshProjects();
    },
    projectChanged: () => refreshProjects(), // added, renamed, archived or deleted elsewhere
    notification: (data) => addNotification(data),
    resync: () => {
      reloadTasks();
      loadProjects();
      loadBell();
    },
    connected: (first, resumed) => {
      notify("");
      if (!first && !resumed) {
        reloadTasks(); // reconnected without a position: events may have been missed
        loadProjects();
        loadBell();
      }
    },
    dropped: () => notify("Live updates interrupted; reconnecting…"),
    closed: () => notify("Live updates are off in this tab: too many tabs are open. Reload to turn them back on."),
  });
  await Promise.all([startTasks(), loadBell()]);
}

function forget() {
  stopLive();
  stopChat();
  stopTasks();
  stopBell();
  stopRenewal();
  resetAccount();
  forgetSession();
  notify("");
}

/** Sign out: stop the streams, abort a running turn, forget the token and what was shown. */
function signOut(message = "") {
  session++;
  forget();
  showSignIn(message);
}

function init() {
  initAuth({ onSignedIn: signedIn });
  initAccount({
    onTimezoneChange: () => {
      reloadTasks(); // due_local is rendered in the account's zone
      loadBell();
    },
  });
  initBell();
  initChat({ turnEnded: () => loadProjects() }); // project changes send the page no event of their own
  initTasks();
  initViews();
  byId("sign-out").addEventListener("click", () => signOut());
  onUnauthorized((err) => {
    if (hasToken()) signOut(whyEnded(err));
  });
  resumeSession(); // a reload stays signed in: the session cookie renews the access token
}

init();
