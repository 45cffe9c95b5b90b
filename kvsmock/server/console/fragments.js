// A stream's fragments: the index the page keeps (ListFragments, followed live) and the timeline
// that shows it (a coverage bar with its gaps, and a paginated list with thumbnails from GetImages).

import { dataEndpoint, listAll, onDataEndpoint } from "./api.js";
import { fill, formatBytes, formatCount, formatDuration, formatTime, h } from "./util.js";

const GAP_TOLERANCE_S = 0.1; // a producer-time step larger than this between fragments is a gap
const PAGE_SIZE = 50;
const FULL_RELOAD_EVERY = 20; // polls between full reloads (they notice expiry and deletion)
const FAR_FUTURE = 253402300799; // the end of year 9999: "until now" for a server-timestamp range
const THUMB_WIDTH = 96;
const THUMB_CACHE = 600;

function entry(f) {
  const start = f.ProducerTimestamp;
  const duration = (f.FragmentLengthInMilliseconds || 0) / 1000;
  return {
    number: f.FragmentNumber,
    start,
    end: start + duration,
    duration,
    server: f.ServerTimestamp,
    size: f.FragmentSizeInBytes,
  };
}

const byStart = (a, b) => a.start - b.start || (a.number < b.number ? -1 : a.number > b.number ? 1 : 0);

/** The stream's persisted fragments in producer-time order, kept up to date by polling ListFragments. */
export class FragmentIndex extends EventTarget {
  constructor(streamName) {
    super();
    this.streamName = streamName;
    this.sorted = [];
    this.byNumber = new Map();
    this.newestServer = null;
    this.polls = 0;
    this.loaded = false;
    this.ready = new Promise((resolve) => { this.markReady = resolve; });
  }

