// Idle logoff without losing work: typing keeps the session alive (a ping at most once a
// minute); when the idle limit passes with no activity, go to the sign-in page before the next
// form post would be refused and its content lost.
(function () {
  "use strict";
  const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content;
  const idleSeconds = Number(meta("idle-timeout-seconds"));
  const pingUrl = meta("session-ping-url");
  if (!idleSeconds || !pingUrl) return;
  let lastActivity = Date.now();
  let lastPing = Date.now();

  function ping() {
    lastPing = Date.now();
    fetch(pingUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": meta("csrf-token") },
    }).catch(() => {});
  }

  function activity() {
    lastActivity = Date.now();
    if (Date.now() - lastPing > 60_000) ping();
  }

  ["keydown", "input", "pointerdown"].forEach((type) =>
    document.addEventListener(type, activity, { passive: true })
  );
  setInterval(() => {
    if (Date.now() - lastActivity > idleSeconds * 1000) {
      const next = window.location.pathname + window.location.search;
      window.location.assign(`${meta("login-url")}?next=${encodeURIComponent(next)}`);
    }
  }, 15_000);
})();
