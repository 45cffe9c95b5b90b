"""Real producer output in, GetMedia layout compared with a real GetMedia capture."""

from __future__ import annotations

from kvsmock import put_media, read_fragments
from kvsmock.media import ebml
from kvsmock.media.matroska.tags import parse_tags

# Reference captures, found by the ``reference_media`` fixture (tests/conftest.py: $KVSMOCK_REFERENCE_MEDIA,
# else ../shared/reference-media beside the clone); a test skips when its capture is absent.
PRODUCER_BODY = "producer-c-putmedia-body.mkv"
GET_MEDIA_CAPTURE = "output_get_media.mkv"

LEVEL1 = {ebml.SEEK_HEAD, ebml.INFO, ebml.TRACKS, ebml.CLUSTER, ebml.CUES, ebml.CHAPTERS, ebml.ATTACHMENTS, ebml.TAGS}
NAMES = {
    ebml.EBML: "EBML", ebml.SEEK_HEAD: "SeekHead", ebml.INFO: "Info", ebml.TRACKS: "Tracks",
    ebml.CLUSTER: "Cluster", ebml.CUES: "Cues", ebml.TAGS: "Tags", ebml.VOID: "Void",
}
LEADING = ["AWS_KINESISVIDEO_FRAGMENT_NUMBER", "AWS_KINESISVIDEO_SERVER_TIMESTAMP", "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP"]
TRAILING = ["AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", "AWS_KINESISVIDEO_CONTINUATION_TOKEN"]


def top_level(data: bytes) -> list[tuple[str, int, int, object]]:
    """(name, start, end, extra) of each EBML header, Segment and Segment child.

    Unknown-size Clusters end at the next Segment-level element. ``extra`` is
    the SimpleTag names for Tags, the unknown-size flag for Segments.
    """
    out = []
    pos = 0
    while pos < len(data):
        element_id, size, header_len = ebml.read_element_header(data, pos)
        if element_id == ebml.SEGMENT:
            out.append(("Segment", pos, pos + header_len, size is None))
            pos += header_len  # descend: its children are listed at this level
            continue
        if size is None:
            end = pos + header_len
            while end < len(data):
                child_id, child_size, child_len = ebml.read_element_header(data, end)
                if child_id in LEVEL1 or child_id in (ebml.EBML, ebml.SEGMENT):
                    break
                end += child_len + child_size
        else:
            end = pos + header_len + size
        extra = None
        if element_id == ebml.TAGS:
            extra = [name for name, _ in parse_tags(data[pos + header_len : end])]
        out.append((NAMES.get(element_id, f"{element_id:X}"), pos, end, extra))
        pos = end
    return out


def chunks(data: bytes) -> list[list[tuple]]:
    """The top-level elements grouped per GetMedia chunk (each starts with an EBML header)."""
    groups: list[list[tuple]] = []
    for item in top_level(data):
        if item[0] == "EBML":
            groups.append([])
        groups[-1].append(item)
    return groups


def shape(chunk: list[tuple]) -> list[str]:
    """The chunk's layout with producer-specific elements (SeekHead, Void, Cues, producer Tags) left out."""
    out = []
    for name, _, _, extra in chunk:
        if name == "Segment":
            out.append("Segment(unknown size)" if extra else "Segment(sized)")
        elif name == "Tags":
            if extra == LEADING:
                out.append("KVS leading Tags")
            elif extra == TRAILING:
                out.append("KVS trailing Tags")
            elif any(n.startswith("AWS_KINESISVIDEO_") and n != "AWS_KINESISVIDEO_END_OF_FRAGMENT" for n in extra):
                out.append(f"KVS Tags {extra}")  # anything else KVS-made shows up as a difference
        elif name in ("EBML", "Info", "Tracks", "Cluster"):
            out.append(name)
    return out


def ack_types(acks: list[dict]) -> list[str]:
    """The ACK event types in order, IDLE left out (the server sends one after 2 s without another ACK)."""
    return [a["EventType"] for a in acks if a["EventType"] != "IDLE"]


def test_reference_capture_layout(reference_media):
    """The capture itself has the documented layout (guards the helpers above)."""
    groups = chunks(reference_media(GET_MEDIA_CAPTURE).read_bytes())
    assert len(groups) == 5
    for group in groups:
        assert shape(group) == [
            "EBML", "Segment(unknown size)", "Info", "Tracks", "KVS leading Tags", "Cluster", "KVS trailing Tags"
        ]


def test_producer_c_body_ingested_and_returned(kv, reference_media):
    body = reference_media(PRODUCER_BODY).read_bytes()
    capture = reference_media(GET_MEDIA_CAPTURE).read_bytes()
    elements = top_level(body)
    clusters = [(start, end) for name, start, end, _ in elements if name == "Cluster"]
    source = list(read_fragments(body))
    assert len(source) == len(clusters) >= 2
    timecodes = [f.cluster_timecode for f in source]

    kv.kinesisvideo.create_stream(StreamName="producer-c", DataRetentionInHours=2)
    acks = put_media("producer-c", media=body, endpoint_url=kv.endpoint_url, session=kv.session(),
                     timecode_type="ABSOLUTE", producer_start_timestamp=0)
    assert ack_types(acks) == ["BUFFERING", "RECEIVED", "PERSISTED"] * len(clusters)
    assert [a["FragmentTimecode"] for a in acks if a["EventType"] == "PERSISTED"] == timecodes
    numbers = [a["FragmentNumber"] for a in acks if a["EventType"] == "PERSISTED"]

    listed = kv.archived_media("producer-c").list_fragments(StreamName="producer-c")["Fragments"]
    listed.sort(key=lambda f: f["FragmentNumber"])
    assert [f["FragmentNumber"] for f in listed] == numbers
    assert [f["ProducerTimestamp"].timestamp() for f in listed] == [t / 1000 for t in timecodes]

    payload = kv.media("producer-c").get_media(
        StreamName="producer-c", StartSelector={"StartSelectorType": "EARLIEST"}
    )["Payload"].read()
    returned = list(read_fragments(payload))
    assert [f.fragment_number for f in returned] == numbers
    assert [f.producer_timestamp for f in returned] == [t / 1000 for t in timecodes]
    assert [f.cluster_timecode for f in returned] == timecodes  # Cluster bytes are not rewritten
    assert [[fr.data for fr in f.frames] for f in returned] == [[fr.data for fr in f.frames] for f in source]
    assert [[(fr.track_number, fr.timecode_ms, fr.keyframe) for fr in f.frames] for f in returned] == [
        [(fr.track_number, fr.timecode_ms, fr.keyframe) for fr in f.frames] for f in source
    ]
    # The producer's metadata Tags after each cluster come back with it.
    assert [{k: v for k, v in f.tags.items() if k.startswith("TEST_")} for f in returned] == [
        {k: v for k, v in f.tags.items() if k.startswith("TEST_")} for f in source
    ]

    # Same chunk layout as the real service's GetMedia capture.
    reference_shape = shape(chunks(capture)[0])
    groups = chunks(payload)
    assert len(groups) == len(clusters)
    for group, (start, end) in zip(groups, clusters):
        assert shape(group) == reference_shape
        cluster = next((s, e) for name, s, e, _ in group if name == "Cluster")
        assert payload[cluster[0] : cluster[1]] == body[start:end]