  async #list(body, signal) {
    const found = await listAll("/listFragments", { StreamName: this.streamName, MaxResults: 1000, ...body }, "Fragments", {
      signal,
      endpoint: await this.#endpoint(signal),
    });
    return found.map(entry);
  }

  #endpoint(signal) {
    return dataEndpoint(this.streamName, "LIST_FRAGMENTS", signal);
  }

  /** Everything again (first load, after a clock move, and now and then). */
  async reload(signal) {
    const all = await this.#list({}, signal);
    all.sort(byStart);
    const before = this.sorted.length;
    this.sorted = all;
    this.byNumber = new Map(all.map((f) => [f.number, f]));
    this.newestServer = all.reduce((m, f) => Math.max(m, f.server), -Infinity);
    if (!Number.isFinite(this.newestServer)) this.newestServer = null;
    this.loaded = true;
    this.markReady();
    this.#changed(Math.max(0, all.length - before), true);
  }

  /** What arrived since the last look (by server timestamp); a full reload every so often. */
  async poll(signal) {
    this.polls += 1;
    if (!this.loaded || this.newestServer === null || this.polls % FULL_RELOAD_EVERY === 0) {
      await this.reload(signal);
      return;
    }
    const found = await this.#list({
      FragmentSelector: {
        FragmentSelectorType: "SERVER_TIMESTAMP",
        TimestampRange: { StartTimestamp: this.newestServer - 5, EndTimestamp: FAR_FUTURE },
      },
    }, signal);
    const fresh = found.filter((f) => !this.byNumber.has(f.number));
    if (!fresh.length) return;
    for (const f of fresh) {
      this.byNumber.set(f.number, f);
      this.newestServer = Math.max(this.newestServer, f.server);
      const last = this.sorted[this.sorted.length - 1];
      this.sorted.push(f);
      if (last && byStart(last, f) > 0) this.sorted.sort(byStart);
    }
    this.#changed(fresh.length, false);
  }

  #changed(added, reloaded) {
    this.dispatchEvent(Object.assign(new Event("change"), { added, reloaded }));
  }

  get count() {
    return this.sorted.length;
  }

  newest() {
    return this.sorted[this.sorted.length - 1] || null;
  }

  newestEnd() {
    return this.newest()?.end ?? null;
  }

  #firstIndex(predicate) {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (predicate(this.sorted[mid])) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The first fragment (in producer order) that ends after `t`. */
  firstEndingAfter(t) {
    return this.sorted[this.#firstIndex((f) => f.end > t)] || null;
  }

  /** The first fragment that starts after `t`. */
  firstStartingAfter(t) {
    return this.sorted[this.#firstIndex((f) => f.start > t)] || null;
  }

  /** The fragment holding producer time `t`, if any. */
  at(t) {
    const f = this.firstEndingAfter(t);
    return f && f.start <= t ? f : null;
  }

  /** Stretches of media without gaps: [{start, end}], merging gaps shorter than `minGap`. */
  runs(minGap = GAP_TOLERANCE_S) {
    const runs = [];
    for (const f of this.sorted) {
      const last = runs[runs.length - 1];
      if (last && f.start - last.end <= minGap) last.end = Math.max(last.end, f.end);
      else runs.push({ start: f.start, end: f.end });
    }
    return runs;
  }
}

/** GetImages thumbnails, one per fragment (its first frame), a few requests at a time, remembered. */
class Thumbnails {
  constructor(streamName) {
    this.streamName = streamName;
    this.cache = new Map();
    this.queue = [];
    this.active = 0;
  }

  /** Resolves to a data: URL (or null when the fragment has no image). */
  get(fragment) {
    const cached = this.cache.get(fragment.number);
    if (cached) return cached;
    const promise = new Promise((resolve) => this.queue.push({ fragment, resolve }));
    this.cache.set(fragment.number, promise);
    if (this.cache.size > THUMB_CACHE) this.cache.delete(this.cache.keys().next().value);
    this.#pump();
    return promise;
  }

  #pump() {
    while (this.active < 3 && this.queue.length) {
      const { fragment, resolve } = this.queue.shift();
      this.active += 1;
      this.#load(fragment).then(resolve, (error) => {
        console.warn("thumbnail", error);
        this.cache.delete(fragment.number);
        resolve(null);
      }).finally(() => {
        this.active -= 1;
        this.#pump();
      });
    }
  }

  async #load(fragment) {
    const at = fragment.start + 0.001;
    const answer = await onDataEndpoint(this.streamName, "GET_IMAGES", "/getImages", {
      StreamName: this.streamName,
      ImageSelectorType: "PRODUCER_TIMESTAMP",
      StartTimestamp: at,
      EndTimestamp: at,
      SamplingInterval: 3000,
      Format: "JPEG",
      FormatConfig: { JPEGQuality: "70" },
      WidthPixels: THUMB_WIDTH,
      MaxResults: 1,
    });
    const image = (answer.Images || [])[0];
    return image && image.ImageContent ? `data:image/jpeg;base64,${image.ImageContent}` : null;
  }
}

/**
 * The fragment timeline: a coverage bar (media and gaps over the retained range, the playhead
 * on it) and the list named "Fragments", newest first, PAGE_SIZE items a page.
 * `onPlay(t)` is called when the user asks to play from producer time t.
 */
