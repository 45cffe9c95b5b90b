"""Tag operations: the stream forms (TagStream …) and the resource forms (TagResource …)."""

from __future__ import annotations

from ...errors import InvalidResourceFormatException
from ..channels import SignalingChannel
from ..identifiers import parse_arn
from ..lookup import ResourceLookup
from ..pagination import Page, paginate
from ..streams import Stream
from ..tags import MAX_TAGS


class TagOperations(ResourceLookup):
    """Tagging of streams and signaling channels."""

    def _tagged_stream(self, name: str | None, arn: str | None) -> Stream:
        if arn is not None and parse_arn(arn).resource_type != "stream":
            raise InvalidResourceFormatException(f"{arn} is not a stream ARN.")
        return self.stream(name, arn)

    def tag_stream(self, name: str | None, arn: str | None, tags: dict[str, str]) -> None:
        with self.lock:
            stream = self._tagged_stream(name, arn)
            stream.tags.add(tags)
            self.changed(stream)

    def untag_stream(self, name: str | None, arn: str | None, keys: list[str]) -> None:
        with self.lock:
            stream = self._tagged_stream(name, arn)
            stream.tags.remove(keys)
            self.changed(stream)

    def list_tags_for_stream(
        self, name: str | None = None, arn: str | None = None, next_token: str | None = None
    ) -> Page[tuple[str, str]]:
        return _tag_page(self._tagged_stream(name, arn), next_token)

    def tag_resource(self, arn: str, tags: dict[str, str]) -> None:
        with self.lock:
            resource = self.resource_by_arn(arn)
            resource.tags.add(tags)
            self.changed(resource)

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        with self.lock:
            resource = self.resource_by_arn(arn)
            resource.tags.remove(keys)
            self.changed(resource)

    def list_tags_for_resource(self, arn: str, next_token: str | None = None) -> Page[tuple[str, str]]:
        return _tag_page(self.resource_by_arn(arn), next_token)


def _tag_page(resource: Stream | SignalingChannel, next_token: str | None) -> Page[tuple[str, str]]:
    """(key, value) pairs by key. At most 50 tags exist, so one page holds them all; a token is still checked."""
    return paginate(list(resource.tags.as_dict().items()), lambda kv: kv[0], MAX_TAGS, next_token, "tags")
