"""Resource tags with the service's limits."""

from __future__ import annotations

from typing import Iterable

from ..errors import InvalidArgumentException, TagsPerResourceExceededLimitException

MAX_TAGS = 50


class TagSet:
    """The tags of one stream or signaling channel."""

    def __init__(self) -> None:
        self._tags: dict[str, str] = {}

    @staticmethod
    def check_keys(keys: Iterable[str]) -> None:
        """User tag keys must not use the reserved ``aws:`` prefix."""
        for key in keys:
            if key.lower().startswith("aws:"):
                raise InvalidArgumentException(
                    f"Tag key '{key}' uses the reserved prefix 'aws:'; user tags cannot start with it."
                )

    def add(self, tags: dict[str, str]) -> None:
        """Add or overwrite tags; the resulting set may hold at most 50."""
        self.check_keys(tags)
        merged = {**self._tags, **tags}
        if len(merged) > MAX_TAGS:
            raise TagsPerResourceExceededLimitException(
                f"The resource can have at most {MAX_TAGS} tags; this request would leave it with {len(merged)}."
            )
        self._tags = merged

    def remove(self, keys: Iterable[str]) -> None:
        """Drop the tags with these keys (absent ones are ignored)."""
        self.check_keys(keys)
        for key in keys:
            self._tags.pop(key, None)

    def as_dict(self) -> dict[str, str]:
        return dict(self._tags)

    def __len__(self) -> int:
        return len(self._tags)


def tag_list_to_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    """``[{"Key": k, "Value": v}]`` (channel form) to ``{k: v}``."""
    return {t["Key"]: t["Value"] for t in tags or []}
