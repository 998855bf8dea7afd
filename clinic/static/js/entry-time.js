// Charted times (templates/macros/forms.html `time_control`; clinic/sessions/entry_time.py).
// A field that means "now" until corrected keeps showing the current time while untouched, and
// any edit marks the form (`time_edited`). Now sets the clinic's current time; on a field that
// means "now" it makes it mean now again (stamped when saved).
(function () {
  "use strict";
  const pad = (n) => String(n).padStart(2, "0");

  function advance(shown, elapsedMs) {
    // Wall-clock arithmetic on the clinic time the server rendered; no zone conversion.
    const [date, time] = shown.split("T");
    const [y, mo, d] = date.split("-").map(Number);
    const [h, mi] = time.split(":").map(Number);
    const t = new Date(Date.UTC(y, mo - 1, d, h, mi) + elapsedMs);
    return (
      `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}` +
      `T${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}`
    );
  }

  function setup(control) {
    if (control.dataset.timeReady) return;
    control.dataset.timeReady = "true";
    const loadedAt = Date.now();
    const dateInput = control.querySelector(".time-date");
    const timeInput = control.querySelector(".time-hhmm");
    const nowButton = control.querySelector(".time-now");
    const form = control.closest("form");
    const clinicNow = () => advance(control.dataset.now, Date.now() - loadedAt);
    const show = (value) => {
      [dateInput.value, timeInput.value] = value.split("T");
    };
    const edited = form && form.querySelector('input[name$="time_edited"]');
    const shownField = form && form.querySelector('input[name$="time_shown"]');
    // No shown time: the field holds a recorded time (a discharge being corrected), not "now";
    // it must neither move nor be replaced by the time of saving.
    const meansNow =
      control.hasAttribute("data-default-now") && edited && shownField && shownField.value;

    if (meansNow) {
      if (edited.value !== "true") {
        // A time typed before this script ran (a slow page) or restored by the browser is an
        // edit. Otherwise "false": this script follows the field, so the untouched time means
        // "now" at save, even when the wall-clock arithmetic is off (summer time).
        const typed =
          dateInput.value !== dateInput.defaultValue || timeInput.value !== timeInput.defaultValue;
        edited.value = typed ? "true" : "false";
      }
      const shown = `${dateInput.value}T${timeInput.value}`;
      const follow = setInterval(() => {
        if (!control.isConnected) clearInterval(follow);
        else if (edited.value !== "true") show(advance(shown, Date.now() - loadedAt));
      }, 20_000);
    }
    [dateInput, timeInput].forEach((input) =>
      ["input", "change"].forEach((type) =>
        input.addEventListener(type, () => {
          if (meansNow) edited.value = "true";
        }),
      ),
    );
    // A time typed with no date: today's.
    timeInput.addEventListener("change", () => {
      if (timeInput.value && !dateInput.value) dateInput.value = clinicNow().split("T")[0];
    });
    if (nowButton) {
      nowButton.hidden = false;
      nowButton.addEventListener("click", () => {
        show(clinicNow());
        if (meansNow) edited.value = "false";
      });
    }
  }

  const setupAll = (root) => root.querySelectorAll("[data-time-control]").forEach(setup);
  setupAll(document);
  document.addEventListener("clinic:updated", (event) => setupAll(event.detail?.root || document));
})();
