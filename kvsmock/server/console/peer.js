// A WebRTC peer of a signaling channel, with the browser's own WebSocket and RTCPeerConnection:
// the master (the camera) answers each viewer's offer, and the storage session's; a viewer
// offers to the master. Messages are KVS signaling's JSON ({action, messagePayload,
// recipientClientId} out; {messageType, messagePayload, senderClientId} in), payloads base64 JSON.

const STORAGE = "storage session";

function encode(object) {
  return btoa(JSON.stringify(object));
}

function decode(payload) {
  return JSON.parse(atob(payload));
}

/** The signaling WebSocket URL: the WSS endpoint with the channel (and a viewer's client id). */
export function signalingUrl(endpoint, channelArn, clientId) {
  let url = endpoint;
  // A page served over http:// speaks ws:// to the same port (it answers both); https:// pages use wss://.
  if (location.protocol === "http:") url = url.replace(/^wss:/, "ws:");
  const query = new URLSearchParams({ "X-Amz-ChannelARN": channelArn });
  if (clientId) query.set("X-Amz-ClientId", clientId);
  return `${url}${url.includes("?") ? "&" : "?"}${query}`;
}

/** One peer connection to one remote (a viewer, the master, or the storage session). */
class Remote {
  constructor(id, pc) {
    this.id = id;
    this.pc = pc;
    this.pending = []; // ICE candidates that came before the remote description
    this.stats = {};
  }
}

