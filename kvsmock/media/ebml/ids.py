"""Element IDs: the EBML header's and Matroska's, with their names, and the IDs that end a Cluster.

An ID keeps its marker bits (``0x1A45DFA3``), as it is written. Only the
elements kvsmock reads, writes or checks are listed; :data:`ID_NAMES`
names them in error messages.
"""

from __future__ import annotations

__all__ = [
    "ATTACHMENTS",
    "AUDIO",
    "BIT_DEPTH",
    "BLOCK",
    "BLOCK_ADDITIONS",
    "BLOCK_DURATION",
    "BLOCK_GROUP",
    "CHANNELS",
    "CHAPTERS",
    "CLUSTER",
    "CLUSTER_ENDERS",
    "CODEC_DELAY",
    "CODEC_ID",
    "CODEC_NAME",
    "CODEC_PRIVATE",
    "CRC32",
    "CUES",
    "DATE_UTC",
    "DEFAULT_DURATION",
    "DISCARD_PADDING",
    "DOC_TYPE",
    "DOC_TYPE_READ_VERSION",
    "DOC_TYPE_VERSION",
    "DURATION",
    "EBML",
    "EBML_MAX_ID_LENGTH",
    "EBML_MAX_SIZE_LENGTH",
    "EBML_READ_VERSION",
    "EBML_VERSION",
    "ENCRYPTED_BLOCK",
    "FLAG_LACING",
    "ID_NAMES",
    "INFO",
    "LANGUAGE",
    "MUXING_APP",
    "PIXEL_HEIGHT",
    "PIXEL_WIDTH",
    "POSITION",
    "PREV_SIZE",
    "REFERENCE_BLOCK",
    "SAMPLING_FREQUENCY",
    "SEEK",
    "SEEK_HEAD",
    "SEEK_ID",
    "SEEK_POSITION",
    "SEEK_PRE_ROLL",
    "SEGMENT",
    "SEGMENT_UID",
    "SILENT_TRACKS",
    "SIMPLE_BLOCK",
    "SIMPLE_TAG",
    "TAG",
    "TAGS",
    "TAG_BINARY",
    "TAG_DEFAULT",
    "TAG_LANGUAGE",
    "TAG_NAME",
    "TAG_STRING",
    "TARGETS",
    "TIMECODE",
    "TIMECODE_SCALE",
    "TITLE",
    "TRACKS",
    "TRACK_ENTRY",
    "TRACK_NAME",
    "TRACK_NUMBER",
    "TRACK_TYPE",
    "TRACK_TYPE_AUDIO",
    "TRACK_TYPE_VIDEO",
    "TRACK_UID",
    "VIDEO",
    "VOID",
    "WRITING_APP",
]

# EBML header and its children
EBML = 0x1A45DFA3
EBML_VERSION = 0x4286
EBML_READ_VERSION = 0x42F7
EBML_MAX_ID_LENGTH = 0x42F2
EBML_MAX_SIZE_LENGTH = 0x42F3
DOC_TYPE = 0x4282
DOC_TYPE_VERSION = 0x4287
DOC_TYPE_READ_VERSION = 0x4285
# global elements, allowed anywhere
VOID = 0xEC
CRC32 = 0xBF
# Segment and its top-level children
SEGMENT = 0x18538067
SEEK_HEAD = 0x114D9B74
SEEK = 0x4DBB
SEEK_ID = 0x53AB
SEEK_POSITION = 0x53AC
INFO = 0x1549A966
TRACKS = 0x1654AE6B
CLUSTER = 0x1F43B675
CUES = 0x1C53BB6B
CHAPTERS = 0x1043A770
ATTACHMENTS = 0x1941A469
TAGS = 0x1254C367
# Info children
SEGMENT_UID = 0x73A4
TIMECODE_SCALE = 0x2AD7B1
DURATION = 0x4489  # float
DATE_UTC = 0x4461
TITLE = 0x7BA9
MUXING_APP = 0x4D80
WRITING_APP = 0x5741
# Tracks children
TRACK_ENTRY = 0xAE
TRACK_NUMBER = 0xD7
TRACK_UID = 0x73C5
TRACK_TYPE = 0x83
FLAG_LACING = 0x9C
DEFAULT_DURATION = 0x23E383
TRACK_NAME = 0x536E
LANGUAGE = 0x22B59C
CODEC_ID = 0x86
CODEC_PRIVATE = 0x63A2
CODEC_NAME = 0x258688
CODEC_DELAY = 0x56AA
SEEK_PRE_ROLL = 0x56BB
VIDEO = 0xE0
PIXEL_WIDTH = 0xB0
PIXEL_HEIGHT = 0xBA
AUDIO = 0xE1
SAMPLING_FREQUENCY = 0xB5  # float
CHANNELS = 0x9F
BIT_DEPTH = 0x6264
# Cluster children
TIMECODE = 0xE7
POSITION = 0xA7
PREV_SIZE = 0xAB
SILENT_TRACKS = 0x5854
SIMPLE_BLOCK = 0xA3
BLOCK_GROUP = 0xA0
ENCRYPTED_BLOCK = 0xAF
# BlockGroup children
BLOCK = 0xA1
BLOCK_DURATION = 0x9B
REFERENCE_BLOCK = 0xFB
BLOCK_ADDITIONS = 0x75A1
DISCARD_PADDING = 0x75A2
# Tags children
TAG = 0x7373
TARGETS = 0x63C0
SIMPLE_TAG = 0x67C8
TAG_NAME = 0x45A3
TAG_LANGUAGE = 0x447A
TAG_DEFAULT = 0x4484
TAG_STRING = 0x4487
TAG_BINARY = 0x4485

#: Human-readable names, for error messages and debugging dumps.
ID_NAMES: dict[int, str] = {
    value: name
    for name, value in list(globals().items())
    if name.isupper() and isinstance(value, int) and not name.startswith("_")
}

#: Track types (TrackType element values).
TRACK_TYPE_VIDEO = 1
TRACK_TYPE_AUDIO = 2

#: Elements that end an unknown-size Cluster: none of them can be a Cluster child.
CLUSTER_ENDERS = frozenset(
    {
        CLUSTER,
        TAGS,
        CUES,
        SEEK_HEAD,
        INFO,
        TRACKS,
        CHAPTERS,
        ATTACHMENTS,
        EBML,
        SEGMENT,
    }
)
