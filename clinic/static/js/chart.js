// The chart at the chair (templates/sessions/chart.html): saves confirmed where the nurse acted,
// and the frequent saves (a vitals set, a checklist item, a pain score) made in place.
//
// A form with data-parts="id id..." is posted by this script with the header X-Chart-Part; the
// server answers with the chart (clinic/sessions/chart.py), and the parts named are swapped in:
// one request, the scroll, the focus and whatever is typed in other forms left alone. Without
// this script the same forms post and redirect back (Post/Redirect/Get). After either, the row
// saved and the status by the form are brought into view below the pinned patient bar.
(function () {
  "use strict";
  const bar = () => document.getElementById("patient-bar");

  function barBottom() {
    const element = bar();
    return element ? element.getBoundingClientRect().bottom : 0;
  }

  function noteBarHeight() {
    const element = bar();
    if (element) {
      document.documentElement.style.setProperty(
        "--patient-bar-height",
        `${Math.ceil(element.getBoundingClientRect().height) + 8}px`,
      );
    }
  }

  // Scroll as little as needed for the elements to show between the patient bar and the
  // bottom of the screen; the first of them wins when they do not all fit. `low`: as far down
  // the screen as they go, so that what is above them (the flowsheet's newest rows, above the
  // vitals form) shows too.
  function reveal(elements, low = false) {
    const shown = elements.filter((element) => element && element.getClientRects().length);
    if (!shown.length) return;
    const rects = shown.map((element) => element.getBoundingClientRect());
    const top = Math.min(...rects.map((rect) => rect.top));
    const bottom = Math.max(...rects.map((rect) => rect.bottom));
    const least = barBottom() + 8;
    const most = window.innerHeight - 8;
    // "instant": Bootstrap makes scrolling smooth, and the nurse should not wait for it.
    if (top < least || bottom - top > most - least) {
      window.scrollBy({ top: top - least, behavior: "instant" });
    } else if (bottom > most || low) {
      window.scrollBy({ top: bottom - most, behavior: "instant" });
    }
  }

  function revealSaved(root) {
    const row = root.querySelector(".just-saved");
    const status = root.querySelector(".save-status");
    const focused = document.activeElement;
    const form = focused && focused.form && root.contains(focused.form) ? focused.form : null;
    reveal([row, status, form], form !== null && form.id === "monitoring-form");
  }

  function swapParts(ids, page) {
    const swapped = [];
    ids.forEach((id) => {
      const current = document.getElementById(id);
      const fresh = page.getElementById(id);
      if (!current || !fresh) return;
      // A choice of view (the flowsheet's columns) survives its part being replaced.
      const kept = [...current.querySelectorAll("input[data-keep-state]:checked")].map((i) => i.id);
      current.replaceWith(fresh);
      kept.forEach((keptId) => {
        const input = document.getElementById(keptId);
        if (input) input.checked = true;
      });
      swapped.push(fresh);
    });
    swapped.forEach((root) =>
      document.dispatchEvent(new CustomEvent("clinic:updated", { detail: { root } })),
    );
    return swapped;
  }

  function showUnsent(form) {
    form.querySelectorAll(".save-failed").forEach((element) => element.remove());
    const note = document.createElement("p");
    note.className = "save-status save-failed";
    note.setAttribute("role", "alert");
    note.textContent =
      "Not saved: the clinic's server did not answer. What you typed is still here; try again.";
    form.append(note);
    reveal([note]);
  }

  // A post refused as a whole (400) is most often a form token the session no longer knows (the
  // cookie lost, the session replaced): then the page's own request for the session fails too.
  async function sessionHolds() {
    const ping = document.querySelector('meta[name="session-ping-url"]')?.content;
    const token = document.querySelector('meta[name="csrf-token"]')?.content;
    if (!ping) return true;
    try {
      const answer = await fetch(ping, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": token },
      });
      return answer.ok && !answer.redirected;
    } catch {
      return true;
    }
  }

  async function postInPlace(form, submitter) {
    form.dataset.sending = "true";
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form, submitter),
        credentials: "same-origin",
        headers: { "X-Chart-Part": "1" },
      });
    } catch {
      delete form.dataset.sending;
      showUnsent(form);
      return;
    }
    delete form.dataset.sending;
    const signIn = document.querySelector('meta[name="login-url"]')?.content;
    const toSignIn = response.redirected && signIn && new URL(response.url).pathname === signIn;
    if (toSignIn || (response.status === 400 && !(await sessionHolds()))) {
      // The session had ended on the server: the lock (session.js) takes the save and sends it
      // again after the sign-in, with the new session's token; without it, the sign-in page.
      const ended = new CustomEvent("clinic:session-ended", {
        detail: { form, submitter },
        cancelable: true,
      });
      if (document.dispatchEvent(ended)) window.location.assign(signIn);
      return;
    }
    document.dispatchEvent(new CustomEvent("clinic:server-seen"));
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    if (response.status === 200 || response.status === 422) {
      // One confirmation on the page at a time: the last save's.
      document.querySelectorAll(".save-status").forEach((status) => status.remove());
      document.querySelectorAll(".just-saved").forEach((row) => row.classList.remove("just-saved"));
      const swapped = swapParts(form.dataset.parts.split(" "), page);
      const focus = swapped.map((root) => root.querySelector("[autofocus]")).find(Boolean);
      if (focus) focus.focus({ preventScroll: true });
      swapped.forEach(revealSaved);
      return;
    }
    // Anything else (the session signed meanwhile, a refusal of the whole request): the page as
    // the server answered it, its message at the top.
    const main = page.querySelector("main");
    if (main) {
      document.querySelector("main").replaceWith(main);
      document.dispatchEvent(new CustomEvent("clinic:updated", { detail: { root: main } }));
      window.scrollTo(0, 0);
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (event.defaultPrevented || !form.matches("form[data-parts]")) return;
    event.preventDefault();
    // A second tap while the first is on its way sends nothing more.
    if (form.dataset.sending) return;
    postInPlace(form, event.submitter);
  });

  noteBarHeight();
  window.addEventListener("resize", noteBarHeight);
  document.addEventListener("clinic:updated", noteBarHeight);
  // After the browser's own scrolling of a loaded page (to a #fragment, or to an autofocused
  // field), which may come as late as the load event or just after it: checked a few times,
  // each a no-op once what was saved is in view.
  function revealOnLoad() {
    noteBarHeight();
    const main = document.querySelector("main");
    if (main && (main.querySelector(".just-saved, .save-status") || document.activeElement?.form)) {
      revealSaved(main);
    }
  }
  window.addEventListener("load", () =>
    [0, 100, 400].forEach((delay) => setTimeout(revealOnLoad, delay)),
  );
})();
