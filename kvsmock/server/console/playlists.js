// The parts of HLS playlists (RFC 8216) the console's player needs: the master playlist's video
// rendition and codecs, and a media playlist's segments with their init segment, fragment number,
// producer timestamp (EXT-X-PROGRAM-DATE-TIME) and duration.

function attributes(text) {
  const out = {};
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
  let m;
  while ((m = re.exec(text))) out[m[1]] = m[2].replace(/^"|"$/g, "");
  return out;
}

/** {mediaUrl, codec (the video codec), resolution} of a master playlist fetched from `url`. */
export function parseMaster(text, url) {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    if (!lines[i].startsWith("#EXT-X-STREAM-INF:")) continue;
    const attrs = attributes(lines[i].slice("#EXT-X-STREAM-INF:".length));
    const uri = lines.slice(i + 1).find((line) => line && !line.startsWith("#"));
    const codecs = (attrs.CODECS || "").split(",").map((c) => c.trim());
    const video = codecs.find((c) => /^(avc|hvc|hev)/.test(c)) || codecs[0];
    return { mediaUrl: new URL(uri, url).href, codec: video, allCodecs: codecs, resolution: attrs.RESOLUTION };
  }
  throw new Error("The master playlist lists no stream.");
}

/**
 * A media playlist: {segments: [{url, initUrl, fragmentNumber, start, duration, discontinuity}],
 * ended, targetDuration}. `start` is the producer timestamp (epoch seconds) from
 * EXT-X-PROGRAM-DATE-TIME; the session is made with DisplayFragmentTimestamp ALWAYS.
 */
export function parseMedia(text, url) {
  const segments = [];
  let initUrl = null;
  let duration = 0;
  let start = null;
  let discontinuity = false;
  let targetDuration = 2;
  let ended = false;
  for (const line of text.split(/\r?\n/)) {
    if (!line) continue;
    if (line.startsWith("#EXT-X-MAP:")) {
      initUrl = new URL(attributes(line.slice(11)).URI, url).href;
    } else if (line.startsWith("#EXTINF:")) {
      duration = parseFloat(line.slice(8));
    } else if (line.startsWith("#EXT-X-PROGRAM-DATE-TIME:")) {
      start = Date.parse(line.slice(25)) / 1000;
    } else if (line.startsWith("#EXT-X-DISCONTINUITY")) {
      discontinuity = true;
    } else if (line.startsWith("#EXT-X-TARGETDURATION:")) {
      targetDuration = parseFloat(line.slice(22));
    } else if (line.startsWith("#EXT-X-ENDLIST")) {
      ended = true;
    } else if (!line.startsWith("#")) {
      const segmentUrl = new URL(line, url);
      segments.push({
        url: segmentUrl.href,
        initUrl,
        fragmentNumber: segmentUrl.searchParams.get("FragmentNumber"),
        start,
        duration,
        end: start + duration,
        discontinuity,
      });
      start = null;
      discontinuity = false;
    }
  }
  return { segments, ended, targetDuration };
}