export class FragmentTimeline {
  constructor(index, { onPlay }) {
    this.index = index;
    this.onPlay = onPlay;
    this.offset = 0; // fragments skipped from the newest end
    this.current = null; // number of the fragment playing
    this.playhead = null;
    this.thumbnails = new Thumbnails(index.streamName);
    this.items = new Map(); // number -> li on the page shown

    this.summary = h("p", { class: "summary", "aria-live": "polite" });
    this.bar = h("div", { class: "coverage-track" });
    this.barHead = h("div", { class: "coverage-head", hidden: true });
    this.barLabels = h("div", { class: "coverage-labels" });
    this.coverage = h("div", {
      class: "coverage",
      role: "img",
      "aria-label": "Media over time",
      title: "Media over time (click to play from there); gaps are blank",
      onclick: (event) => this.#barClick(event),
    }, this.bar, this.barHead);
    this.pageText = h("span", { class: "page-text" });
    this.buttons = {
      newest: h("button", { type: "button", onclick: () => this.#go(0) }, "Newest"),
      newer: h("button", { type: "button", onclick: () => this.#go(this.offset - PAGE_SIZE) }, "Newer"),
      older: h("button", { type: "button", onclick: () => this.#go(this.offset + PAGE_SIZE) }, "Older"),
      oldest: h("button", {
        type: "button",
        onclick: () => this.#go(Math.max(0, Math.floor((this.index.count - 1) / PAGE_SIZE) * PAGE_SIZE)),
      }, "Oldest"),
      playing: h("button", { type: "button", onclick: () => this.#showPlaying() }, "Show playing"),
    };
    const pager = h("div", { class: "pager", role: "group", "aria-label": "Fragment pages" },
      this.buttons.newest, this.buttons.newer, this.pageText, this.buttons.older, this.buttons.oldest,
      this.buttons.playing);
    this.list = h("ul", { class: "fragments", "aria-label": "Fragments" });
    this.scroller = h("div", { class: "fragments-scroll" }, this.list);
    this.observer = new IntersectionObserver((entries) => this.#visible(entries), { root: this.scroller, rootMargin: "200px" });
    this.element = h("div", { class: "timeline" }, this.summary, this.coverage, this.barLabels, pager, this.scroller);

    index.addEventListener("change", (event) => {
      // Keep the page the user is looking at in place while new fragments arrive at the top.
      if (this.offset > 0 && !event.reloaded) this.offset += event.added;
      this.render();
    });
  }

  #go(offset) {
    const last = Math.max(0, this.index.count - 1);
    this.offset = Math.max(0, Math.min(offset, Math.floor(last / PAGE_SIZE) * PAGE_SIZE));
    this.render();
    this.scroller.scrollTop = 0;
  }

  #showPlaying() {
    if (this.playhead === null) return;
    const f = this.index.firstEndingAfter(this.playhead);
    if (!f) return;
    const position = this.index.sorted.indexOf(f);
    const fromNewest = this.index.count - 1 - position;
    this.#go(Math.floor(fromNewest / PAGE_SIZE) * PAGE_SIZE);
    this.items.get(f.number)?.scrollIntoView({ block: "center" });
  }

  /** The fragment playing now and the playhead (producer time), from the player. */
  setPlaying(number, playhead) {
    this.playhead = playhead;
    if (number !== this.current) {
      this.items.get(this.current)?.removeAttribute("aria-current");
      this.current = number;
      this.items.get(number)?.setAttribute("aria-current", "true");
    }
    this.#drawHead();
  }

  render() {
    const index = this.index;
    const count = index.count;
    if (this.offset >= count && count > 0) this.offset = Math.floor((count - 1) / PAGE_SIZE) * PAGE_SIZE;
    const newest = index.newest();
    const oldest = index.sorted[0];
    const stored = index.sorted.reduce((sum, f) => sum + (f.size || 0), 0);
    this.summary.textContent = count
      ? `${formatCount(count)} fragment${count === 1 ? "" : "s"}, ${formatBytes(stored)}, from ${formatTime(oldest.start, { ms: false })} ` +
        `to ${formatTime(newest.end, { ms: false })} (producer time)`
      : index.loaded ? "No fragments stored." : "Loading fragments…";
    this.#drawBar();
    // The page: newest first.
    const hi = count - this.offset; // exclusive index into sorted
    const lo = Math.max(0, hi - PAGE_SIZE);
    const page = index.sorted.slice(lo, hi).reverse();
    this.pageText.textContent = count ? `${formatCount(this.offset + 1)}–${formatCount(this.offset + page.length)} of ${formatCount(count)}` : "";
    this.buttons.newest.disabled = this.buttons.newer.disabled = this.offset === 0;
    this.buttons.older.disabled = this.buttons.oldest.disabled = hi - PAGE_SIZE <= 0;
    this.buttons.playing.disabled = this.playhead === null;

    const items = new Map();
    const children = [];
    page.forEach((f, i) => {
      const older = page[i + 1] || index.sorted[lo - 1];
      let li = this.items.get(f.number);
      if (!li) {
        li = this.#item(f);
        this.observer.observe(li);
      }
      items.set(f.number, li);
      children.push(li);
      if (older && f.start - older.end > GAP_TOLERANCE_S) {
        const gap = f.start - older.end;
        children.push(h("li", { role: "separator", class: "gap", "aria-label": `Gap of ${formatDuration(gap)}` },
          `Gap: no media for ${formatDuration(gap)}`));
      }
    });
    for (const [number, li] of this.items) if (!items.has(number)) this.observer.unobserve(li);
    this.items = items;
    fill(this.list, children);
  }

  #item(f) {
    const img = h("img", { class: "thumb", alt: `First frame of the fragment at ${formatTime(f.start)}`, width: THUMB_WIDTH, height: 72, decoding: "async" });
    const li = h("li", { class: "fragment", dataset: { number: f.number } },
      h("div", { class: "thumb-box" }, img),
      h("div", { class: "fragment-facts" },
        h("div", { class: "fragment-number" }, h("span", { class: "label" }, "No. "), f.number),
        h("div", { class: "fragment-times" },
          h("span", {}, h("span", { class: "label" }, "Producer "), formatTime(f.start)),
          h("span", {}, h("span", { class: "label" }, "Server "), formatTime(f.server)),
        ),
        h("div", { class: "fragment-size" },
          h("span", {}, h("span", { class: "label" }, "Duration "), `${f.duration.toFixed(3)} s`),
          h("span", {}, h("span", { class: "label" }, "Size "), formatBytes(f.size)),
          h("button", { type: "button", class: "small", onclick: () => this.onPlay(f.start) , "aria-label": `Play from ${formatTime(f.start)}` }, "Play"),
        ),
      ),
    );
    if (f.number === this.current) li.setAttribute("aria-current", "true");
    li.thumb = img;
    li.fragment = f;
    return li;
  }

  #visible(entries) {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      const li = e.target;
      this.observer.unobserve(li);
      this.thumbnails.get(li.fragment).then((url) => {
        if (url) li.thumb.src = url;
        else li.thumb.classList.add("missing");
      });
    }
  }

  // ------------------------------------------------------------------ coverage bar
  #span() {
    const first = this.index.sorted[0];
    const last = this.index.newest();
    if (!first || !last) return null;
    const start = first.start;
    const end = Math.max(last.end, start + 1);
    return { start, end };
  }

  #drawBar() {
    const span = this.#span();
    if (!span) {
      fill(this.bar);
      fill(this.barLabels);
      this.barHead.hidden = true;
      return;
    }
    const width = span.end - span.start;
    const runs = this.index.runs(Math.max(GAP_TOLERANCE_S, width / 2000));
    fill(this.bar, runs.map((run) => {
      const el = h("div", { class: "coverage-run" });
      el.style.left = `${((run.start - span.start) / width) * 100}%`;
      el.style.width = `${Math.max(0.15, ((run.end - run.start) / width) * 100)}%`;
      return el;
    }));
    const gaps = runs.length - 1;
    this.coverage.setAttribute("aria-label", `Media over time: ${gaps ? `${formatCount(gaps)} gaps` : "no gaps"}`);
    fill(this.barLabels,
      h("span", {}, formatTime(span.start, { ms: false })),
      h("span", {}, gaps ? `${formatCount(gaps)} gap${gaps > 1 ? "s" : ""}` : "no gaps"),
      h("span", {}, formatTime(span.end, { ms: false })));
    this.#drawHead();
  }

  #drawHead() {
    const span = this.#span();
    if (!span || this.playhead === null || this.playhead < span.start) {
      this.barHead.hidden = true;
      return;
    }
    this.barHead.hidden = false;
    const ratio = Math.min(1, (this.playhead - span.start) / (span.end - span.start));
    this.barHead.style.left = `${ratio * 100}%`;
  }

  #barClick(event) {
    const span = this.#span();
    if (!span) return;
    const box = this.bar.getBoundingClientRect();
    const ratio = (event.clientX - box.left) / box.width;
    this.onPlay(span.start + ratio * (span.end - span.start));
  }

  destroy() {
    this.observer.disconnect();
  }
}
