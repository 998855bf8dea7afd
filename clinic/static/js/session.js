// Idle logoff without losing work. The server ends a session after IDLE_TIMEOUT_MINUTES without
// a request (clinic/auth/session_guard.py); this page counts the same time from its last request.
// The person's activity (a tap, a key, typing) pings the server, at most every quarter of the
// limit; no timer ever does. Before the limit a warning offers to keep the session; at the limit
// the page locks in place: an opaque sign-in over it, what was typed kept in the page (in memory,
// never in browser storage). Signing in there (GET then POST session-unlock-url) returns a fresh
// CSRF token, put into every form, and a save pressed meanwhile is sent then: its one-time key
// stores it once however often it is sent.
(function () {
  "use strict";
  const meta = (name) => document.querySelector(`meta[name="${name}"]`);
  const idleSeconds = Number(meta("idle-timeout-seconds")?.content);
  const pingUrl = meta("session-ping-url")?.content;
  const unlockUrl = meta("session-unlock-url")?.content;
  const warning = document.getElementById("idle-warning");
  const dialog = document.getElementById("session-lock");
  if (!idleSeconds || !pingUrl || !unlockUrl || !warning || !dialog) return;

  const idleMs = idleSeconds * 1000;
  const warnMs = Math.min(120_000, idleMs / 4);
  const pingEveryMs = Math.min(60_000, idleMs / 4);
  const lockForm = dialog.querySelector("form");
  const password = dialog.querySelector('input[name="password"]');
  const code = dialog.querySelector('input[name="code"]'); // whoever has a second factor
  const lockError = dialog.querySelector("#session-lock-error");
  const countdown = warning.querySelector(".idle-countdown");
  const loginLink = dialog.querySelector(".session-lock-other");
  let lastContact = Date.now(); // the last request of this page the server saw
  let locked = false;
  let pending = null; // {form, submitter}: a save pressed after the session ended

  function seen() {
    lastContact = Date.now();
  }

  function isSignInPage(url) {
    return new URL(url, window.location.href).pathname === new URL(loginLink.href).pathname;
  }

  function ping() {
    seen();
    fetch(pingUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": meta("csrf-token").content },
    })
      .then((response) => {
        // The server had ended the session (elsewhere, or its clock ran out first).
        if (response.redirected && isSignInPage(response.url)) lock();
      })
      .catch(() => {});
  }

  function activity() {
    if (locked) return;
    if (Date.now() - lastContact > pingEveryMs) ping();
    if (!warning.hidden) hideWarning();
  }

  function hideWarning() {
    warning.hidden = true;
  }

  function showWarning(secondsLeft) {
    const minutes = Math.floor(secondsLeft / 60);
    const seconds = String(secondsLeft % 60).padStart(2, "0");
    countdown.textContent = minutes ? `${minutes} min ${seconds} s` : `${secondsLeft} s`;
    warning.hidden = false;
  }

  function lock() {
    if (locked) return;
    locked = true;
    hideWarning();
    lockError.textContent = "";
    password.value = "";
    if (code) code.value = "";
    const here = window.location.pathname + window.location.search;
    loginLink.href = `${loginLink.href.split("?")[0]}?next=${encodeURIComponent(here)}`;
    dialog.showModal();
    password.focus();
  }

  function tick() {
    if (locked) return;
    const idle = Date.now() - lastContact;
    if (idle >= idleMs) lock();
    else if (idle >= idleMs - warnMs) showWarning(Math.ceil((idleMs - idle) / 1000));
    else if (!warning.hidden) hideWarning();
  }

  async function freshToken() {
    // A first answer may be the server ending the expired session (a redirect to the sign-in
    // page); the second is then the token of the new, signed-out one.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const response = await fetch(unlockUrl, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.ok && !response.redirected) return (await response.json()).csrf_token;
    }
    throw new Error("no sign-in token");
  }

  function unlocked(token) {
    meta("csrf-token").content = token;
    document.querySelectorAll('input[name$="csrf_token"]').forEach((input) => {
      input.value = token;
    });
    seen();
    locked = false;
    password.value = "";
    if (code) code.value = "";
    dialog.close();
    document.dispatchEvent(new CustomEvent("clinic:unlocked"));
    if (pending) {
      const { form, submitter } = pending;
      pending = null;
      if (form.isConnected) form.requestSubmit(submitter && submitter.form === form ? submitter : null);
    }
  }

  lockForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    lockError.textContent = "";
    try {
      const body = new FormData(lockForm);
      body.set("csrf_token", await freshToken());
      const response = await fetch(unlockUrl, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      const answer = await response.json().catch(() => ({}));
      if (response.ok && answer.csrf_token) {
        unlocked(answer.csrf_token);
        return;
      }
      lockError.textContent = answer.error || "Sign-in failed: check the password.";
      password.value = "";
      if (code) code.value = "";
      password.focus();
    } catch {
      lockError.textContent = "The clinic's server did not answer. Check the connection and try again.";
    }
  });
  // Escape must not close the lock.
  dialog.addEventListener("cancel", (event) => event.preventDefault());

  // A post once the session has ended would be refused and its content lost: lock first, send it
  // after the sign-in. Otherwise a post is a request the server sees.
  document.addEventListener(
    "submit",
    (event) => {
      if (event.target === lockForm) return;
      if (locked || Date.now() - lastContact >= idleMs) {
        event.preventDefault();
        event.stopImmediatePropagation();
        pending = { form: event.target, submitter: event.submitter };
        lock();
      } else {
        seen();
      }
    },
    true,
  );
  // A save sent by the page's script (chart.js) found the session ended on the server.
  document.addEventListener("clinic:session-ended", (event) => {
    event.preventDefault();
    pending = event.detail || null;
    lock();
  });
  document.addEventListener("clinic:server-seen", seen);

  ["pointerdown", "keydown", "input", "wheel"].forEach((type) =>
    document.addEventListener(type, activity, { passive: true, capture: true }),
  );
  // The tap itself is the activity (pointerdown, or the key that pressed it); this hides the bar.
  warning.querySelector(".idle-keep").addEventListener("click", () => {
    activity();
    hideWarning();
  });
  setInterval(tick, 1000);
  document.addEventListener("visibilitychange", tick);
})();
