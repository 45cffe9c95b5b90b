// The streams of the chosen account and region: a table named "Streams" (followed live), and
// forms to create and delete a stream.

import { ApiError, kvs, listAll, onDataEndpoint, usage } from "./api.js";
import { deleteCell, every, fill, formatBytes, formatCount, formatRetention, h, shortArn } from "./util.js";

const PAGE = 50;

/** Tags and configurations of a stream (four describe calls). */
export async function streamExtras(name, signal) {
  const body = { StreamName: name };
  const quiet = (promise) => promise.catch((error) => ({ error }));
  const [tags, images, notifications, storage] = await Promise.all([
    quiet(kvs("/listTagsForStream", body, { signal })),
    quiet(kvs("/describeImageGenerationConfiguration", body, { signal })),
    quiet(kvs("/describeNotificationConfiguration", body, { signal })),
    quiet(kvs("/describeStreamStorageConfiguration", body, { signal })),
  ]);
  return {
    tags: tags.Tags || {},
    imageGeneration: images.ImageGenerationConfiguration || null,
    notification: notifications.NotificationConfiguration || null,
    storage: storage.StreamStorageConfiguration || null,
  };
}

export function tagsText(tags) {
  const entries = Object.entries(tags || {});
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(", ") : "—";
}

export function imageGenerationText(config) {
  if (!config) return "—";
  const where = config.DestinationConfig?.Uri || "";
  const every = config.SamplingInterval ? `every ${config.SamplingInterval / 1000} s` : "";
  return `${config.Status}${where ? `: ${config.Format || ""} ${every} to ${where}` : ""}`.trim();
}

export function notificationText(config) {
  if (!config) return "—";
  const topic = config.DestinationConfig?.Uri;
  return `${config.Status}${topic ? ` → ${shortArn(topic)}` : ""}`;
}

export function storageText(config) {
  return config?.DefaultStorageTier ? `${config.DefaultStorageTier} tier` : "—";
}

/** [term, value] pairs for a stream's settings (the stream page's facts). */
export async function streamFacts(info, signal) {
  const extras = await streamExtras(info.StreamName, signal);
  return [
    ["Media type", info.MediaType],
    ["Retention", formatRetention(info.DataRetentionInHours)],
    ["KMS key", h("span", { class: "mono", title: info.KmsKeyId }, shortArn(info.KmsKeyId))],
    ["Tags", tagsText(extras.tags)],
    ["Image generation", imageGenerationText(extras.imageGeneration)],
    ["Notifications", notificationText(extras.notification)],
    ["Storage", storageText(extras.storage)],
  ];
}

/** Stored fragments of a stream (ListFragments, every page), remembered while its usage stays the same. */
const fragmentCounts = new Map();
async function fragmentCount(info, usageRow, signal) {
  const key = `${info.StreamARN}`;
  const mark = usageRow ? `${usageRow.IngestedFragments}|${usageRow.StoredBytes}` : "none";
  const known = fragmentCounts.get(key);
  if (known && known.mark === mark) return known.count;
  if (info.DataRetentionInHours === 0) return 0;
  let count = 0;
  let token;
  do {
    const page = await onDataEndpoint(info.StreamName, "LIST_FRAGMENTS", "/listFragments",
      token ? { StreamName: info.StreamName, MaxResults: 1000, NextToken: token } : { StreamName: info.StreamName, MaxResults: 1000 },
      { signal });
    count += (page.Fragments || []).length;
    token = page.NextToken;
  } while (token);
  fragmentCounts.set(key, { mark, count });
  return count;
}

