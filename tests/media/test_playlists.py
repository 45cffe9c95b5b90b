"""The HLS/DASH text builders and the fMP4/TS segment packager, without any service around them."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from fractions import Fraction

import av
import pytest

from kvsmock.media.codecs import codec_string
from kvsmock.media.ebml import UNKNOWN_SIZE_SEGMENT_HEADER
from kvsmock.media.matroska.clusters import cluster_timecode
from kvsmock.media.mp4.boxes import first_tfdt, mdhd_timescale, split_boxes
from kvsmock.media.playlists import (
    KVS_NAMESPACE,
    DashTrack,
    PlaylistEntry,
    dash_manifest,
    hls_master_playlist,
    hls_media_playlist,
    iso_duration,
    iso_timestamp,
)
from kvsmock.media.put_media import FragmentComplete, Fragmenter, HeaderParsed
from kvsmock.media.sample import sample_mkv
from kvsmock.media.segments import fmp4_segment, ts_segment

TOKEN = "CiAtoken~"
NS = {"mpd": "urn:mpeg:dash:schema:mpd:2011"}
T0 = 1_684_331_315_994  # 2023-05-17T13:48:35.994Z


def _entries(n, duration=2000, start=T0, **kw):
    return [PlaylistEntry(f"{91343852333181432392682062607743920146159000000 + i}", duration, start + i * duration, media_time_ms=start + i * duration, **kw) for i in range(n)]


# ----------------------------------------------------------------------- HLS
def test_iso_timestamp_matches_datetime():
    for ms in (0, T0, 1_700_000_000_999, 1_700_006_399_999, 4_102_444_800_000):
        expected = datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
        assert iso_timestamp(ms) == expected
    assert iso_duration(6031) == "PT6.031S" and iso_duration(6000) == "PT6S" and iso_duration(2680) == "PT2.68S"


def test_master_playlist_with_an_audio_rendition():
    text = hls_master_playlist(
        TOKEN, codecs=["avc1.42c032", "mp4a.40.2"], bandwidth=2583047, resolution=(2592, 1944), frame_rate=15.01, audio_track=2
    )
    assert text.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:1",
        f'#EXT-X-MEDIA:AUTOSELECT=YES,FORCED=NO,TYPE=AUDIO,URI="getHLSMediaPlaylist.m3u8?SessionToken={TOKEN}&TrackNumber=2",GROUP-ID="audio",DEFAULT=NO,NAME="audio"',
        '#EXT-X-STREAM-INF:CODECS="avc1.42c032,mp4a.40.2",RESOLUTION=2592x1944,FRAME-RATE=15.01,BANDWIDTH=2583047,AUDIO="audio"',
        f"getHLSMediaPlaylist.m3u8?SessionToken={TOKEN}&TrackNumber=1",
    ]


def test_master_playlist_muxed_and_audio_only():
    muxed = hls_master_playlist(TOKEN, codecs=["avc1.64001f", "mp4a.40.2"], bandwidth=1000, audio_track=2, muxed=True)
    assert "#EXT-X-MEDIA" not in muxed and muxed.splitlines()[-1] == f"getHLSMediaPlaylist.m3u8?SessionToken={TOKEN}"
    audio_only = hls_master_playlist(TOKEN, codecs=["mp4a.40.2"], bandwidth=64000, video_track=None, audio_track=1)
    assert "#EXT-X-MEDIA" not in audio_only and audio_only.endswith("&TrackNumber=1\n")


def test_on_demand_media_playlist_like_the_service():
    entries = [
        PlaylistEntry("1", 2663, T0, discontinuity=True),
        PlaylistEntry("2", 2680, T0 + 2662, discontinuity=True),
    ]
    text = hls_media_playlist(entries, TOKEN, vod=True, ended=True, program_date_time=True, trailing_discontinuity=True)
    assert text.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-TARGETDURATION:3",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-DISCONTINUITY",
        f'#EXT-X-MAP:URI="getMP4InitFragment.mp4?SessionToken={TOKEN}&TrackNumber=1&SequenceNumber=0"',
        "#EXT-X-PROGRAM-DATE-TIME:2023-05-17T13:48:35.994Z",
        "#EXTINF:2.663,",
        f"getMP4MediaFragment.mp4?FragmentNumber=1&SessionToken={TOKEN}&TrackNumber=1",
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-PROGRAM-DATE-TIME:2023-05-17T13:48:38.656Z",
        "#EXTINF:2.68,",
        f"getMP4MediaFragment.mp4?FragmentNumber=2&SessionToken={TOKEN}&TrackNumber=1",
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-ENDLIST",
    ]


def test_live_media_playlist_and_init_changes():
    entries = _entries(3, 2000)
    entries[2] = PlaylistEntry("x", 4001, T0, discontinuity=True, init_sequence=1)
    text = hls_media_playlist(entries, TOKEN, track_number=2, media_sequence=17, discontinuity_sequence=4)
    lines = text.splitlines()
    assert "#EXT-X-PLAYLIST-TYPE:VOD" not in lines and "#EXT-X-ENDLIST" not in lines
    assert "#EXT-X-MEDIA-SEQUENCE:17" in lines and "#EXT-X-DISCONTINUITY-SEQUENCE:4" in lines
    assert "#EXT-X-TARGETDURATION:5" in lines  # 4.001 s rounds up
    maps = [line for line in lines if line.startswith("#EXT-X-MAP")]
    assert [m[-3:] for m in maps] == ['=0"', '=1"'] and all("TrackNumber=2" in m for m in maps)
    # The new init segment follows the discontinuity that announces it.
    i = lines.index(maps[1])
    assert lines[i - 1] == "#EXT-X-DISCONTINUITY" and lines[i + 1] == "#EXTINF:4.001,"


def test_ts_media_playlist():
    text = hls_media_playlist(_entries(2), TOKEN, mpeg_ts=True, vod=True, ended=True)
    assert "#EXT-X-VERSION:3" in text and "#EXT-X-MAP" not in text
    assert "getTSFragment.ts?FragmentNumber=91343852333181432392682062607743920146159000001&SessionToken=CiAtoken~\n" in text


def test_program_date_times_across_minute_and_day_boundaries():
    start = 1_700_006_399_000 - 59_000  # a minute before midnight UTC
    entries = [PlaylistEntry(str(i), 1500, start + i * 1537) for i in range(100)]
    entries.insert(50, PlaylistEntry("back", 1500, start - 3_600_000))  # out of order on purpose
    text = hls_media_playlist(entries, TOKEN, program_date_time=True)
    shown = [line.split(":", 1)[1] for line in text.splitlines() if line.startswith("#EXT-X-PROGRAM-DATE-TIME")]
    assert shown == [iso_timestamp(e.timestamp_ms) for e in entries]


def test_media_playlist_of_ten_thousand_fragments():
    # How long it takes is benchmarks/playlist.py's to measure, not a test's.
    entries = _entries(10_000, discontinuity=True)
    text = hls_media_playlist(entries, TOKEN, program_date_time=True, vod=True, ended=True)
    assert text.count("#EXTINF") == 10_000
    assert text.count("#EXT-X-DISCONTINUITY") == text.count("#EXT-X-PROGRAM-DATE-TIME") == 10_000
    assert text.rstrip().endswith("#EXT-X-ENDLIST")


# ---------------------------------------------------------------------- DASH
def _parse(text):
    return ET.fromstring(text.encode())


def test_static_mpd():
    tracks = [DashTrack(1, "video", "avc1.64000d", 150_000, 320, 240, 25.0), DashTrack(2, "audio", "mp4a.40.2", 128_000, sample_rate=48000, channels=1)]
    text = dash_manifest(_entries(3), TOKEN, tracks, dynamic=False, start_number=0, presentation_time_offset_ms=T0)
    root = _parse(text)
    assert root.get("type") == "static" and root.get("mediaPresentationDuration") == "PT6S"
    sets = root.findall("mpd:Period/mpd:AdaptationSet", NS)
    assert [s.get("contentType") for s in sets] == ["video", "audio"]
    rep = sets[0].find("mpd:Representation", NS)
    assert (rep.get("codecs"), rep.get("width"), rep.get("height"), rep.get("frameRate")) == ("avc1.64000d", "320", "240", "25")
    template = rep.find("mpd:SegmentTemplate", NS)
    assert template.get("media") == f"getMP4MediaFragment.mp4?SessionToken={TOKEN}&TrackNumber=1&SequenceNumber=$Number$"
    assert template.get("initialization") == f"getMP4InitFragment.mp4?SessionToken={TOKEN}&TrackNumber=1"
    assert template.get("presentationTimeOffset") == str(T0) and template.get("timescale") == "1000"
    (s,) = template.findall("mpd:SegmentTimeline/mpd:S", NS)  # three equal, back-to-back segments fold into one S
    assert (s.get("t"), s.get("d"), s.get("r")) == (str(T0), "2000", "2")
    audio = sets[1].find("mpd:Representation", NS)
    assert audio.get("audioSamplingRate") == "48000"
    assert audio.find("mpd:AudioChannelConfiguration", NS).get("value") == "1"


def test_dynamic_mpd_with_kvs_attributes():
    entries = _entries(2) + [PlaylistEntry("late", 1000, T0 + 9000, media_time_ms=T0 + 4000)]
    text = dash_manifest(
        entries,
        TOKEN,
        [DashTrack(1, "video", "hvc1.1.6.L93.B0", 1000)],
        dynamic=True,
        start_number=7,
        availability_start_ms=T0,
        publish_ms=T0 + 5000,
        display_timestamp=True,
        display_fragment_number=True,
    )
    root = _parse(text)
    assert root.get("type") == "dynamic" and root.get("minimumUpdatePeriod") == "PT1S"
    assert root.get("availabilityStartTime") == "2023-05-17T13:48:35.994Z" and root.get("publishTime") == "2023-05-17T13:48:40.994Z"
    template = root.find("mpd:Period/mpd:AdaptationSet/mpd:Representation/mpd:SegmentTemplate", NS)
    assert template.get("startNumber") == "7"
    s = template.findall("mpd:SegmentTimeline/mpd:S", NS)
    assert [x.get(f"{{{KVS_NAMESPACE}}}fn") for x in s] == [e.fragment_number for e in entries]
    assert [x.get(f"{{{KVS_NAMESPACE}}}ts") for x in s] == [str(e.timestamp_ms) for e in entries]
    assert all(x.get("r") is None for x in s)


# ------------------------------------------------------------------ segments
@pytest.fixture(scope="module")
def fragments():
    """(one-fragment MKV files, cluster timecodes) of 6 s of H.264 + AAC in 2-s fragments."""
    fragmenter = Fragmenter()
    events = fragmenter.feed(sample_mkv(duration_s=6, fragment_s=2, audio=True, start=0)) + fragmenter.close()
    header = next(e for e in events if isinstance(e, HeaderParsed))
    clusters = [e.fragment.cluster_bytes for e in events if isinstance(e, FragmentComplete)]
    files = [header.ebml_header + UNKNOWN_SIZE_SEGMENT_HEADER + header.header_bytes + c for c in clusters]
    return files, [cluster_timecode(c) for c in clusters], header.tracks


def test_fmp4_segments_start_where_they_are_told(fragments):
    files, timecodes, _ = fragments
    assert timecodes == [0, 2000, 4000]
    start = Fraction(1_700_000_000)
    init, media = None, []
    for file, timecode in zip(files, timecodes):
        segment = fmp4_segment(file, 0, start)  # cluster time t lands on start + t
        assert [b[0] for b in split_boxes(segment.init)] == ["ftyp", "moov"]
        assert [b[0] for b in split_boxes(segment.media)] == ["moof", "mdat"]
        assert segment.timescale == mdhd_timescale(segment.init) == 90_000
        assert segment.base_media_decode_time == first_tfdt(segment.media) == (1_700_000_000_000 + timecode) * 90
        init = init or segment.init
        media.append(segment.media)
    with av.open(io.BytesIO(init + b"".join(media))) as c:
        times = [f.time for f in c.decode(video=0)]
    assert len(times) == 150 and times[0] == 1_700_000_000 and times == sorted(times)
    audio = fmp4_segment(files[1], 1, start)
    assert audio.timescale == 48_000 and audio.base_media_decode_time // 48_000 == 1_700_000_002


def test_ts_segment_keeps_pts(fragments):
    files, _, _ = fragments
    data = ts_segment(files[2], Fraction(100))
    with av.open(io.BytesIO(data), format="mpegts") as c:
        assert {s.type for s in c.streams} == {"video", "audio"}
        frames = [f.pts for f in c.decode(video=0)]
    assert len(frames) == 50 and frames[0] == 104 * 90_000


def test_codec_strings(fragments):
    _, _, tracks = fragments
    video, audio = tracks
    assert codec_string(video.codec_id, video.codec_private) == "avc1." + video.codec_private[1:4].hex()
    assert codec_string(audio.codec_id, audio.codec_private) == "mp4a.40.2"
    # An HEVCDecoderConfigurationRecord of Main profile, level 3.1, as in RFC 6381's examples.
    hvcc = bytes([1, 0x01, 0x60, 0, 0, 0, 0xB0, 0, 0, 0, 0, 0, 93]) + bytes(10)
    assert codec_string("V_MPEGH/ISO/HEVC", hvcc) == "hvc1.1.6.L93.B0"
    assert codec_string("V_VP8", b"") is None
