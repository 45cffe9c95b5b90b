"""The media layer: EBML/Matroska reading and writing, the PutMedia fragmenter, GetMedia chunks, packaging.

It knows nothing of AWS or HTTP; it works on bytes and yields bytes or typed
events. Parsers are sans-I/O (feed bytes, pull events), like h11.

* :mod:`.ebml` - the byte level: element IDs, VINTs, reading and writing
  elements, block headers, the incremental :mod:`.ebml.walker`;
* :mod:`.matroska` - tracks, the Segment header, KVS tags, Clusters, the MKV writer;
* :mod:`.put_media` - the fragmenter (PutMedia bodies into fragments) and its events;
* :mod:`.get_media` - GetMedia chunks and the consumer-side reader;
* :mod:`.codecs` - one module per codec (H.264, H.265, AAC, G.711);
* :mod:`.clip` - GetClip's track rules and MKV-to-MP4 remux; :mod:`.mp4` - MP4 boxes, faststart;
* :mod:`.segments` and :mod:`.playlists` - HLS/DASH segments and their playlists;
* :mod:`.images` - GetImages' decoding and encoding; :mod:`.sample` - sample media made with PyAV;
* :mod:`.live_mkv` - a live producer MKV from H.264 access units and AAC frames (WebRTC ingestion),
  :mod:`.audio_transcode` - Opus to AAC.
"""

from .ebml.errors import EBMLError
from .ebml.writing import kvs_tags
from .get_media import (
    Frame,
    FragmentReader,
    ReadFragment,
    chunk_pieces,
    error_chunk_pieces,
    format_timestamp,
    fragment_chunk_pieces,
    read_fragments,
)
from .matroska.tracks import TrackInfo
from .put_media import (
    ErrorId,
    Fragment,
    FragmentComplete,
    Fragmenter,
    FragmentStarted,
    FragmentTags,
    HeaderParsed,
    MediaError,
)

__all__ = [
    "EBMLError",
    "ErrorId",
    "Fragment",
    "FragmentComplete",
    "FragmentReader",
    "FragmentStarted",
    "FragmentTags",
    "Fragmenter",
    "Frame",
    "HeaderParsed",
    "MediaError",
    "ReadFragment",
    "TrackInfo",
    "chunk_pieces",
    "error_chunk_pieces",
    "format_timestamp",
    "fragment_chunk_pieces",
    "kvs_tags",
    "read_fragments",
    "sample_mkv",
]


def sample_mkv(*args, **kwargs) -> bytes:
    """See :func:`kvsmock.media.sample.sample_mkv` (imported lazily: it needs PyAV and numpy)."""
    from .sample import sample_mkv as build

    return build(*args, **kwargs)
