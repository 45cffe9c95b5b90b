"""Where the service's state is kept: in memory (the default) or in a durable store.

Every change the service makes to what it keeps is reported to the process's
:class:`Persistence`: a resource created, changed or deleted, a fragment
stored, tagged or expired, usage counted, the clock moved. The default,
:class:`InMemory`, does nothing with them: state lives in the objects and
dies with the process. The server's ``--data-dir`` sets a
:class:`~kvsmock.service.disk.store.DiskStore` instead, which writes each
change to SQLite and the fragments' bytes to files, so that a restart finds
everything again.

It is process-wide, like the key provider of
:mod:`~kvsmock.service.encryption`: moto creates backends by account and
region alone, so whether state is durable is a fact of the process, set once
before the server serves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .channels import SignalingChannel
    from .fragments import StoredFragment
    from .streams import Stream
    from .usage import ChannelUsage, StreamUsage

__all__ = ["CorruptMediaError", "InMemory", "MediaWriter", "Persistence", "StorageError", "persistence", "set_persistence"]


class StorageError(Exception):
    """A fragment could not be made durable (the disk is full, a write failed): nothing of it was kept."""


class CorruptMediaError(Exception):
    """A stored fragment's bytes no longer are what was written (file missing, cut short, changed): never served."""


class MediaWriter(Protocol):
    """Where a fragment's sealed bytes go as they are made, before the fragment is stored."""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """The next bytes (a failure is kept for when the fragment is stored)."""

    def abort(self) -> None:
        """The fragment will not be stored: give up what was written."""


class Persistence(Protocol):
    """What the service tells the place its state is kept."""

    durable: bool

    def save_resource(self, resource: Stream | SignalingChannel) -> None:
        """A stream or signaling channel was created or changed (settings, tags, configurations)."""

    def delete_resource(self, resource: Stream | SignalingChannel) -> None:
        """A stream or channel was deleted: it, and a stream's fragments, go; its usage stays billed."""

    def usage_changed(self, usage: StreamUsage | ChannelUsage) -> None:
        """Counters of a stream or channel moved (may be written a little later)."""

    def media_writer(self, stream_arn: str, number: str) -> MediaWriter | None:
        """Where the fragment ``number``, to be persisted, may be written as it arrives (None: it is kept
        in memory until stored); :meth:`store_fragment` finishes it."""

    def store_fragment(self, stream_arn: str, fragment: StoredFragment) -> Any:
        """Make a persisted fragment durable before it is acknowledged; returns the payload to keep
        in its place (the one given, for an in-memory store). Raises :class:`StorageError`."""

    def fragment_tags_grew(self, stream_arn: str, fragment: StoredFragment) -> None:
        """Producer Tags arrived after a stored fragment."""

    def fragments_removed(self, stream_arn: str, fragments: list[StoredFragment], closed_byte_seconds: float) -> None:
        """Fragments left a stream's store (retention ended, the live buffer overflowed); the store's
        byte-seconds of storage of the fragments gone so far is now ``closed_byte_seconds``."""

    def clock_moved(self, offset: float) -> None:
        """The emulator clock's offset changed."""

    def external_changed(self, name: str) -> None:
        """State kept for another part of the process (``"kms"``: moto's KMS keys) changed."""

    def reset(self) -> None:
        """Everything was thrown away (the server's reset): forget it all."""


class InMemory:
    """State lives in the service's objects only (the default, and always in-process)."""

    durable = False

    def save_resource(self, resource: Any) -> None:
        return None

    def delete_resource(self, resource: Any) -> None:
        return None

    def usage_changed(self, usage: Any) -> None:
        return None

    def media_writer(self, stream_arn: str, number: str) -> MediaWriter | None:
        return None

    def store_fragment(self, stream_arn: str, fragment: StoredFragment) -> Any:
        return fragment.payload

    def fragment_tags_grew(self, stream_arn: str, fragment: Any) -> None:
        return None

    def fragments_removed(self, stream_arn: str, fragments: list[Any], closed_byte_seconds: float) -> None:
        return None

    def clock_moved(self, offset: float) -> None:
        return None

    def external_changed(self, name: str) -> None:
        return None

    def reset(self) -> None:
        return None


_current: Persistence = InMemory()


def set_persistence(target: Persistence) -> None:
    """Keep state in ``target`` from now on (the server does this once, before serving)."""
    global _current
    _current = target


def persistence() -> Persistence:
    return _current
