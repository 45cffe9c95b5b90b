// The stream page's player: kvsmock's own HLS fMP4 segments fed to a <video> through Media Source
// Extensions. No third-party player: it fetches the session's playlists, the init segment and the
// media segments, and appends them to one SourceBuffer.
//
// Timeline. kvsmock places each HLS segment at its fragment's producer timestamp (epoch ms), so
// the SourceBuffer's timestampOffset is set to -base and `base + video.currentTime` is the
// producer timestamp of the frame on screen. Gaps between fragments are gaps in the buffer; the
// player steps over them.
//
// Live: a LIVE session (PRODUCER_TIMESTAMP, DisplayFragmentTimestamp ALWAYS) whose media playlist
// is fetched when the next fragment is due (then every 220 ms until it is listed); the newest
// segment is appended first and played from its start, then each new one as it is listed. The lag (wall clock minus the producer timestamp of the frame
// shown) settles at one fragment duration plus the delivery time; the player jumps ahead if it
// falls further behind. Replay (Back 10 s, Start time, a fragment's Play button): ON_DEMAND
// sessions over windows of the fragment index, kept 15 s ahead of the playhead, one window after
// another until the newest fragment, then new fragments as the index learns of them.

import { ApiError, fetchMedia, onDataEndpoint } from "./api.js";
import { parseMaster, parseMedia } from "./playlists.js";
import { isAbort, sleep } from "./util.js";

const LIVE_POLL_MS = 300; // a LIVE session's media playlist allows 5 requests per second
const LIVE_MIN_POLL_MS = 220; // the quickest re-poll while a fragment is due (stays under 5 a second)
const REPLAY_WINDOW_S = 120; // producer seconds one ON_DEMAND session covers
const REPLAY_AHEAD_S = 15; // buffer kept ahead of the playhead in replay
const KEEP_BEHIND_S = 30; // buffer kept behind the playhead
const GAP_TOLERANCE_S = 0.1;
const LAG_WINDOW_S = 10; // the lag average and maximum are over this many seconds

function median(values) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : 1;
}

class Stopped extends Error {
  constructor() {
    super("stopped");
    this.name = "Stopped";
  }
}

function once(target, type, signal, errorType) {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      target.removeEventListener(type, onEvent);
      if (errorType) target.removeEventListener(errorType, onError);
      signal?.removeEventListener("abort", onAbort);
    };
    const onEvent = (event) => { cleanup(); resolve(event); };
    const onError = () => { cleanup(); reject(new Error(`${errorType} on ${target.constructor.name}`)); };
    const onAbort = () => { cleanup(); reject(new Stopped()); };
    target.addEventListener(type, onEvent);
    if (errorType) target.addEventListener(errorType, onError);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** One run of the player in one mode: its MediaSource, SourceBuffer and what it appended. */
class Feed {
  constructor(mode, from) {
    this.mode = mode;
    this.from = from;
    this.controller = new AbortController();
    this.signal = this.controller.signal;
    this.requestedAt = performance.now();
    this.mediaSource = null;
    this.sourceBuffer = null;
    this.base = null;
    this.initUrl = null;
    this.segments = []; // {fragmentNumber, start, end} in producer seconds, in append order
    this.started = false;
  }
}

export class Player extends EventTarget {
  /**
   * `video`: the element to play into; `streamName`; `index`: the stream's FragmentIndex
   * (replay finds its windows there).
   */
  constructor(video, streamName, index) {
    super();
    this.video = video;
    this.streamName = streamName;
    this.index = index;
    this.feed = null;
    this.stats = this.#freshStats("idle");
    this.lagSamples = [];
    this.timer = setInterval(() => this.#tick(), 250);
    this.#watchFrames();
    video.addEventListener("error", () => {
      if (this.feed && video.error) this.#fail(new Error(`The video element failed: ${video.error.message || video.error.code}`));
    });
  }

  #freshStats(mode) {
    return {
      mode,
      status: mode === "idle" ? "Stopped" : "Starting…",
      fragmentNumber: null,
      fragmentStart: null,
      frameTime: null,
      lag: null,
      lagAverage: null,
      lagMax: null,
      firstFrameMs: null,
      error: null,
      buffered: 0,
      deliveryDelays: [], // ms from a live fragment's end (producer time) to its being in the buffer
    };
  }