export function streamsView(root, { signal, link }) {
  let offset = 0;
  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const tbody = h("tbody");
  const table = h("table", { class: "grid streams" },
    h("caption", {}, "Streams"),
    h("thead", {}, h("tr", {}, ["Name", "Status", "Media type", "Retention", "KMS key", "Stored", "Fragments", "Tags",
      "Image generation", "Notifications", "Storage", ""].map((c) => h("th", { scope: "col", class: ["Stored", "Fragments"].includes(c) ? "num" : null }, c)))),
    tbody);
  const summary = h("p", { class: "summary", "aria-live": "polite" });
  const pager = h("div", { class: "pager", hidden: true },
    h("button", { type: "button", onclick: () => { offset = Math.max(0, offset - PAGE); refresh(); } }, "Previous"),
    h("button", { type: "button", onclick: () => { offset += PAGE; refresh(); } }, "Next"));

  // ---------------------------------------------------------------- create
  const createForm = h("form", { class: "create", onsubmit: (e) => create(e) },
    h("div", { class: "form-row" },
      h("label", { for: "new-stream-name" }, "Stream name"),
      h("input", { id: "new-stream-name", name: "name", required: true, pattern: "[a-zA-Z0-9_.\\-]+", maxlength: 256, autocomplete: "off" }),
      h("label", { for: "new-stream-retention" }, "Retention (hours)"),
      h("input", { id: "new-stream-retention", name: "retention", type: "number", min: 0, max: 87600, value: "24", class: "narrow" }),
      h("label", { for: "new-stream-media-type" }, "Media type"),
      h("input", { id: "new-stream-media-type", name: "mediaType", value: "video/h264", class: "narrow" })),
    h("div", { class: "form-row" },
      h("label", { for: "new-stream-kms" }, "KMS key (optional)"),
      h("input", { id: "new-stream-kms", name: "kms", placeholder: "alias/aws/kinesisvideo" }),
      h("label", { for: "new-stream-tags" }, "Tags (optional)"),
      h("input", { id: "new-stream-tags", name: "tags", placeholder: "team=video, env=test" }),
      h("button", { type: "submit", class: "primary" }, "Create stream")),
    h("p", { class: "hint", role: "status" }));

  async function create(event) {
    event.preventDefault();
    const form = new FormData(createForm);
    const status = createForm.querySelector("[role=status]");
    const body = {
      StreamName: String(form.get("name")).trim(),
      DataRetentionInHours: Number(form.get("retention") || 0),
      MediaType: String(form.get("mediaType") || "").trim() || undefined,
      KmsKeyId: String(form.get("kms") || "").trim() || undefined,
    };
    const tags = String(form.get("tags") || "").split(",").map((t) => t.trim()).filter(Boolean);
    if (tags.length) body.Tags = Object.fromEntries(tags.map((t) => { const [k, ...v] = t.split("="); return [k.trim(), v.join("=").trim()]; }));
    try {
      await kvs("/createStream", body, { signal });
      status.textContent = `Created ${body.StreamName}.`;
      createForm.reset();
      refresh();
    } catch (error) {
      status.textContent = `CreateStream failed: ${error}`;
    }
  }

  // ---------------------------------------------------------------- delete
  function removeCell(info) {
    return deleteCell(info.StreamName, "DeleteStream", async () => {
      await kvs("/deleteStream", { StreamARN: info.StreamARN, CurrentVersion: info.Version }, { signal });
      refresh();
    });
  }

  // ---------------------------------------------------------------- table
  const rows = new Map(); // ARN -> row state, so that a refresh keeps an open delete confirmation
  const extrasCache = new Map(); // ARN + version -> {at, extras}: tags and configurations, looked up every 15 s

  async function cachedExtras(info, signal) {
    const key = `${info.StreamARN}|${info.Version}`;
    const known = extrasCache.get(key);
    if (known && performance.now() - known.at < 15000) return known.extras;
    const extras = await streamExtras(info.StreamName, signal);
    extrasCache.set(key, { at: performance.now(), extras });
    return extras;
  }

  async function refresh() {
    const [streams, report] = await Promise.all([
      listAll("/listStreams", { MaxResults: 1000 }, "StreamInfoList", { signal }),
      usage(signal).catch(() => ({ Streams: [] })),
    ]);
    problem.hidden = true;
    streams.sort((a, b) => a.StreamName.localeCompare(b.StreamName));
    const usageByArn = new Map((report.Streams || []).map((s) => [s.StreamARN, s]));
    if (offset >= streams.length) offset = Math.max(0, Math.floor((streams.length - 1) / PAGE) * PAGE);
    const page = streams.slice(offset, offset + PAGE);
    pager.hidden = streams.length <= PAGE;
    summary.textContent = streams.length
      ? `${formatCount(streams.length)} stream${streams.length > 1 ? "s" : ""}` +
        (streams.length > PAGE ? `, ${offset + 1}–${offset + page.length} shown` : "")
      : "No streams in this account and region yet.";
    const details = await Promise.all(page.map(async (info) => {
      const used = usageByArn.get(info.StreamARN);
      const [extras, count] = await Promise.all([
        cachedExtras(info, signal),
        fragmentCount(info, used, signal).catch(() => null),
      ]);
      return { info, used, extras, count };
    }));
    const seen = new Set();
    const trs = details.map(({ info, used, extras, count }) => {
      seen.add(info.StreamARN);
      const key = JSON.stringify([info, used?.StoredBytes, extras, count]);
      const known = rows.get(info.StreamARN);
      if (known && known.key === key) return known.tr;
      const tr = h("tr", {},
        h("th", { scope: "row" }, h("a", { href: link(`#/streams/${encodeURIComponent(info.StreamName)}`) }, info.StreamName)),
        h("td", {}, h("span", { class: `badge ${info.Status.toLowerCase()}` }, info.Status)),
        h("td", {}, info.MediaType || "—"),
        h("td", {}, formatRetention(info.DataRetentionInHours)),
        h("td", { class: "mono", title: info.KmsKeyId }, shortArn(info.KmsKeyId)),
        h("td", { class: "num" }, formatBytes(used ? used.StoredBytes : 0)),
        h("td", { class: "num" }, count === null ? "—" : formatCount(count)),
        h("td", {}, tagsText(extras.tags)),
        h("td", {}, imageGenerationText(extras.imageGeneration)),
        h("td", {}, notificationText(extras.notification)),
        h("td", {}, storageText(extras.storage)),
        removeCell(info));
      rows.set(info.StreamARN, { key, tr });
      return tr;
    });
    for (const arn of rows.keys()) if (!seen.has(arn)) rows.delete(arn);
    for (const key of extrasCache.keys()) if (!seen.has(key.split("|")[0])) extrasCache.delete(key);
    fill(tbody, trs.length ? trs : h("tr", {}, h("td", { colspan: 12, class: "empty" }, "No streams.")));
  }

  fill(root,
    h("h1", {}, "Streams"),
    problem,
    h("details", { class: "card create-card" }, h("summary", {}, "Create a stream"), createForm),
    summary,
    h("div", { class: "table-scroll" }, table),
    pager);
  every(3000, signal, refresh, (error) => {
    problem.textContent = error instanceof ApiError ? `Could not list streams: ${error}` : String(error);
    problem.hidden = false;
  });
}