export class Peer extends EventTarget {
  /**
   * `role`: "MASTER" or "VIEWER"; `wsUrl`: from signalingUrl(); `iceServers`: RTCIceServer list;
   * `localStream`: the master's camera (null for a viewer).
   */
  constructor({ role, wsUrl, iceServers, localStream, clientId }) {
    super();
    this.role = role;
    this.clientId = clientId || null;
    this.wsUrl = wsUrl;
    this.iceServers = iceServers;
    this.localStream = localStream;
    this.remotes = new Map();
    this.signaling = "connecting";
    this.log = [];
    this.remoteStream = null;
    this.statsTimer = setInterval(() => this.#collectStats(), 1000);
  }

  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.wsUrl);
      this.ws = ws;
      ws.addEventListener("open", () => {
        this.signaling = "open";
        this.#note("signaling open");
        resolve();
        if (this.role === "VIEWER") this.#offer().catch((error) => this.#fail("offer", error));
      });
      ws.addEventListener("error", () => {
        this.#note("signaling error");
        reject(new Error(`Could not connect to ${this.wsUrl.split("?")[0]}`));
      });
      ws.addEventListener("close", (event) => {
        this.signaling = `closed (${event.code}${event.reason ? ` ${event.reason}` : ""})`;
        this.#note(`signaling ${this.signaling}`);
      });
      ws.addEventListener("message", (event) => this.#receive(event.data));
    });
  }

  close() {
    clearInterval(this.statsTimer);
    this.ws?.close();
    for (const remote of this.remotes.values()) remote.pc.close();
    this.remotes.clear();
    this.#changed();
  }

  #note(text) {
    this.log.push(`${new Date().toLocaleTimeString()} ${text}`);
    if (this.log.length > 200) this.log.shift();
    this.#changed();
  }

  #fail(where, error) {
    console.error(where, error);
    this.#note(`${where} failed: ${error && error.message ? error.message : error}`);
  }

  #changed() {
    this.dispatchEvent(new Event("change"));
  }

  #send(action, payload, recipient) {
    const message = { action, messagePayload: encode(payload) };
    if (recipient && recipient !== STORAGE) message.recipientClientId = recipient;
    this.ws.send(JSON.stringify(message));
  }

  #remote(id) {
    let remote = this.remotes.get(id);
    if (remote) return remote;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    remote = new Remote(id, pc);
    this.remotes.set(id, remote);
    pc.addEventListener("icecandidate", ({ candidate }) => {
      if (candidate && candidate.candidate) this.#send("ICE_CANDIDATE", candidate.toJSON(), this.role === "MASTER" ? id : null);
    });
    pc.addEventListener("connectionstatechange", () => {
      this.#note(`${id}: connection ${pc.connectionState}`);
    });
    pc.addEventListener("iceconnectionstatechange", () => this.#changed());
    pc.addEventListener("track", (event) => {
      if (!this.remoteStream) this.remoteStream = new MediaStream();
      this.remoteStream.addTrack(event.track);
      this.#note(`${id}: receiving ${event.track.kind}`);
    });
    return remote;
  }

  async #offer() {
    const remote = this.#remote("master");
    remote.pc.addTransceiver("video", { direction: "recvonly" });
    remote.pc.addTransceiver("audio", { direction: "recvonly" });
    await remote.pc.setLocalDescription(await remote.pc.createOffer());
    this.#send("SDP_OFFER", remote.pc.localDescription.toJSON());
    this.#note("offer sent to the master");
  }

  async #answer(id, offer) {
    const old = this.remotes.get(id);
    if (old && old.pc.remoteDescription) { // a viewer (or the storage session) starting again
      old.pc.close();
      this.remotes.delete(id);
    }
    const remote = this.#remote(id); // (one made for early ICE candidates is kept, with them)
    const pc = remote.pc;
    for (const track of this.localStream.getTracks()) pc.addTrack(track, this.localStream);
    await pc.setRemoteDescription(offer);
    await this.#flush(remote);
    await pc.setLocalDescription(await pc.createAnswer());
    this.#send("SDP_ANSWER", pc.localDescription.toJSON(), id);
    this.#note(`answer sent to ${id}`);
  }

  async #flush(remote) {
    const pending = remote.pending.splice(0);
    for (const candidate of pending) await remote.pc.addIceCandidate(candidate).catch((e) => this.#fail("addIceCandidate", e));
  }

  async #receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      this.#note(`not JSON: ${String(data).slice(0, 80)}`);
      return;
    }
    const type = message.messageType;
    const sender = this.role === "MASTER" ? message.senderClientId || STORAGE : "master";
    try {
      if (type === "SDP_OFFER" && this.role === "MASTER") {
        this.#note(`offer from ${sender}`);
        await this.#answer(sender, decode(message.messagePayload));
      } else if (type === "SDP_ANSWER" && this.role === "VIEWER") {
        this.#note("answer from the master");
        const remote = this.remotes.get("master");
        await remote.pc.setRemoteDescription(decode(message.messagePayload));
        await this.#flush(remote);
      } else if (type === "ICE_CANDIDATE") {
        const candidate = decode(message.messagePayload);
        const remote = this.remotes.get(sender);
        if (!remote || !remote.pc.remoteDescription) {
          (remote || this.#remote(sender)).pending.push(candidate);
        } else {
          await remote.pc.addIceCandidate(candidate);
        }
      } else if (type === "STATUS_RESPONSE") {
        const s = message.statusResponse || {};
        this.#note(`status: ${s.errorType || ""} ${s.description || ""}`);
      } else {
        this.#note(`${type || "message"} received`);
      }
    } catch (error) {
      this.#fail(type || "message", error);
    }
  }

  async #collectStats() {
    for (const remote of this.remotes.values()) {
      try {
        const report = await remote.pc.getStats();
        const stats = { state: remote.pc.connectionState, ice: remote.pc.iceConnectionState };
        const byId = new Map();
        report.forEach((r) => byId.set(r.id, r));
        report.forEach((r) => {
          if (r.type === "inbound-rtp" && r.kind === "video") {
            Object.assign(stats, {
              framesDecoded: r.framesDecoded || 0, fps: r.framesPerSecond, width: r.frameWidth, height: r.frameHeight,
              bytesReceived: r.bytesReceived, codec: byId.get(r.codecId)?.mimeType,
            });
          } else if (r.type === "outbound-rtp" && r.kind === "video") {
            stats.framesSent = (stats.framesSent || 0) + (r.framesSent || 0);
            stats.bytesSent = (stats.bytesSent || 0) + (r.bytesSent || 0);
            stats.sendFps = r.framesPerSecond;
            if (r.frameWidth) Object.assign(stats, { width: r.frameWidth, height: r.frameHeight });
            stats.codec = stats.codec || byId.get(r.codecId)?.mimeType;
          } else if (r.type === "candidate-pair" && (r.nominated || r.selected) && r.state === "succeeded") {
            stats.rtt = r.currentRoundTripTime;
            stats.localCandidate = byId.get(r.localCandidateId)?.candidateType;
            stats.remoteCandidate = byId.get(r.remoteCandidateId)?.candidateType;
          }
        });
        remote.stats = stats;
      } catch (error) {
        remote.stats = { error: String(error) };
      }
    }
    if (this.remotes.size) this.#changed();
  }

  /** A plain summary, for the page and for tests. */
  summary() {
    return {
      role: this.role,
      signaling: this.signaling,
      remotes: Object.fromEntries([...this.remotes.values()].map((r) => [r.id, { ...r.stats, state: r.pc.connectionState }])),
      log: this.log.slice(-20),
    };
  }
}
