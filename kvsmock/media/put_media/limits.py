"""What PutMedia allows in one body: the service's limits, which tests and stream settings may vary."""

from __future__ import annotations

from dataclasses import dataclass

from ..matroska.tags import TagValue
from .error_ids import ErrorId, Refusal

__all__ = ["MB", "Limits"]

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """PutMedia limits; the defaults are the service's."""

    max_fragment_size: int = 50 * MB  #: bytes per Cluster
    max_fragment_duration: float = 20.0  #: seconds per fragment
    max_tracks: int = 3
    max_tags: int = 10  #: producer tags per fragment
    max_tag_name: int = 128  #: bytes
    max_tag_value: int = 256  #: bytes
    max_header_size: int = 16 * MB  #: bytes of an element read whole (Info, Tracks, Tags)

    def check_tag(self, name: str, value: TagValue, count: int, timecode: int | None) -> None:
        """Refuse a producer tag over the name, value or count limits (``count``: the fragment's tags with it)."""
        name_len = len(name.encode("utf-8"))
        value_len = len(value) if isinstance(value, bytes) else len(value.encode("utf-8"))
        if name_len > self.max_tag_name:
            raise Refusal(
                ErrorId.FRAGMENT_METADATA_LIMIT_REACHED,
                f"tag name of {name_len} bytes (max {self.max_tag_name})",
                timecode,
            )
        if value_len > self.max_tag_value:
            raise Refusal(
                ErrorId.FRAGMENT_METADATA_LIMIT_REACHED,
                f"tag {name!r} value of {value_len} bytes (max {self.max_tag_value})",
                timecode,
            )
        if count > self.max_tags:
            raise Refusal(
                ErrorId.FRAGMENT_METADATA_LIMIT_REACHED,
                f"more than {self.max_tags} metadata tags for one fragment",
                timecode,
            )
