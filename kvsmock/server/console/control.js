// The emulator's controls: its clock (advance it to watch retention take effect), a reset of all
// state, and the recent-request log where the server has one (GET /_kvsmock/requests).

import { ApiError, control } from "./api.js";
import { dl, every, fill, formatDuration, formatTime, fromDatetimeLocal, h, toDatetimeLocal } from "./util.js";

export function clockChanged() {
  window.dispatchEvent(new Event("kvsmock-clock"));
}

export function controlView(root, { signal }) {
  const clockFacts = h("div");
  const clockStatus = h("p", { class: "hint", role: "status" });
  const amount = h("input", { id: "advance-amount", type: "number", value: "1", step: "any", class: "narrow" });
  const unit = h("select", { id: "advance-unit", "aria-label": "Unit" },
    h("option", { value: "1" }, "seconds"), h("option", { value: "60" }, "minutes"),
    h("option", { value: "3600", selected: true }, "hours"), h("option", { value: "86400" }, "days"));
  const setTo = h("input", { id: "set-clock", type: "datetime-local", step: "1" });

  async function move(body, what) {
    try {
      const state = await control("clock", body, { signal });
      clockStatus.textContent = `${what}: the emulator clock reads ${formatTime(state.now)}.`;
      clockChanged();
      showClock(state);
    } catch (error) {
      clockStatus.textContent = `The clock did not move: ${error}`;
    }
  }

  function showClock(state) {
    fill(clockFacts, dl([
      ["Emulator time", formatTime(state.now)],
      ["Ahead of the wall clock", state.offset ? formatDuration(state.offset) : "0 (follows the wall clock)"],
    ], { "aria-label": "Emulator clock" }));
    if (!setTo.value) setTo.value = toDatetimeLocal(state.now);
  }

  const clockCard = h("section", { class: "card", "aria-labelledby": "clock-h" },
    h("h2", { id: "clock-h" }, "Emulator clock"),
    h("p", { class: "hint" }, "Retention, session expiry and edge-configuration timeouts follow this clock. " +
      "Advance it to watch fragments older than a stream's retention disappear."),
    clockFacts,
    h("form", { class: "form-row", onsubmit: (e) => {
      e.preventDefault();
      move({ advance: Number(amount.value) * Number(unit.value) }, "Advanced");
    } },
    h("label", { for: "advance-amount" }, "Advance by"), amount, unit,
    h("button", { type: "submit", class: "primary" }, "Advance clock")),
    h("form", { class: "form-row", onsubmit: (e) => {
      e.preventDefault();
      const t = fromDatetimeLocal(setTo.value);
      if (Number.isFinite(t)) move({ set: t }, "Set");
    } },
    h("label", { for: "set-clock" }, "Set to"), setTo,
    h("button", { type: "submit" }, "Set clock"),
    h("button", { type: "button", onclick: () => move({ reset: true }, "Back to the wall clock") }, "Back to the wall clock")),
    clockStatus);

  // ---------------------------------------------------------------- reset
  const resetBox = h("div", { class: "form-row" });
  const resetStatus = h("p", { class: "hint", role: "status" });
  function askReset() {
    fill(resetBox,
      h("button", { type: "button", class: "danger", onclick: () => reset() }, "Delete every stream, channel and fragment"),
      h("button", { type: "button", onclick: () => fill(resetBox, resetButton) }, "Cancel"));
    resetBox.querySelector("button").focus();
  }
  const resetButton = h("button", { type: "button", class: "danger", onclick: askReset }, "Reset all state");
  fill(resetBox, resetButton);
  async function reset() {
    try {
      await control("reset", {}, { signal });
      resetStatus.textContent = "Reset: every account and region is empty, and the clock follows the wall clock again.";
      clockChanged();
    } catch (error) {
      resetStatus.textContent = `Reset failed: ${error}`;
    }
    fill(resetBox, resetButton);
  }
  const resetCard = h("section", { class: "card", "aria-labelledby": "reset-h" },
    h("h2", { id: "reset-h" }, "Reset"),
    h("p", { class: "hint" }, "POST /_kvsmock/reset: moto's reset (every service's state, kvsmock's included) and the clock back to the wall clock; " +
      "with --data-dir the directory is emptied too."),
    resetBox, resetStatus);

  // ---------------------------------------------------------------- request log
  const logBox = h("div", {}, h("p", { class: "hint" }, "Loading…"));
  const logCard = h("section", { class: "card wide", "aria-labelledby": "requests-h" },
    h("h2", { id: "requests-h" }, "Recent requests"), logBox);
  async function refreshLog() {
    let answer;
    try {
      answer = await control("requests?limit=100", undefined, { signal });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        fill(logBox, h("p", { class: "hint" }, "This server has no request log (GET /_kvsmock/requests)."));
        return;
      }
      throw error;
    }
    const entries = answer.requests || [];
    if (!entries.length) {
      fill(logBox, h("p", { class: "hint" }, "No requests logged yet."));
      return;
    }
    const columns = [
      ["Time", (e) => new Date(e.time * 1000).toLocaleTimeString()],
      ["Operation", (e) => e.operation],
      ["Stream or channel", (e) => e.resource ?? ""],
      ["Account / region", (e) => `${e.account} ${e.region}`],
      ["Status", (e) => String(e.status)],
      ["Error", (e) => e.error ?? ""],
      ["ms", (e) => e.duration_ms.toFixed(1)],
      ["In / out (bytes)", (e) => `${e.bytes_in} / ${e.bytes_out}`],
      ["Fault", (e) => (e.fault ? `${e.fault}: ${e.fault_effect}` : "")],
    ];
    fill(logBox, h("div", { class: "table-scroll" }, h("table", { class: "grid compact" },
      h("caption", {}, "Recent requests (newest first)"),
      h("thead", {}, h("tr", {}, columns.map(([name]) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, entries.map((e) => h("tr", e.fault ? { class: "faulted" } : {},
        columns.map(([, cell]) => h("td", {}, cell(e)))))))));
  }

  fill(root, h("h1", {}, "Control"), h("div", { class: "cards" }, clockCard, resetCard), logCard);
  every(2000, signal, async () => showClock(await control("clock", undefined, { signal })));
  every(5000, signal, refreshLog, (error) => fill(logBox, h("p", { class: "error" }, String(error))));
}
