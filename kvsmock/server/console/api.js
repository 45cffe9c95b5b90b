// kvsmock's public APIs as the console calls them: KVS's REST-JSON operations (POST /listStreams,
// /getDataEndpoint, /getClip, ...) and the server's /_kvsmock/* control API.
//
// The account and region of a KVS call come from the request, as for any SDK: the region from a
// SigV4-shaped Authorization header's credential scope (kvsmock checks no signature), the account
// from moto's x-moto-account-id header. Both are the console's settings (the header's form).
//
// kvsmock enforces the service's rate limits (unless started with --quotas off): the console starts
// at most PER_SECOND calls of one operation a second (under the 50 a second per account that most
// operations allow, so a page of many streams or channels stays inside it), and a call answered
// ClientLimitExceededException anyway is made again after a pause, as a careful client would.

import { sleep } from "./util.js";

export const settings = {
  account: "",
  region: "us-east-1",
};

/** An error answered by kvsmock: the service's error type, HTTP status and message. */
export class ApiError extends Error {
  constructor(status, type, message) {
    super(message || type || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.type = type || "";
  }

  toString() {
    return this.type ? `${this.type}: ${this.message}` : this.message;
  }
}

function credentialDate() {
  return new Date().toISOString().slice(0, 10).replaceAll("-", "");
}

/** The headers that place a KVS call in the chosen account and region. */
export function kvsHeaders() {
  const headers = {
    "Content-Type": "application/json",
    Authorization: `AWS4-HMAC-SHA256 Credential=kvsmock-console/${credentialDate()}/${settings.region}` +
      "/kinesisvideo/aws4_request, SignedHeaders=content-type;host, Signature=unsigned",
  };
  if (settings.account) headers["x-moto-account-id"] = settings.account;
  return headers;
}

async function errorOf(response) {
  let type = response.headers.get("x-amzn-ErrorType") || "";
  let message = "";
  try {
    const body = await response.json();
    message = body.Message || body.message || "";
    type = type || body.__type || "";
  } catch {
    message = `HTTP ${response.status}`;
  }
  return new ApiError(response.status, type.split(":")[0], message);
}

const THROTTLE_RETRIES = 4; // pauses of 250 ms, 500 ms, 1 s and 2 s
const PER_SECOND = 40;
const recent = new Map(); // path -> when its calls of the last second started (performance.now() ms)

/** Waits until one more call of `path` fits in PER_SECOND a second, and counts it. */
async function pace(path, signal) {
  for (;;) {
    const now = performance.now();
    const times = (recent.get(path) || []).filter((t) => now - t < 1000);
    recent.set(path, times);
    if (times.length < PER_SECOND) {
      times.push(now);
      return;
    }
    await sleep(1000 - (now - times[0]) + 5, signal);
  }
}

/** After a pause, true if a call that failed with `error` (attempt `attempt`, from 0) should be made again. */
async function again(error, attempt, signal) {
  if (error.type !== "ClientLimitExceededException" || attempt >= THROTTLE_RETRIES) return false;
  await sleep(250 * 2 ** attempt, signal);
  return true;
}

/**
 * One KVS operation: POST `path` with a JSON body on `endpoint` (default: this server).
 * Returns the parsed JSON, or with `raw` the Response (for media bodies).
 */
export async function kvs(path, body = {}, { endpoint = "", raw = false, signal } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    await pace(path, signal);
    const response = await fetch(endpoint.replace(/\/$/, "") + path, {
      method: "POST",
      headers: kvsHeaders(),
      body: JSON.stringify(body),
      signal,
    });
    if (!response.ok) {
      const error = await errorOf(response);
      if (await again(error, attempt, signal)) continue;
      throw error;
    }
    if (raw) return response;
    const text = await response.text(); // some operations (JoinStorageSession) answer with no body
    return text ? JSON.parse(text) : {};
  }
}

/** Every page of a paginated list operation, joined: `listAll("/listStreams", {}, "StreamInfoList")`. */
export async function listAll(path, body, key, options = {}) {
  const items = [];
  let token;
  do {
    const page = await kvs(path, token ? { ...body, NextToken: token } : body, options);
    items.push(...(page[key] || []));
    token = page.NextToken;
  } while (token);
  return items;
}

const endpoints = new Map();

/** The data endpoint for a stream and APIName (GetDataEndpoint, remembered per account and region). */
export async function dataEndpoint(streamName, apiName, signal) {
  const key = `${settings.account}|${settings.region}|${streamName}|${apiName}`;
  if (!endpoints.has(key)) {
    const answer = await kvs("/getDataEndpoint", { StreamName: streamName, APIName: apiName }, { signal });
    endpoints.set(key, answer.DataEndpoint);
  }
  return endpoints.get(key);
}

/** A KVS media/archived-media operation on the stream's data endpoint for `apiName`. */
export async function onDataEndpoint(streamName, apiName, path, body, options = {}) {
  const endpoint = await dataEndpoint(streamName, apiName, options.signal);
  return kvs(path, body, { ...options, endpoint });
}

/** The signaling endpoints of a channel for a role: {WSS, HTTPS, WEBRTC?}. */
export async function signalingEndpoints(channelArn, role, protocols = ["WSS", "HTTPS"]) {
  const answer = await kvs("/getSignalingChannelEndpoint", {
    ChannelARN: channelArn,
    SingleMasterChannelEndpointConfiguration: { Protocols: protocols, Role: role },
  });
  return Object.fromEntries(answer.ResourceEndpointList.map((e) => [e.Protocol, e.ResourceEndpoint]));
}

/** A /_kvsmock/* control call: GET without a body, POST with one. */
export async function control(path, body, { signal } = {}) {
  const response = await fetch(`/_kvsmock/${path}`, body === undefined ? { signal } : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

/** The usage report of the chosen account and region. */
export function usage(signal) {
  const query = new URLSearchParams({ region: settings.region });
  if (settings.account) query.set("account", settings.account);
  return control(`usage?${query}`, undefined, { signal });
}

/** Fetch a media resource (HLS playlist or segment) as text or bytes; throws ApiError on failure. */
export async function fetchMedia(url, kind, signal) {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(url, { signal });
    if (response.ok) return kind === "text" ? response.text() : response.arrayBuffer();
    const error = await errorOf(response);
    if (!(await again(error, attempt, signal))) throw error;
  }
}
