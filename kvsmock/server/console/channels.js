// Signaling channels: the table named "Signaling channels" with create and delete, and a
// channel's page, where the browser joins the channel as master (its camera) or viewer through
// kvsmock's signaling, shows the connection's state and stats, and starts a storage session.

import { ApiError, kvs, listAll, signalingEndpoints } from "./api.js";
import { Peer, signalingUrl } from "./peer.js";
import { deleteCell, dl, every, fill, formatBytes, formatCount, formatTime, h } from "./util.js";

async function channelExtras(info, signal) {
  const [tags, storage] = await Promise.all([
    kvs("/ListTagsForResource", { ResourceARN: info.ChannelARN }, { signal }).catch(() => ({})),
    kvs("/describeMediaStorageConfiguration", { ChannelARN: info.ChannelARN }, { signal }).catch(() => ({})),
  ]);
  return { tags: tags.Tags || {}, storage: storage.MediaStorageConfiguration || null };
}

function tagsText(tags) {
  const entries = Object.entries(tags || {});
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(", ") : "—";
}

function storageText(config) {
  if (!config) return "—";
  if (config.Status !== "ENABLED") return config.Status;
  return `ENABLED → ${(config.StreamARN || "").split("/")[1] || config.StreamARN}`;
}

/** The media storage setting, with a link to the stream's page when it is on. */
function storageFact(config, link) {
  const stream = config && config.Status === "ENABLED" ? (config.StreamARN || "").split("/")[1] : null;
  if (!stream) return storageText(config);
  return h("span", {}, "ENABLED → ", h("a", { href: link(`#/streams/${encodeURIComponent(stream)}`) }, stream));
}