  /** Play the newest media as it arrives. */
  live() {
    return this.#start("live", null);
  }

  /** Play from the producer timestamp `from` (epoch seconds) onward. */
  replay(from) {
    return this.#start("replay", from);
  }

  /** The producer timestamp of the frame on screen, or null. */
  position() {
    const feed = this.feed;
    if (!feed || feed.base === null || !feed.started) return null;
    return feed.base + this.video.currentTime;
  }

  back(seconds) {
    const now = this.position() ?? this.index.newestEnd();
    if (now === null) return Promise.resolve();
    return this.replay(now - seconds);
  }

  forward(seconds) {
    const now = this.position();
    const edge = this.index.newestEnd();
    if (now === null || edge === null) return this.live();
    const target = now + seconds;
    const duration = this.index.newest()?.duration || 1;
    if (target >= edge - duration - 1) return this.live();
    return this.replay(target);
  }

  stop() {
    this.feed?.controller.abort();
    this.feed = null;
    this.video.removeAttribute("src");
    this.video.load();
    this.stats = this.#freshStats("idle");
    this.#emit();
  }

  destroy() {
    this.stop();
    clearInterval(this.timer);
    this.destroyed = true;
  }

  // ------------------------------------------------------------------ runs
  async #start(mode, from) {
    this.feed?.controller.abort();
    const feed = new Feed(mode, from);
    this.feed = feed;
    this.stats = this.#freshStats(mode);
    this.lagSamples = [];
    this.#emit();
    try {
      if (mode === "live") await this.#runLive(feed);
      else await this.#runReplay(feed);
    } catch (error) {
      if (!isAbort(error) && this.feed === feed) this.#fail(error);
    }
  }

  #fail(error) {
    console.error("player", error);
    this.stats.error = String(error);
    this.stats.status = `Stopped: ${error}`;
    this.#emit();
  }

  #setStatus(feed, status) {
    if (this.feed !== feed || this.stats.status === status) return;
    this.stats.status = status;
    this.#emit();
  }

  async #sessionUrl(feed, params) {
    const answer = await onDataEndpoint(this.streamName, "GET_HLS_STREAMING_SESSION_URL", "/getHLSStreamingSessionURL", {
      StreamName: this.streamName,
      ContainerFormat: "FRAGMENTED_MP4",
      DiscontinuityMode: "ON_DISCONTINUITY",
      DisplayFragmentTimestamp: "ALWAYS",
      Expires: 43200,
      ...params,
    }, { signal: feed.signal });
    return answer.HLSStreamingSessionURL;
  }

  async #runLive(feed) {
    let master = null;
    let last = -Infinity;
    let newest = null; // the newest segment appended
    for (;;) {
      try {
        if (master === null) {
          const url = await this.#sessionUrl(feed, {
            PlaybackMode: "LIVE",
            HLSFragmentSelector: { FragmentSelectorType: "PRODUCER_TIMESTAMP" },
            MaxMediaPlaylistFragmentResults: 10,
          });
          master = parseMaster(await fetchMedia(url, "text", feed.signal), url);
          if (!feed.sourceBuffer) await this.#openMedia(feed, master.codec);
        }
        const playlist = parseMedia(await fetchMedia(master.mediaUrl, "text", feed.signal), master.mediaUrl);
        let fresh = playlist.segments.filter((s) => s.start > last + 0.0005);
        if (last === -Infinity && fresh.length) {
          const typical = median(playlist.segments.map((s) => s.duration));
          fresh = await this.#liveStart(feed, fresh);
          newest = fresh[fresh.length - 1];
          last = newest.start;
          // Within the newest fragment, one typical fragment duration (and a little) behind the wall
          // clock: the next fragment is due by the time playback reaches this one's end.
          const earliest = Math.max(fresh[0].start, this.#bufferedStart(), newest.end - typical);
          const latest = Math.max(earliest, newest.end - 0.05);
          this.#begin(feed, Math.min(latest, Math.max(earliest, Date.now() / 1000 - typical - 0.1)));
          this.#setStatus(feed, "Live");
          fresh = [];
        }
        for (const segment of fresh) {
          await this.#appendSegment(feed, segment);
          this.#noteDelivery(segment);
          last = segment.start;
          newest = segment;
          if (!feed.started) this.#begin(feed, segment.start);
        }
        if (fresh.length) {
          this.#keepLive(feed, fresh[fresh.length - 1].duration);
          this.#setStatus(feed, "Live");
        } else if (!feed.started) {
          this.#setStatus(feed, "Live: waiting for the first fragment…");
        }
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.type === "ResourceNotFoundException" && master === null) {
          this.#setStatus(feed, "Waiting for live media (no fragment in the last 30 s)…");
          await sleep(2000, feed.signal);
          continue;
        }
        if (error.status === 429 || error.type === "ClientLimitExceededException") {
          await sleep(1000, feed.signal);
          continue;
        }
        if ([401, 403, 404].includes(error.status) && master !== null) {
          master = null; // the session expired (the emulator clock moved) or lost its fragments: a new one
          continue;
        }
        throw error;
      }
      await sleep(this.#livePollDelay(newest), feed.signal);
    }
  }

  /** How long after its last frame's producer time a live segment was in the buffer (for the page and tests). */
  #noteDelivery(segment) {
    const delays = this.stats.deliveryDelays;
    delays.push(Math.round((Date.now() / 1000 - segment.end) * 1000));
    if (delays.length > 10) delays.shift();
  }

  /**
   * When to fetch the live playlist again: just after the next fragment should be complete (its
   * producer finishes it one fragment duration after the newest one ended; the producer's clock
   * is taken to be about the wall clock), then every LIVE_MIN_POLL_MS until it is listed. A
   * producer whose clock is far off is polled every LIVE_POLL_MS.
   */
  #livePollDelay(newest) {
    if (!newest) return LIVE_POLL_MS;
    const due = newest.end + newest.duration + 0.03;
    const wait = (due - Date.now() / 1000) * 1000;
    if (wait > LIVE_MIN_POLL_MS && wait < 3000) return wait;
    if (wait <= LIVE_MIN_POLL_MS && wait > -3000) return LIVE_MIN_POLL_MS;
    return LIVE_POLL_MS;
  }

  /**
   * Live starts at the newest segment; if that gives nothing to show (a fragment that does not
   * open on a keyframe), one segment more is appended before it, up to three. Returns those used.
   */
  async #liveStart(feed, segments) {
    let used = segments.slice(-1);
    for (let count = 1; count <= Math.min(3, segments.length); count += 1) {
      used = segments.slice(-count);
      for (const segment of used) await this.#appendSegment(feed, segment);
      if (feed.sourceBuffer.buffered.length) break;
    }
    return used;
  }

  async #runReplay(feed) {
    await this.index.ready;
    let lastStart = -Infinity; // producer start of the last segment appended
    let cursor = feed.from; // the instant the next segment must reach past
    for (;;) {
      while (feed.started && this.#ahead() > REPLAY_AHEAD_S) await sleep(250, feed.signal);
      const first = lastStart === -Infinity ? this.index.firstEndingAfter(cursor) : this.index.firstStartingAfter(lastStart + 0.0005);
      if (!first) {
        if (lastStart === -Infinity) throw new Error("No fragment is stored at or after that time.");
        this.#setStatus(feed, "Replay: caught up with the newest fragment; waiting for more…");
        await sleep(1000, feed.signal);
        continue;
      }
      let segments;
      try {
        const url = await this.#sessionUrl(feed, {
          PlaybackMode: "ON_DEMAND",
          HLSFragmentSelector: {
            FragmentSelectorType: "PRODUCER_TIMESTAMP",
            TimestampRange: { StartTimestamp: first.start - 0.0005, EndTimestamp: first.start + REPLAY_WINDOW_S },
          },
          MaxMediaPlaylistFragmentResults: 1000,
        });
        const master = parseMaster(await fetchMedia(url, "text", feed.signal), url);
        if (!feed.sourceBuffer) await this.#openMedia(feed, master.codec);
        const playlist = parseMedia(await fetchMedia(master.mediaUrl, "text", feed.signal), master.mediaUrl);
        segments = playlist.segments.filter((s) => s.start > lastStart + 0.0005 && s.end > cursor);
      } catch (error) {
        if (error instanceof ApiError && (error.status === 429 || error.type === "ResourceNotFoundException")) {
          await sleep(1000, feed.signal); // throttled, or the fragment expired meanwhile: look again
          continue;
        }
        throw error;
      }
      if (!segments.length) {
        lastStart = Math.max(lastStart, first.start); // listed by ListFragments, not playable: step past it
        await sleep(250, feed.signal);
        continue;
      }
      for (const segment of segments) {
        while (feed.started && this.#ahead() > REPLAY_AHEAD_S) await sleep(250, feed.signal);
        try {
          await this.#appendSegment(feed, segment);
        } catch (error) {
          if (error instanceof ApiError && [401, 403, 404].includes(error.status)) break; // a new session
          throw error;
        }
        lastStart = segment.start;
        cursor = segment.end;
        if (!feed.started) this.#begin(feed, Math.max(feed.from, segment.start));
        this.#setStatus(feed, `Replay from ${new Date(feed.from * 1000).toLocaleString()}`);
      }
    }
  }

  // ------------------------------------------------------------------ media source
  async #openMedia(feed, codec) {
    const type = `video/mp4; codecs="${codec}"`;
    if (!window.MediaSource || !MediaSource.isTypeSupported(type)) {
      throw new Error(`This browser cannot play ${codec} through Media Source Extensions.`);
    }
    const mediaSource = new MediaSource();
    feed.mediaSource = mediaSource;
    const url = URL.createObjectURL(mediaSource);
    this.video.src = url;
    await once(mediaSource, "sourceopen", feed.signal);
    URL.revokeObjectURL(url);
    feed.sourceBuffer = mediaSource.addSourceBuffer(type);
    mediaSource.duration = Infinity; // a stream goes on: playback waits at the end of the buffer
  }

  async #append(feed, bytes) {
    const sourceBuffer = feed.sourceBuffer;
    for (let attempt = 0; ; attempt += 1) {
      if (feed.signal.aborted) throw new Stopped();
      try {
        sourceBuffer.appendBuffer(bytes);
      } catch (error) {
        if (error.name === "QuotaExceededError" && attempt < 3) {
          await this.#evict(feed, 5);
          continue;
        }
        throw error;
      }
      await once(sourceBuffer, "updateend", feed.signal, "error");
      return;
    }
  }

  async #appendSegment(feed, segment) {
    const [init, media] = await Promise.all([
      segment.initUrl !== feed.initUrl ? fetchMedia(segment.initUrl, "bytes", feed.signal) : null,
      fetchMedia(segment.url, "bytes", feed.signal),
    ]);
    if (feed.base === null) {
      feed.base = Math.floor(segment.start) - 120; // room for a few earlier segments (see #liveStart)
      feed.sourceBuffer.timestampOffset = -feed.base;
    }
    if (init) {
      await this.#append(feed, init);
      feed.initUrl = segment.initUrl;
    }
    await this.#append(feed, media);
    const known = feed.segments.filter((s) => s.fragmentNumber !== segment.fragmentNumber);
    known.push({ fragmentNumber: segment.fragmentNumber, start: segment.start, end: segment.end });
    known.sort((a, b) => a.start - b.start);
    feed.segments = known.slice(-400);
    await this.#evict(feed, KEEP_BEHIND_S);
  }

  /** Remove what lies more than `keep` seconds behind the playhead. */
  async #evict(feed, keep) {
    const buffered = feed.sourceBuffer.buffered;
    if (!buffered.length) return;
    const until = this.video.currentTime - keep;
    if (buffered.start(0) < until - 5) {
      feed.sourceBuffer.remove(0, until);
      await once(feed.sourceBuffer, "updateend", feed.signal, "error");
    }
  }

  #begin(feed, producerTime) {
    feed.started = true;
    this.video.currentTime = producerTime - feed.base;
    this.video.play().catch((error) => {
      if (error.name !== "AbortError") this.#fail(error);
    });
  }

  // ------------------------------------------------------------------ keeping up
  #bufferedEnd() {
    const buffered = this.video.buffered;
    return buffered.length ? buffered.end(buffered.length - 1) : 0;
  }

  #bufferedStart() {
    const buffered = this.video.buffered;
    return buffered.length && this.feed?.base !== null ? this.feed.base + buffered.start(0) : -Infinity;
  }

  #ahead() {
    return this.#bufferedEnd() - this.video.currentTime;
  }

  /** Live: stay about one fragment behind the newest frame; jump ahead when far behind. */
  #keepLive(feed, duration) {
    if (!feed.started || this.video.paused) return;
    const ahead = this.#ahead();
    if (ahead > duration + 1.5) {
      this.video.currentTime = this.#bufferedEnd() - duration - 0.1;
      this.video.playbackRate = 1;
    } else {
      // Ahead by more than a fragment and a bit: catch up gently (the next stall, if any, settles it).
      this.video.playbackRate = ahead > duration + 0.4 ? 1.25 : ahead > duration + 0.1 ? 1.1 : 1;
    }
  }

  /** Steps over gaps in the buffer (fragments missing between two others). */
  #skipGap() {
    const video = this.video;
    if (!this.feed?.started || video.paused || video.seeking || video.readyState >= 3) return;
    const now = video.currentTime;
    const ranges = video.buffered;
    for (let i = 0; i < ranges.length; i += 1) {
      if (ranges.start(i) <= now + GAP_TOLERANCE_S && now < ranges.end(i) - GAP_TOLERANCE_S) return; // inside one
      if (ranges.start(i) > now) {
        video.currentTime = ranges.start(i) + 0.01;
        return;
      }
    }
  }

  #tick() {
    this.#skipGap();
    const feed = this.feed;
    if (!feed) return;
    this.stats.buffered = feed.started ? Math.max(0, this.#ahead()) : 0;
    if (!this.hasFrameCallback) this.#onFrame(performance.now(), this.video.currentTime);
    const stats = this.stats;
    if (feed.mode === "live" && stats.frameTime !== null && stats.lag !== null) {
      // No new frame (waiting for the next fragment, or paused): the picture falls behind.
      const behind = Date.now() / 1000 - stats.frameTime;
      if (behind > stats.lag + 0.25) stats.lag = behind;
      if (behind > 3 && !this.video.paused && this.video.readyState < 3) this.#setStatus(feed, "Live: waiting for the next fragment…");
    }
    this.#emit();
  }

  // ------------------------------------------------------------------ what is on screen
  #watchFrames() {
    const video = this.video;
    this.hasFrameCallback = typeof video.requestVideoFrameCallback === "function";
    if (!this.hasFrameCallback) return;
    const onFrame = (now, metadata) => {
      if (this.destroyed) return;
      this.#onFrame(metadata.expectedDisplayTime || now, metadata.mediaTime);
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  /** A frame with media time `mediaTime` is (about to be) on screen at `displayTime` (performance.now() clock). */
  #onFrame(displayTime, mediaTime) {
    const feed = this.feed;
    if (!feed || !feed.started || feed.base === null || this.video.readyState < 2) return;
    const frameTime = feed.base + mediaTime;
    const stats = this.stats;
    const first = stats.firstFrameMs === null;
    if (first) stats.firstFrameMs = Math.round(displayTime - feed.requestedAt);
    stats.frameTime = frameTime;
    const segment = feed.segments.findLast((s) => s.start <= frameTime + 0.0005);
    stats.fragmentNumber = segment && frameTime < segment.end + 0.05 ? segment.fragmentNumber : null;
    stats.fragmentStart = segment ? segment.start : null;
    const wall = (performance.timeOrigin + displayTime) / 1000;
    if (feed.mode === "live" && !this.video.paused) {
      stats.lag = wall - frameTime;
      this.lagSamples.push([wall, stats.lag]);
      while (this.lagSamples.length && this.lagSamples[0][0] < wall - LAG_WINDOW_S) this.lagSamples.shift();
      const lags = this.lagSamples.map(([, lag]) => lag);
      stats.lagAverage = lags.reduce((a, b) => a + b, 0) / lags.length;
      stats.lagMax = Math.max(...lags);
    } else if (feed.mode !== "live") {
      stats.lag = null;
    }
    if (first) this.#emit(); // the page shows the first frame's facts at once (then 4 times a second)
  }

  #emit() {
    this.dispatchEvent(new Event("update"));
  }
}
