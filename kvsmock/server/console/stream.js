// A stream's page: the player, the fragment timeline, a clip download, usage and cost, and the
// stream's settings.

import { ApiError, kvs, onDataEndpoint, usage } from "./api.js";
import { FragmentIndex, FragmentTimeline } from "./fragments.js";
import { Player } from "./player.js";
import { streamFacts } from "./streams.js";
import {
  dl, every, fill, formatBytes, formatCount, formatDuration, formatTime, formatUsd, fromDatetimeLocal, h,
  toDatetimeLocal, zoneName,
} from "./util.js";

const LIVE_RECENT_S = 30;

export function streamView(root, { name, signal, link }) {
  const index = new FragmentIndex(name);
  const title = h("h1", {}, name);
  const crumbs = h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
    h("a", { href: link("#/streams") }, "Streams"), " › ", h("span", { "aria-current": "page" }, name));
  const problem = h("p", { class: "error", role: "alert", hidden: true });

  // ---------------------------------------------------------------- player
  const video = h("video", { muted: true, playsInline: true, class: "player-video", "aria-label": `Video of ${name}` });
  video.muted = true;
  const player = new Player(video, name, index);
  const timeline = new FragmentTimeline(index, { onPlay: (t) => player.replay(t) });
  const pause = h("button", { type: "button", onclick: () => (video.paused ? video.play() : video.pause()) }, "Pause");
  video.addEventListener("play", () => { pause.textContent = "Pause"; });
  video.addEventListener("pause", () => { pause.textContent = "Play"; });
  const startInput = h("input", { type: "datetime-local", step: "1", name: "start", id: "start-time", required: true,
    "aria-describedby": "start-time-hint" });
  const startForm = h("form", {
    class: "start-time",
    onsubmit: (event) => {
      event.preventDefault();
      const t = fromDatetimeLocal(startInput.value);
      if (Number.isFinite(t)) player.replay(t);
    },
  },
  h("label", { for: "start-time" }, "Start time"), startInput,
  h("button", { type: "submit" }, "Replay"),
  h("span", { id: "start-time-hint", class: "hint" }, `local time, ${zoneName()}`));
  const liveButton = h("button", { type: "button", class: "live", "aria-pressed": "false", onclick: () => player.live() }, "Live");
  const controls = h("div", { class: "controls", role: "group", "aria-label": "Playback" },
    liveButton,
    h("button", { type: "button", onclick: () => player.back(10) }, "Back 10 s"),
    pause,
    h("button", { type: "button", onclick: () => player.forward(10) }, "Forward 10 s"));
  const status = h("p", { class: "player-status", role: "status" }, "Stopped");
  const now = {
    mode: h("span"), fragment: h("span", { class: "mono", id: "now-fragment" }), fragmentStart: h("span"),
    frame: h("span", { id: "now-frame" }), lag: h("span", { id: "now-lag" }), first: h("span"), buffered: h("span"),
  };
  const nowPlaying = dl([
    ["Mode", now.mode],
    ["Fragment", now.fragment],
    ["Fragment start (producer)", now.fragmentStart],
    ["Frame on screen (producer)", now.frame],
    ["Lag behind producer", now.lag],
    ["First frame after", now.first],
    ["Buffered ahead", now.buffered],
  ], { "aria-label": "Now playing", class: "facts now-playing" });

  player.addEventListener("update", () => {
    const s = player.stats;
    status.textContent = s.status;
    liveButton.setAttribute("aria-pressed", String(s.mode === "live"));
    status.classList.toggle("error", Boolean(s.error));
    now.mode.textContent = { idle: "Stopped", live: "Live", replay: "Replay" }[s.mode];
    now.fragment.textContent = s.fragmentNumber || "—";
    now.fragmentStart.textContent = formatTime(s.fragmentStart);
    now.frame.textContent = formatTime(s.frameTime);
    now.lag.textContent = s.lag === null
      ? (s.mode === "replay" && s.frameTime !== null && index.newestEnd() !== null
        ? `replaying ${formatDuration(Math.max(0, index.newestEnd() - s.frameTime))} behind the newest fragment` : "—")
      : `${s.lag.toFixed(2)} s (last 10 s: mean ${s.lagAverage.toFixed(2)} s, max ${s.lagMax.toFixed(2)} s)`;
    now.first.textContent = s.firstFrameMs === null ? "—" : `${s.firstFrameMs} ms`;
    now.buffered.textContent = s.mode === "idle" ? "—" : `${s.buffered.toFixed(1)} s`;
    timeline.setPlaying(s.fragmentNumber, s.frameTime);
  });

  // ---------------------------------------------------------------- clip
  const clipStart = h("input", { type: "datetime-local", step: "1", id: "clip-start", oninput: () => { clipEdited = true; clipChanged(); } });
  const clipEnd = h("input", { type: "datetime-local", step: "1", id: "clip-end", oninput: () => { clipEdited = true; clipChanged(); } });
  const clipLink = h("a", { href: "#", class: "button-link", download: `${name}.mp4`, onclick: (e) => downloadClip(e) }, "Download clip");
  const clipStatus = h("p", { class: "hint", role: "status" });
  let clipEdited = false;
  let clipReady = null; // the range the link's blob holds
  const clipPanel = h("section", { class: "card", "aria-labelledby": "clip-h" },
    h("h2", { id: "clip-h" }, "Clip"),
    h("p", { class: "hint" }, `GetClip's MP4 of the fragments that start in the range (producer time, local ${zoneName()}).`),
    h("div", { class: "clip-range" },
      h("label", { for: "clip-start" }, "Clip start"), clipStart,
      h("label", { for: "clip-end" }, "Clip end"), clipEnd),
    h("div", { class: "form-row" },
      h("button", { type: "button", onclick: () => setClipRange("last") }, "Last 10 s"),
      h("button", { type: "button", onclick: () => setClipRange("playhead") }, "Around the playhead"),
      clipLink),
    clipStatus);

  function setClipRange(which) {
    const end = which === "playhead" && player.position() !== null ? player.position() + 5 : index.newestEnd();
    if (end === null) return;
    clipStart.value = toDatetimeLocal(end - 10);
    clipEnd.value = toDatetimeLocal(Math.ceil(end));
    clipEdited = which !== "last";
    clipChanged();
  }

  function clipRange() {
    return [fromDatetimeLocal(clipStart.value), fromDatetimeLocal(clipEnd.value)];
  }

  function clipChanged() {
    if (clipReady) {
      URL.revokeObjectURL(clipLink.href);
      clipLink.href = "#";
      clipReady = null;
    }
  }

  async function downloadClip(event) {
    const [start, end] = clipRange();
    const key = `${start}|${end}`;
    if (clipReady === key) return; // the link holds this clip: let the browser download it
    event.preventDefault();
    if (!(end > start)) {
      clipStatus.textContent = "Choose a clip start before its end.";
      return;
    }
    clipStatus.textContent = "Asking GetClip for the MP4…";
    try {
      const response = await onDataEndpoint(name, "GET_CLIP", "/getClip", {
        StreamName: name,
        ClipFragmentSelector: {
          FragmentSelectorType: "PRODUCER_TIMESTAMP",
          TimestampRange: { StartTimestamp: start, EndTimestamp: end },
        },
      }, { raw: true, signal });
      const blob = await response.blob();
      clipChanged();
      clipLink.href = URL.createObjectURL(blob);
      clipLink.download = `${name}-${toDatetimeLocal(start).replaceAll(":", "")}.mp4`;
      clipReady = key;
      clipStatus.textContent = `Clip ready: ${formatBytes(blob.size)} (${response.headers.get("Content-Type")}).`;
      clipLink.click();
    } catch (error) {
      clipStatus.textContent = `GetClip failed: ${error}`;
    }
  }

  // ---------------------------------------------------------------- usage and settings
  const usageBox = h("div", {}, h("p", { class: "hint" }, "Loading…"));
  const usagePanel = h("section", { class: "card", "aria-labelledby": "usage-h" },
    h("h2", { id: "usage-h" }, "Usage and cost"), usageBox);
  const detailsBox = h("div", {}, h("p", { class: "hint" }, "Loading…"));
  const detailsPanel = h("section", { class: "card", "aria-labelledby": "details-h" },
    h("h2", { id: "details-h" }, "Stream"), detailsBox);

  let arn = null;
  async function refreshDetails() {
    try {
      const info = (await kvs("/describeStream", { StreamName: name }, { signal })).StreamInfo;
      arn = info.StreamARN;
      problem.hidden = true;
      fill(title, name, " ", h("span", { class: `badge ${info.Status.toLowerCase()}` }, info.Status));
      const facts = await streamFacts(info, signal);
      fill(detailsBox, dl([
        ["ARN", h("span", { class: "mono" }, info.StreamARN)],
        ["Created", formatTime(info.CreationTime, { ms: false })],
        ["Version", h("span", { class: "mono" }, info.Version)],
        ["Device name", info.DeviceName],
        ...facts,
      ]));
    } catch (error) {
      if (error instanceof ApiError && error.type === "ResourceNotFoundException") {
        problem.textContent = `The stream ${name} does not exist in this account and region (deleted, or state reset).`;
        problem.hidden = false;
        player.stop();
      } else throw error;
    }
  }

  async function refreshUsage() {
    const report = await usage(signal);
    const row = (report.Streams || []).find((s) => (arn ? s.StreamARN === arn : s.StreamName === name && !s.Deleted));
    if (!row) {
      fill(usageBox, h("p", { class: "hint" }, "Nothing metered yet."));
      return;
    }
    fill(usageBox, dl([
      ["Ingested", `${formatBytes(row.IngestedBytes)} in ${formatCount(row.IngestedFragments)} fragments (billed ${formatBytes(row.BilledIngestedBytes)})`],
      ["Stored now", formatBytes(row.StoredBytes)],
      ["Stored so far", `${(row.StoredGBHours ?? 0).toPrecision(3)} GB-hours`],
      ["Consumed (GetMedia, clips)", formatBytes(row.ConsumedBytes)],
      ["Consumed (HLS/DASH)", formatBytes(row.ConsumedHlsDashBytes)],
      ["Estimated cost", h("strong", {}, formatUsd(row.CostUSD))],
    ], { "aria-label": "Usage" }), h("p", { class: "hint" }, `At the rates of /_kvsmock/usage (ingest $${report.Rates?.ingested_per_gb}/GB, ` +
      `storage $${report.Rates?.stored_per_gb_month}/GB-month).`));
  }

  // ---------------------------------------------------------------- layout
  fill(root,
    crumbs, title, problem,
    h("div", { class: "stream-grid" },
      h("section", { class: "card player-card", "aria-labelledby": "player-h" },
        h("h2", { id: "player-h" }, "Player"),
        h("div", { class: "video-box" }, video),
        controls, startForm, status, nowPlaying),
      h("section", { class: "card timeline-card", "aria-labelledby": "timeline-h" },
        h("h2", { id: "timeline-h" }, "Fragment timeline"), timeline.element)),
    h("div", { class: "cards" }, clipPanel, usagePanel, detailsPanel));

  let started = false;
  index.addEventListener("change", () => {
    const newest = index.newest();
    if (newest) {
      startInput.min = toDatetimeLocal(index.sorted[0].start);
      startInput.max = toDatetimeLocal(Math.ceil(newest.end));
      if (!startInput.value) startInput.value = toDatetimeLocal(Math.max(index.sorted[0].start, newest.end - 60));
      if (!clipEdited) setClipRange("last");
    }
    if (!started) {
      started = true;
      // Open in Live when a producer is sending (a fragment of the last 30 s), else wait for the user.
      if (newest && Date.now() / 1000 - newest.end < LIVE_RECENT_S) player.live();
      else status.textContent = newest ? "Press Live, Back 10 s or Replay from a start time." : "No fragments yet: press Live to wait for a producer.";
    }
  });
  const onClock = () => index.reload(signal).catch((e) => console.warn(e));
  window.addEventListener("kvsmock-clock", onClock);
  every(1000, signal, () => index.poll(signal), (e) => showProblem(e));
  every(5000, signal, refreshDetails, (e) => showProblem(e));
  every(5000, signal, refreshUsage, (e) => showProblem(e));

  function showProblem(error) {
    if (error instanceof ApiError && error.type === "ResourceNotFoundException") return;
    problem.textContent = String(error);
    problem.hidden = false;
  }

  window.kvsConsole.player = player;
  window.kvsConsole.fragments = index;
  signal.addEventListener("abort", () => {
    player.destroy();
    timeline.destroy();
    window.removeEventListener("kvsmock-clock", onClock);
    clipChanged();
    delete window.kvsConsole.player;
    delete window.kvsConsole.fragments;
  });
}
