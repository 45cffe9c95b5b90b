// Small helpers shared by the console's views: building DOM, formatting numbers and times.

/** An element: h("a", {href: "#", class: "x", onclick: fn}, "text", child, [more]). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** Epoch seconds as local "YYYY-MM-DD HH:MM:SS.mmm". */
export function formatTime(seconds, { ms = true } = {}) {
  if (seconds === undefined || seconds === null || !Number.isFinite(seconds)) return "—";
  const d = new Date(Math.round(seconds * 1000));
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return ms ? `${text}.${pad(d.getMilliseconds(), 3)}` : text;
}

/** Epoch seconds as the value of a datetime-local input (local time, whole seconds). */
export function toDatetimeLocal(seconds) {
  const d = new Date(Math.floor(seconds) * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A datetime-local input's value as epoch seconds (NaN when empty or invalid). */
export function fromDatetimeLocal(value) {
  if (!value) return NaN;
  return new Date(value).getTime() / 1000;
}

/** The local time zone as "UTC+01:00". */
export function zoneName() {
  const offset = -new Date().getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return `UTC${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
}

export function formatBytes(bytes) {
  if (bytes === undefined || bytes === null) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export function formatCount(n) {
  return n === undefined || n === null ? "—" : Number(n).toLocaleString("en-US");
}

export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return "—";
  if (Math.abs(seconds) < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const s = Math.round(seconds);
  const parts = [];
  if (s >= 86400) parts.push(`${Math.floor(s / 86400)} d`);
  if (s >= 3600) parts.push(`${Math.floor((s % 86400) / 3600)} h`);
  parts.push(`${Math.floor((s % 3600) / 60)} min`);
  if (s < 3600) parts.push(`${s % 60} s`);
  return parts.join(" ");
}

export function formatUsd(value) {
  if (value === undefined || value === null) return "—";
  if (value === 0) return "$0";
  return value < 0.01 ? `$${value.toPrecision(3)}` : `$${value.toFixed(2)}`;
}

/** Retention hours as "24 h (1 d)"; 0 as "none". */
export function formatRetention(hours) {
  if (!hours) return "none (live only)";
  return hours % 24 === 0 && hours >= 48 ? `${hours} h (${hours / 24} d)` : `${hours} h`;
}

/** Resolves after ms milliseconds, or rejects when the signal aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason || new DOMException("aborted", "AbortError"));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal.reason || new DOMException("aborted", "AbortError"));
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export function isAbort(error) {
  return error && (error.name === "AbortError" || error.name === "Stopped");
}

/** Runs fn now and every ms until the signal aborts; a failing run is reported, not fatal. */
export function every(ms, signal, fn, onError = (e) => console.warn(e)) {
  let running = false;
  const tick = async () => {
    if (running || signal.aborted) return;
    running = true;
    try {
      await fn();
    } catch (error) {
      if (!isAbort(error)) onError(error);
    } finally {
      running = false;
    }
  };
  tick();
  const timer = setInterval(tick, ms);
  signal.addEventListener("abort", () => clearInterval(timer), { once: true });
  return tick;
}

/** A definition list from [term, value] pairs (value: text or node). */
export function dl(pairs, attrs = {}) {
  return h("dl", { class: "facts", ...attrs }, pairs.filter(Boolean).flatMap(([term, value]) => [
    h("dt", {}, term), h("dd", {}, value === undefined || value === null || value === "" ? "—" : value),
  ]));
}

/** The last part of an ARN (a KMS key's alias or id). */
export function shortArn(arn) {
  if (!arn) return "—";
  const tail = arn.split(":").slice(5).join(":");
  return tail || arn;
}

// A table cell with a Delete button that asks once more before it calls
// remove() (an async API call); a failure is shown in the cell as `${what} failed`.
export function deleteCell(name, what, remove) {
  const cell = h("td", { class: "actions" });
  const confirmed = async () => {
    try {
      await remove();
    } catch (error) {
      fill(cell, h("span", { class: "error" }, `${what} failed: ${error}`));
    }
  };
  const ask = h("button", { type: "button", class: "danger", "aria-label": `Delete ${name}`, onclick: () => {
    fill(cell,
      h("button", { type: "button", class: "danger", onclick: confirmed }, `Delete ${name} for good`),
      h("button", { type: "button", onclick: () => fill(cell, ask) }, "Cancel"));
    cell.querySelector("button").focus();
  } }, "Delete");
  return fill(cell, ask);
}
