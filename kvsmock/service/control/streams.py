"""Stream operations: create, describe, list, update, delete, retention and storage tier."""

from __future__ import annotations

from ...errors import AccountStreamLimitExceededException, InvalidArgumentException, ResourceInUseException
from ..pagination import Page
from ..streams import MAX_RETENTION_HOURS, Stream, check_retention
from .mapping import StorageMapping

MAX_STREAMS_PER_REGION = 10_000
DEFAULT_LIST_STREAMS = 10_000


class StreamOperations(StorageMapping):
    """The stream operations of the control plane."""

    def create_stream(
        self,
        name: str,
        *,
        data_retention_hours: int = 0,
        device_name: str | None = None,
        media_type: str | None = None,
        kms_key_id: str | None = None,
        storage_tier: str = "HOT",
        tags: dict[str, str] | None = None,
    ) -> Stream:
        with self.lock:
            if name in self.streams:
                raise ResourceInUseException(f"The stream {name} already exists.")
            if len(self.streams) >= MAX_STREAMS_PER_REGION:
                raise AccountStreamLimitExceededException(
                    f"The account already has the maximum of {MAX_STREAMS_PER_REGION} streams in {self.region_name}."
                )
            check_retention(data_retention_hours)
            stream = Stream(
                **self._identity("stream", name),
                kms_key_id=kms_key_id or self.default_kms_key(),
                data_retention_hours=data_retention_hours,
                device_name=device_name,
                media_type=media_type,
                storage_tier=storage_tier,
            )
            stream.tags.add(tags or {})
            self.streams[name] = stream
            self.changed(stream)
            return stream

    #: DescribeStream, GetDataEndpoint (the api layer shapes the URL) and
    #: DescribeStreamStorageConfiguration only find the stream.
    describe_stream = get_data_endpoint = describe_stream_storage_configuration = StorageMapping.stream

    def list_streams(
        self, name_prefix: str | None = None, max_results: int | None = None, next_token: str | None = None
    ) -> Page[Stream]:
        return self.list_named(self.streams, name_prefix, max_results or DEFAULT_LIST_STREAMS, next_token, "streams")

    def delete_stream(self, arn: str, current_version: str | None = None) -> None:
        with self.lock:
            stream = self.stream(arn=arn)
            stream.check_version(current_version)
            self._release_channel(stream)
            stream.usage.close(stream.store.byte_seconds())
            self._take_out(self.streams, stream)
            stream.store.clear()  # frees its media; live readers notice the stream is gone

    def _updatable(self, name: str | None, arn: str | None, current_version: str) -> Stream:
        """The ACTIVE stream an update names, at the caller's CurrentVersion (the lock is held)."""
        stream = self.stream(name, arn)
        stream.check_update(current_version)
        return stream

    def update_stream(
        self,
        name: str | None,
        arn: str | None,
        current_version: str,
        *,
        device_name: str | None = None,
        media_type: str | None = None,
    ) -> None:
        """Change what is given (None leaves a setting as it is)."""
        with self.lock:
            stream = self._updatable(name, arn, current_version)
            if device_name is not None:
                stream.device_name = device_name
            if media_type is not None:
                stream.media_type = media_type
            stream.bump_version()
            self.changed(stream)

    def update_data_retention(
        self, name: str | None, arn: str | None, current_version: str, *, increase: bool, change_hours: int
    ) -> None:
        with self.lock:
            stream = self._updatable(name, arn, current_version)
            old = stream.data_retention_hours
            new = old + change_hours if increase else old - change_hours
            if new < 0:
                raise InvalidArgumentException(
                    f"Decreasing the retention of {old} hours by {change_hours} hours would make it negative."
                )
            if new > MAX_RETENTION_HOURS:
                raise InvalidArgumentException(
                    f"Increasing the retention of {old} hours by {change_hours} hours "
                    f"would exceed the maximum of {MAX_RETENTION_HOURS} hours."
                )
            stream.data_retention_hours = new
            stream.bump_version()
            self.changed(stream)
            stream.store.retention_changed()  # a decrease drops older data at once

    # ------------------------------------------------------------ storage tier
    def update_stream_storage_configuration(
        self, name: str | None, arn: str | None, current_version: str, storage_tier: str
    ) -> None:
        with self.lock:
            stream = self._updatable(name, arn, current_version)
            stream.storage_tier = storage_tier
            stream.bump_version()
            self.changed(stream)
