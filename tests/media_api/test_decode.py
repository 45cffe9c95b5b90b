"""GetMedia output decodes in PyAV (FFmpeg) frame for frame, in both modes."""

from __future__ import annotations

import io

import av
import pytest

from kvsmock import put_media, read_fragments, sample_mkv


def _decoded_counts(data: bytes) -> dict[str, int]:
    counts: dict[str, int] = {}
    with av.open(io.BytesIO(data)) as container:
        for frame in container.decode(*container.streams):
            kind = "video" if isinstance(frame, av.VideoFrame) else "audio"
            counts[kind] = counts.get(kind, 0) + 1
    return counts


@pytest.mark.parametrize("audio", [False, True], ids=["video", "audio+video"])
def test_get_media_decodes_with_the_input_frame_count(kv, audio):
    media = sample_mkv(duration_s=4, fragment_s=2, audio=audio, start=0)
    expected = _decoded_counts(media)
    assert expected["video"] == 100 and (expected.get("audio", 0) > 0) == audio
    kv.kinesisvideo.create_stream(StreamName="av", DataRetentionInHours=1, MediaType="video/h264,audio/aac")
    acks = put_media("av", media=media, endpoint_url=kv.endpoint_url, session=kv.session(),
                     timecode_type="RELATIVE", producer_start_timestamp=1_700_000_000)
    assert [a["EventType"] for a in acks].count("PERSISTED") == 2
    payload = kv.media("av").get_media(StreamName="av", StartSelector={"StartSelectorType": "EARLIEST"})["Payload"].read()
    fragments = list(read_fragments(payload))
    assert len(fragments) == 2
    if audio:
        assert all({fr.track_number for fr in f.frames} == {1, 2} for f in fragments)
    assert _decoded_counts(payload) == expected
    # Each chunk alone is a complete file too.
    numbers = [f.fragment_number for f in fragments]
    archive = kv.archived_media("av")
    single = archive.get_media_for_fragment_list(StreamName="av", Fragments=[numbers[1]])["Payload"].read()
    assert _decoded_counts(single)["video"] == 50
