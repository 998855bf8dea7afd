// Time fields that mean "now" until corrected (see clinic/sessions/entry_time.py): mark the
// form when the person edits the time, and keep the shown time current while they have not.
(function () {
  "use strict";
  const loadedAt = Date.now();

  function advance(shown, elapsedMs) {
    // Wall-clock arithmetic on the clinic time the server rendered; no zone conversion.
    const [date, time] = shown.split("T");
    const [y, mo, d] = date.split("-").map(Number);
    const [h, mi] = time.split(":").map(Number);
    const t = new Date(Date.UTC(y, mo - 1, d, h, mi) + elapsedMs);
    const pad = (n) => String(n).padStart(2, "0");
    return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}` +
      `T${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}`;
  }

  document.querySelectorAll("input[data-default-now]").forEach((input) => {
    const form = input.form;
    const edited = form && form.querySelector('input[name$="time_edited"]');
    const shownField = form && form.querySelector('input[name$="time_shown"]');
    // No shown time: the field holds a recorded time (a discharge being corrected), not "now";
    // it must neither move nor be replaced by the time of saving.
    if (!edited || !shownField || !shownField.value) return;
    const shown = input.value;
    if (edited.value !== "true") {
      // A time typed before this script ran (a slow page) or restored by the browser is an
      // edit. Otherwise "false": this script follows the field, so the untouched time means
      // "now" at save, even when the wall-clock arithmetic below is off (summer time).
      edited.value = input.value !== input.defaultValue ? "true" : "false";
    }
    ["input", "change"].forEach((type) =>
      input.addEventListener(type, () => { edited.value = "true"; })
    );
    setInterval(() => {
      if (edited.value !== "true" && shown) input.value = advance(shown, Date.now() - loadedAt);
    }, 20_000);
  });
})();
