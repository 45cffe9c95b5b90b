// The console's shell: the header (account and region, the emulator clock), and a small router
// over the URL's fragment: #/streams, #/streams/<name>, #/channels, #/channels/<name>, #/control,
// each optionally followed by ?account=...&region=... (so a view's URL can be shared).

import { channelView, channelsView } from "./channels.js";
import { control, settings } from "./api.js";
import { controlView } from "./control.js";
import { streamView } from "./stream.js";
import { streamsView } from "./streams.js";
import { fill, formatDuration, formatTime, h } from "./util.js";

window.kvsConsole = { settings };

const REGIONS = [
  "us-east-1", "us-east-2", "us-west-2", "ca-central-1", "sa-east-1", "eu-west-1", "eu-west-2", "eu-west-3",
  "eu-central-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-northeast-2", "af-south-1",
];

const main = document.getElementById("main");
const accountInput = document.getElementById("account");
const regionInput = document.getElementById("region");
const clockText = document.getElementById("clock-now");
const clockOffset = document.getElementById("clock-offset");
let view = null; // {controller} of the view shown

function route() {
  const hash = location.hash.replace(/^#/, "") || "/streams";
  const [path, query] = hash.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query || "") };
}

/** A console URL fragment for `path`, keeping the account and region. */
export function link(path) {
  const query = new URLSearchParams();
  if (settings.account) query.set("account", settings.account);
  if (settings.region !== "us-east-1") query.set("region", settings.region);
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

function applyScope(query) {
  const saved = JSON.parse(localStorage.getItem("kvsmock-console-scope") || "{}");
  settings.account = query.get("account") ?? saved.account ?? "";
  settings.region = query.get("region") ?? saved.region ?? "us-east-1";
  accountInput.value = settings.account;
  regionInput.value = settings.region;
}

function render() {
  const { parts, query } = route();
  applyScope(query);
  view?.controller.abort();
  const controller = new AbortController();
  view = { controller };
  const context = { signal: controller.signal, link };
  const [section, name] = parts;
  for (const a of document.querySelectorAll("header nav a")) {
    if (a.dataset.section === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
    a.href = link(`#/${a.dataset.section}`);
  }
  main.replaceChildren();
  const where = settings.account ? `${settings.account} / ${settings.region}` : settings.region;
  if (section === "streams" && name) {
    document.title = `${name} · streams · kvsmock`;
    streamView(main, { ...context, name });
  } else if (section === "channels" && name) {
    document.title = `${name} · signaling channels · kvsmock`;
    channelView(main, { ...context, name });
  } else if (section === "channels") {
    document.title = `Signaling channels (${where}) · kvsmock`;
    channelsView(main, context);
  } else if (section === "control") {
    document.title = "Control · kvsmock";
    controlView(main, context);
  } else {
    document.title = `Streams (${where}) · kvsmock`;
    streamsView(main, context);
  }
}

function scopeChanged() {
  const account = accountInput.value.trim();
  const region = regionInput.value.trim() || "us-east-1";
  if (account && !/^\d{12}$/.test(account)) {
    accountInput.setCustomValidity("An account id is 12 digits.");
    accountInput.reportValidity();
    return;
  }
  accountInput.setCustomValidity("");
  settings.account = account;
  settings.region = region;
  localStorage.setItem("kvsmock-console-scope", JSON.stringify({ account, region }));
  const { parts } = route();
  const path = `#/${parts.map(encodeURIComponent).join("/") || "streams"}`;
  if (location.hash === link(path)) render();
  else location.hash = link(path);
}

document.getElementById("scope").addEventListener("submit", (event) => {
  event.preventDefault();
  scopeChanged();
});
accountInput.addEventListener("change", scopeChanged);
regionInput.addEventListener("change", scopeChanged);
window.addEventListener("hashchange", render);
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault(); // the URL's fragment is the router's
  main.focus();
});

// ------------------------------------------------------------------ header: clock and known scopes
let clock = null; // {now, offset, at}
async function pollClock(announce = true) {
  try {
    const state = await control("clock");
    if (announce && clock && Math.abs(state.offset - clock.offset) > 0.5) window.dispatchEvent(new Event("kvsmock-clock"));
    clock = { ...state, at: performance.now() };
  } catch {
    clock = null;
    clockText.textContent = "server unreachable";
  }
}

function showClock() {
  if (!clock) return;
  const now = clock.now + (performance.now() - clock.at) / 1000;
  clockText.textContent = formatTime(now, { ms: false });
  clockOffset.hidden = Math.abs(clock.offset) < 0.5;
  clockOffset.textContent = `${clock.offset >= 0 ? "+" : "−"}${formatDuration(Math.abs(clock.offset))}`;
  clockOffset.title = "The emulator clock is ahead of (or behind) the wall clock by this much.";
}

async function knownScopes() {
  const accounts = new Set();
  const regions = new Set(REGIONS);
  try {
    const report = await control("usage");
    for (const row of [...(report.Streams || []), ...(report.Channels || [])]) {
      if (row.AccountId) accounts.add(row.AccountId);
      if (row.Region) regions.add(row.Region);
    }
  } catch {
    // the lists stay as they are
  }
  fill(document.getElementById("accounts"), [...accounts].map((a) => h("option", { value: a })));
  fill(document.getElementById("regions"), [...regions].sort().map((r) => h("option", { value: r })));
}

pollClock();
setInterval(pollClock, 2000);
window.addEventListener("kvsmock-clock", () => pollClock(false)); // moved from this page: show it now
setInterval(showClock, 250);
knownScopes();
setInterval(knownScopes, 15000);
render();
