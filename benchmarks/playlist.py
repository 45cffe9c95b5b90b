"""HLS/DASH benchmark: building playlists for a stream of 10,000 fragments, and packaging segments.

Prints, from one run (best of N, since this machine is shared and noisy):

(a) the pure builders (kvsmock.media.playlists) on 10,000 entries: an HLS
    media playlist plain, with #EXT-X-DISCONTINUITY + #EXT-X-PROGRAM-DATE-TIME
    on every entry, as MPEG-TS, and a DASH MPD with and without kvs:ts/kvs:fn
    (target: a 10,000-fragment media playlist in under 10 ms);
(b) end to end in-process (boto3 / requests through moto to kvsmock), on a
    stream holding 10,000 fragments: making an ON_DEMAND session over all of
    them (MaxMediaPlaylistFragmentResults 5000, the service's maximum),
    fetching its media playlist (first time, and again), and a LIVE
    session's playlist refresh;
(c) packaging one 2-s H.264 fragment as fMP4 and as MPEG-TS with PyAV
    (first fetch, remuxed) and again (from the segment cache): a 320x240 one,
    and a 720p one at ~4 Mbit/s (target: a cold 720p segment in 8 ms or less).

Quotas are off in (b) and (c) (``kvsmock.quotas.set("off")``): a 5,000-entry
playlist fetched a few times a second costs more than the stream's 10,000
fragment-metadata points a second.

    python benchmarks/playlist.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import kvsmock  # noqa: E402
from kvsmock import clock, mock_kinesisvideo, put_media, sample_mkv  # noqa: E402
from kvsmock.api.moto_glue import backend_for  # noqa: E402
from kvsmock.media.playlists import DashTrack, PlaylistEntry, dash_manifest, hls_media_playlist  # noqa: E402
from kvsmock.service.playback.tokens import new_token  # noqa: E402
from clip import FRAGMENT_S, media as hd_media  # noqa: E402
from media import host_speed  # noqa: E402
from report import publish  # noqa: E402

N = 10_000
START = 1_700_000_000


def best_of(rounds: int, fn) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def pure_builders(rounds: int) -> list[tuple[str, float, str]]:
    token = new_token("123456789012", "us-east-1")
    entries = [
        PlaylistEntry(f"{91343852333181432392682062607743920146159000000 + i}", 2000 + i % 3, START * 1000 + i * 2000, True, 0, START * 1000 + i * 2000)
        for i in range(N)
    ]
    plain = [replace(e, discontinuity=False) for e in entries]
    tracks = [DashTrack(1, "video", "avc1.64001f", 2_000_000, 1280, 720, 25.0), DashTrack(2, "audio", "mp4a.40.2", 128_000, sample_rate=48000, channels=2)]
    rows = []

    def row(name, fn):
        text = fn()
        rows.append((name, best_of(rounds, fn), f"{len(text) / 1e6:.2f} MB"))

    row("HLS media playlist, fMP4", lambda: hls_media_playlist(plain, token, vod=True, ended=True))
    row(
        "HLS media playlist, fMP4, DISCONTINUITY + PROGRAM-DATE-TIME on every entry",
        lambda: hls_media_playlist(entries, token, vod=True, ended=True, program_date_time=True, trailing_discontinuity=True),
    )
    row("HLS media playlist, MPEG-TS", lambda: hls_media_playlist(plain, token, mpeg_ts=True, vod=True, ended=True))
    row("DASH MPD, 2 tracks, timeline folded", lambda: dash_manifest(plain, token, tracks, dynamic=False))
    row(
        "DASH MPD, 2 tracks, kvs:ts + kvs:fn on every S",
        lambda: dash_manifest(entries, token, tracks, dynamic=False, display_timestamp=True, display_fragment_number=True),
    )
    return rows


def end_to_end(rounds: int) -> tuple[list[tuple[str, float, str]], list[tuple[str, float, str]]]:
    rows, packaging = [], []
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    kvsmock.quotas.set("off")  # see the module docstring
    with mock_kinesisvideo():
        import boto3

        kv = boto3.client("kinesisvideo", region_name="us-east-1")
        kv.create_stream(StreamName="big", DataRetentionInHours=24)
        put_media("big", media=sample_mkv(duration_s=2, fragment_s=2, start=0), region_name="us-east-1", timecode_type="RELATIVE", producer_start_timestamp=START)
        stream = backend_for("123456789012", "us-east-1").streams["big"]
        template = stream.store.snapshot()[0]
        base = clock.now() - 2 * N
        for i in range(N - 1):  # clones of the real fragment: 10,000 in all, 2 s apart
            stream.store.add(
                replace(
                    template,
                    number=stream.store.next_number(),
                    producer_timestamp=START + 2 * (i + 1),
                    server_timestamp=round(base + 2 * (i + 1), 3),
                )
            )
        endpoint = kv.get_data_endpoint(StreamName="big", APIName="GET_HLS_STREAMING_SESSION_URL")["DataEndpoint"]
        archive = boto3.client("kinesis-video-archived-media", region_name="us-east-1", endpoint_url=endpoint)
        selector = {"FragmentSelectorType": "PRODUCER_TIMESTAMP", "TimestampRange": {"StartTimestamp": START, "EndTimestamp": START + 2 * N}}

        def on_demand():
            return archive.get_hls_streaming_session_url(
                StreamName="big", PlaybackMode="ON_DEMAND", HLSFragmentSelector=selector, MaxMediaPlaylistFragmentResults=5000
            )["HLSStreamingSessionURL"]

        # GetHLSStreamingSessionURL through boto3 and moto (25 per second per stream: keep rounds spaced).
        rows.append(("GetHLSStreamingSessionURL ON_DEMAND, 10,000 fragments stored, 5,000 listed (boto3 + moto)", best_of(min(rounds, 5), lambda: (on_demand(), time.sleep(0.05))) - 0.05, ""))
        first_fetch = float("inf")
        for _ in range(min(rounds, 5)):
            url = on_demand()
            playlist = url.replace("getHLSMasterPlaylist", "getHLSMediaPlaylist") + "&TrackNumber=1"
            started = time.perf_counter()
            text = requests.get(playlist).text
            first_fetch = min(first_fetch, time.perf_counter() - started)
            time.sleep(0.05)
        rows.append(("GET media playlist, ON_DEMAND, 5,000 entries, first fetch (requests + moto)", first_fetch, f"{len(text) / 1e6:.2f} MB"))
        rows.append(("GET media playlist, ON_DEMAND, 5,000 entries, again (rendered once per session)", best_of(min(rounds, 4), lambda: (requests.get(playlist), time.sleep(0.21))) - 0.21, ""))

        live = archive.get_hls_streaming_session_url(StreamName="big", MaxMediaPlaylistFragmentResults=5)["HLSStreamingSessionURL"]
        live_playlist = live.replace("getHLSMasterPlaylist", "getHLSMediaPlaylist") + "&TrackNumber=1"
        requests.get(live_playlist)
        rows.append(("GET media playlist, LIVE refresh, 5 entries (requests + moto)", best_of(min(rounds, 4), lambda: (requests.get(live_playlist), time.sleep(0.21))) - 0.21, ""))

        # Segment packaging of one real fragment (a fresh session each time, so the first fetch remuxes): the
        # 320x240 fragment above, and a 720p one at ~4 Mbit/s (the cold-segment target: <= 8 ms).
        kv.create_stream(StreamName="hd", DataRetentionInHours=24)
        put_media("hd", media=hd_media(FRAGMENT_S), region_name="us-east-1", timecode_type="RELATIVE",
                  producer_start_timestamp=START)
        hd = backend_for("123456789012", "us-east-1").streams["hd"].store.snapshot()[0]
        hd_archive = boto3.client("kinesis-video-archived-media", region_name="us-east-1",
                                  endpoint_url=kv.get_data_endpoint(StreamName="hd", APIName="GET_HLS_STREAMING_SESSION_URL")["DataEndpoint"])
        for name, client, fragment, picture in (("big", archive, template, "320x240"), ("hd", hd_archive, hd, "1280x720")):
            for container, resource in (("FRAGMENTED_MP4", "getMP4MediaFragment.mp4"), ("MPEG_TS", "getTSFragment.ts")):
                first = second = float("inf")
                for i in range(min(rounds, 5)):
                    backend_for("123456789012", "us-east-1").segments.clear()
                    session_url = client.get_hls_streaming_session_url(
                        StreamName=name, PlaybackMode="ON_DEMAND", ContainerFormat=container, HLSFragmentSelector=selector, MaxMediaPlaylistFragmentResults=1
                    )["HLSStreamingSessionURL"]
                    token = session_url.split("SessionToken=")[1]
                    segment = session_url.split("getHLSMasterPlaylist")[0] + f"{resource}?FragmentNumber={fragment.number}&SessionToken={token}&TrackNumber=1"
                    t0 = time.perf_counter()
                    size = len(requests.get(segment).content)
                    t1 = time.perf_counter()
                    requests.get(segment)
                    t2 = time.perf_counter()
                    first, second = min(first, t1 - t0), min(second, t2 - t1)
                    time.sleep(0.05)
                packaging.append((f"{resource}, {picture} 2-s fragment, first fetch (PyAV remux)", first, f"{size / 1e3:.0f} kB"))
                packaging.append((f"{resource}, {picture} 2-s fragment, again (segment cache)", second, ""))
    return rows, packaging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    speed = host_speed()
    pure = pure_builders(args.rounds)
    service, packaging = end_to_end(args.rounds)
    intro = [
        f"Playlist benchmark: a stream of {N:,} fragments of 2 s; best of up to {args.rounds} rounds; {os.cpu_count()} CPUs (shared machine); "
        "(b) and (c) with quotas off (playlists fetched faster than the stream's fragment-metadata quota allows). "
        f"Host: at the start, {speed}."
    ]
    table = [
        (f"{section} {name}", f"{seconds * 1000:.2f} ms", note)
        for section, rows in (("(a)", pure), ("(b)", service), ("(c)", packaging))
        for name, seconds, note in rows
    ]
    publish("playlist", intro, ["measure", "time", "size / note"], ["---", "---:", "---"], table,
            footer=["Targets: (a) a 10,000-fragment media playlist in under 10 ms; (c) a cold 720p segment in 8 ms or less."])


if __name__ == "__main__":
    main()