export function channelsView(root, { signal, link }) {
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const tbody = h("tbody");
  const summary = h("p", { class: "summary", "aria-live": "polite" });
  const table = h("table", { class: "grid" },
    h("caption", {}, "Signaling channels"),
    h("thead", {}, h("tr", {}, ["Name", "Status", "Type", "Message TTL", "Created", "Media storage", "Tags", ""]
      .map((c) => h("th", { scope: "col" }, c)))),
    tbody);

  const createForm = h("form", { class: "create", onsubmit: (e) => create(e) },
    h("div", { class: "form-row" },
      h("label", { for: "new-channel-name" }, "Channel name"),
      h("input", { id: "new-channel-name", name: "name", required: true, pattern: "[a-zA-Z0-9_.\\-]+", maxlength: 256, autocomplete: "off" }),
      h("label", { for: "new-channel-ttl" }, "Message TTL (s)"),
      h("input", { id: "new-channel-ttl", name: "ttl", type: "number", min: 5, max: 120, value: "60", class: "narrow" }),
      h("button", { type: "submit", class: "primary" }, "Create channel")),
    h("p", { class: "hint", role: "status" }));

  async function create(event) {
    event.preventDefault();
    const form = new FormData(createForm);
    const status = createForm.querySelector("[role=status]");
    const name = String(form.get("name")).trim();
    try {
      await kvs("/createSignalingChannel", {
        ChannelName: name,
        ChannelType: "SINGLE_MASTER",
        SingleMasterConfiguration: { MessageTtlSeconds: Number(form.get("ttl") || 60) },
      }, { signal });
      status.textContent = `Created ${name}.`;
      createForm.reset();
      refresh();
    } catch (error) {
      status.textContent = `CreateSignalingChannel failed: ${error}`;
    }
  }

  function removeCell(info) {
    return deleteCell(info.ChannelName, "DeleteSignalingChannel", async () => {
      await kvs("/deleteSignalingChannel", { ChannelARN: info.ChannelARN, CurrentVersion: info.Version }, { signal });
      refresh();
    });
  }

  const rows = new Map();
  const extrasCache = new Map(); // ARN + version -> {at, extras}: tags and storage, looked up every 15 s

  async function cachedExtras(info) {
    const key = `${info.ChannelARN}|${info.Version}`;
    const known = extrasCache.get(key);
    if (known && performance.now() - known.at < 15000) return known.extras;
    const extras = await channelExtras(info, signal);
    extrasCache.set(key, { at: performance.now(), extras });
    return extras;
  }

  async function refresh() {
    const channels = await listAll("/listSignalingChannels", { MaxResults: 10000 }, "ChannelInfoList", { signal });
    problem.hidden = true;
    channels.sort((a, b) => a.ChannelName.localeCompare(b.ChannelName));
    summary.textContent = channels.length
      ? `${formatCount(channels.length)} signaling channel${channels.length > 1 ? "s" : ""}`
      : "No signaling channels in this account and region yet.";
    const details = await Promise.all(channels.slice(0, 200).map(async (info) => ({ info, extras: await cachedExtras(info) })));
    const seen = new Set();
    const trs = details.map(({ info, extras }) => {
      seen.add(info.ChannelARN);
      const key = JSON.stringify([info, extras]);
      const known = rows.get(info.ChannelARN);
      if (known && known.key === key) return known.tr;
      const tr = h("tr", {},
        h("th", { scope: "row" }, h("a", { href: link(`#/channels/${encodeURIComponent(info.ChannelName)}`) }, info.ChannelName)),
        h("td", {}, h("span", { class: `badge ${info.ChannelStatus.toLowerCase()}` }, info.ChannelStatus)),
        h("td", {}, info.ChannelType),
        h("td", {}, `${info.SingleMasterConfiguration?.MessageTtlSeconds ?? "—"} s`),
        h("td", {}, formatTime(info.CreationTime, { ms: false })),
        h("td", {}, storageText(extras.storage)),
        h("td", {}, tagsText(extras.tags)),
        removeCell(info));
      rows.set(info.ChannelARN, { key, tr });
      return tr;
    });
    for (const key of extrasCache.keys()) if (!seen.has(key.split("|")[0])) extrasCache.delete(key);
    for (const arn of rows.keys()) if (!seen.has(arn)) rows.delete(arn);
    fill(tbody, trs.length ? trs : h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No signaling channels.")));
  }

  fill(root,
    h("h1", {}, "Signaling channels"),
    problem,
    h("details", { class: "card create-card" }, h("summary", {}, "Create a signaling channel"), createForm),
    summary,
    h("div", { class: "table-scroll" }, table));
  every(3000, signal, refresh, (error) => {
    problem.textContent = error instanceof ApiError ? `Could not list signaling channels: ${error}` : String(error);
    problem.hidden = false;
  });
}

// ---------------------------------------------------------------------- a channel's page
export function channelView(root, { name, signal, link }) {
  let info = null;
  let peer = null;
  let extras = { tags: {}, storage: null };
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const title = h("h1", {}, name);
  const facts = h("div", {}, h("p", { class: "hint" }, "Loading…"));

  // ---------------------------------------------------------------- peer
  const clientId = h("input", { id: "viewer-client-id", value: `console-viewer-${Math.random().toString(36).slice(2, 8)}`, class: "narrow-wide" });
  const startMaster = h("button", { type: "button", class: "primary", onclick: () => join("MASTER") }, "Start master (camera)");
  const startViewer = h("button", { type: "button", class: "primary", onclick: () => join("VIEWER") }, "Connect as viewer");
  const disconnect = h("button", { type: "button", disabled: true, onclick: () => leave() }, "Disconnect");
  const localVideo = h("video", { muted: true, autoplay: true, playsInline: true, "aria-label": "Camera (sent)" });
  const remoteVideo = h("video", { muted: true, autoplay: true, playsInline: true, "aria-label": "Remote video (received)" });
  localVideo.muted = true;
  remoteVideo.muted = true;
  const localFigure = h("figure", { hidden: true }, localVideo, h("figcaption", {}, "Camera: what this master sends"));
  const remoteFigure = h("figure", { hidden: true }, remoteVideo, h("figcaption", {}, "Remote video: what this viewer receives"));
  const peerState = h("div", {}, dl([["Role", "not connected"]], { "aria-label": "Connection" }));
  const statsBody = h("tbody");
  const statsTable = h("table", { class: "grid compact" },
    h("caption", {}, "Peer connections"),
    h("thead", {}, h("tr", {}, ["Remote", "Connection", "ICE", "Candidates", "RTT", "Codec", "Frames", "FPS",
      "Resolution", "Bytes"].map((c) => h("th", { scope: "col" }, c)))),
    statsBody);
  const log = h("pre", { class: "log", "aria-label": "Signaling log", tabindex: 0 });
  const peerStatus = h("p", { class: "hint", role: "status" });

  async function join(role) {
    leave();
    if (!info) await refresh();
    if (!info) return;
    peerStatus.textContent = role === "MASTER" ? "Opening the camera…" : "Connecting…";
    try {
      const protocols = ["WSS", "HTTPS"];
      const endpoints = await signalingEndpoints(info.ChannelARN, role, protocols);
      const viewerId = role === "VIEWER" ? clientId.value.trim() : null;
      const ice = await fetchIceServers(endpoints.HTTPS, viewerId);
      let localStream = null;
      if (role === "MASTER") {
        localStream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true })
          .catch(() => navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } }));
        localVideo.srcObject = localStream;
      }
      peer = new Peer({ role, wsUrl: signalingUrl(endpoints.WSS, info.ChannelARN, viewerId), iceServers: ice, localStream, clientId: viewerId });
      window.kvsConsole.peer = peer;
      peer.addEventListener("change", () => showPeer());
      await peer.open();
      peerStatus.textContent = role === "MASTER"
        ? "Master connected: viewers (and a storage session) can connect now."
        : "Viewer connected: offer sent to the master.";
      disconnect.disabled = false;
      showPeer();
    } catch (error) {
      peerStatus.textContent = `Could not join as ${role.toLowerCase()}: ${error}`;
      leave(false);
    }
  }

  async function fetchIceServers(httpsEndpoint, viewerId) {
    let endpoint = httpsEndpoint;
    if (location.protocol === "http:") endpoint = endpoint.replace(/^https:/, "http:");
    const body = { ChannelARN: info.ChannelARN, Service: "TURN" };
    if (viewerId) body.ClientId = viewerId;
    const answer = await kvs("/v1/get-ice-server-config", body, { endpoint, signal });
    return (answer.IceServerList || []).map((s) => ({ urls: s.Uris, username: s.Username, credential: s.Password }));
  }

  function leave(clearStatus = true) {
    if (peer) peer.close();
    peer = null;
    delete window.kvsConsole.peer;
    for (const v of [localVideo, remoteVideo]) {
      v.srcObject?.getTracks?.().forEach((t) => { if (v === localVideo) t.stop(); });
      v.srcObject = null;
    }
    disconnect.disabled = true;
    if (clearStatus) peerStatus.textContent = "";
    showPeer();
  }

  function showPeer() {
    if (!peer) {
      localFigure.hidden = remoteFigure.hidden = true;
      fill(peerState, dl([["Role", "not connected"]], { "aria-label": "Connection" }));
      fill(statsBody, h("tr", {}, h("td", { colspan: 10, class: "empty" }, "No peer connection.")));
      return;
    }
    const s = peer.summary();
    if (peer.remoteStream && remoteVideo.srcObject !== peer.remoteStream) remoteVideo.srcObject = peer.remoteStream;
    fill(peerState, dl([
      ["Role", s.role === "MASTER" ? "master (camera)" : `viewer ${peer.clientId}`],
      ["Signaling", s.signaling],
    ], { "aria-label": "Connection" }));
    const master = s.role === "MASTER";
    localFigure.hidden = !master;
    remoteFigure.hidden = master;
    const rows = Object.entries(s.remotes).map(([id, r]) => h("tr", {},
      h("th", { scope: "row" }, id),
      h("td", {}, r.state || "—"),
      h("td", {}, r.ice || "—"),
      h("td", {}, r.localCandidate ? `${r.localCandidate} ↔ ${r.remoteCandidate}` : "—"),
      h("td", { class: "num" }, r.rtt !== undefined ? `${(r.rtt * 1000).toFixed(1)} ms` : "—"),
      h("td", {}, r.codec || "—"),
      master
        ? h("td", { class: "num" }, r.framesSent !== undefined ? `${formatCount(r.framesSent)} sent` : "—")
        : h("td", { class: "num" }, r.framesDecoded !== undefined ? `${formatCount(r.framesDecoded)} decoded` : "—"),
      h("td", { class: "num" }, r.fps ?? r.sendFps ?? "—"),
      h("td", {}, r.width ? `${r.width}×${r.height}` : "—"),
      master
        ? h("td", { class: "num" }, r.bytesSent !== undefined ? `${formatBytes(r.bytesSent)} sent` : "—")
        : h("td", { class: "num" }, r.bytesReceived !== undefined ? `${formatBytes(r.bytesReceived)} received` : "—")));
    fill(statsBody, rows.length ? rows : h("tr", {}, h("td", { colspan: 10, class: "empty" },
      s.role === "MASTER" ? "Waiting for a viewer…" : "Connecting to the master…")));
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.textContent = s.log.join("\n");
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  // ---------------------------------------------------------------- storage session
  const storageBox = h("div");
  const storageStatus = h("p", { class: "hint", role: "status" });

  let storageKey = null; // what the storage box shows, so that a refresh redraws it only when that changes
  async function showStorage() {
    const config = extras.storage;
    if (config && config.Status === "ENABLED") {
      const key = JSON.stringify(config);
      if (key === storageKey) return;
      storageKey = key;
      fill(storageBox,
        dl([["Media storage", storageFact(config, link)]]),
        h("div", { class: "form-row" },
          h("button", { type: "button", class: "primary", onclick: () => joinStorage() }, "Join storage session"),
          h("button", { type: "button", onclick: () => setStorage(null) }, "Disable media storage")),
        h("p", { class: "hint" }, "The master joins: the storage session sends it an offer over signaling (start the master first)."));
      return;
    }
    const streams = await listAll("/listStreams", {}, "StreamInfoList", { signal }).catch(() => []);
    streams.sort((a, b) => a.StreamName.localeCompare(b.StreamName));
    const key = JSON.stringify([config, streams.map((s) => s.StreamARN)]);
    if (key === storageKey) return;
    storageKey = key;
    if (!streams.length) {
      fill(storageBox, h("p", { class: "hint" }, "Media storage records the channel's media into a stream: create a stream first."));
      return;
    }
    const select = h("select", { id: "storage-stream" },
      streams.map((s) => h("option", { value: s.StreamARN }, s.StreamName)));
    fill(storageBox,
      h("div", { class: "form-row" },
        h("label", { for: "storage-stream" }, "Stream"), select,
        h("button", { type: "button", onclick: () => setStorage(select.value) }, "Enable media storage")),
      h("p", { class: "hint" }, "Media storage records the channel's media into the stream (UpdateMediaStorageConfiguration)."));
  }

  async function setStorage(streamArn) {
    try {
      await kvs("/updateMediaStorageConfiguration", {
        ChannelARN: info.ChannelARN,
        MediaStorageConfiguration: streamArn ? { StreamARN: streamArn, Status: "ENABLED" } : { Status: "DISABLED" },
      }, { signal });
      storageStatus.textContent = streamArn ? "Media storage enabled." : "Media storage disabled.";
      await refresh();
    } catch (error) {
      storageStatus.textContent = `UpdateMediaStorageConfiguration failed: ${error}`;
    }
  }

  async function joinStorage() {
    try {
      const endpoints = await signalingEndpoints(info.ChannelARN, "MASTER", ["WEBRTC"]);
      await kvs("/joinStorageSession", { channelArn: info.ChannelARN }, { endpoint: endpoints.WEBRTC, signal });
      storageStatus.textContent = peer && peer.role === "MASTER"
        ? "JoinStorageSession accepted: the storage session's offer goes to this master."
        : "JoinStorageSession accepted: its offer waits (up to the message TTL) for a master.";
    } catch (error) {
      storageStatus.textContent = `JoinStorageSession failed: ${error}`;
    }
  }

  // ---------------------------------------------------------------- channel facts
  async function refresh() {
    try {
      info = (await kvs("/describeSignalingChannel", { ChannelName: name }, { signal })).ChannelInfo;
    } catch (error) {
      if (error instanceof ApiError && error.type === "ResourceNotFoundException") {
        problem.textContent = `The signaling channel ${name} does not exist in this account and region.`;
        problem.hidden = false;
        return;
      }
      throw error;
    }
    problem.hidden = true;
    extras = await channelExtras(info, signal);
    fill(title, name, " ", h("span", { class: `badge ${info.ChannelStatus.toLowerCase()}` }, info.ChannelStatus));
    fill(facts, dl([
      ["ARN", h("span", { class: "mono" }, info.ChannelARN)],
      ["Type", info.ChannelType],
      ["Message TTL", `${info.SingleMasterConfiguration?.MessageTtlSeconds} s`],
      ["Created", formatTime(info.CreationTime, { ms: false })],
      ["Tags", tagsText(extras.tags)],
      ["Media storage", storageFact(extras.storage, link)],
    ]));
    await showStorage();
  }

  fill(root,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: link("#/channels") }, "Signaling channels"), " › ", h("span", { "aria-current": "page" }, name)),
    title, problem,
    h("div", { class: "channel-grid" },
      h("section", { class: "card", "aria-labelledby": "peer-h" },
        h("h2", { id: "peer-h" }, "WebRTC peer"),
        h("div", { class: "form-row" }, startMaster, h("span", { class: "or" }, "or"),
          h("label", { for: "viewer-client-id" }, "Client id"), clientId, startViewer, disconnect),
        peerStatus,
        h("div", { class: "videos" }, localFigure, remoteFigure),
        peerState,
        h("div", { class: "table-scroll" }, statsTable),
        h("h3", {}, "Signaling log"), log),
      h("div", { class: "side" },
        h("section", { class: "card", "aria-labelledby": "channel-h" }, h("h2", { id: "channel-h" }, "Channel"), facts),
        h("section", { class: "card", "aria-labelledby": "storage-h" },
          h("h2", { id: "storage-h" }, "Storage session"), storageBox, storageStatus))));
  showPeer();
  every(5000, signal, refresh, (error) => {
    problem.textContent = String(error);
    problem.hidden = false;
  });
  signal.addEventListener("abort", () => leave());
}
