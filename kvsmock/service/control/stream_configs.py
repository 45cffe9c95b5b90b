"""A stream's image generation and notification configurations (kept as the members the caller sent)."""

from __future__ import annotations

import re
from typing import Any, Callable

from ...errors import InvalidArgumentException
from ..lookup import ResourceLookup
from ..streams import Stream

_SNS_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}")
_S3_URI = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/.*)?")

Config = dict[str, Any]


class StreamConfigOperations(ResourceLookup):
    """ImageGenerationConfiguration and NotificationConfiguration of streams."""

    def _configure(self, name: str | None, arn: str | None, attribute: str, config: Config | None,
                   check: Callable[[Stream, Config], None]) -> None:
        """Set (or, with None, remove) one configuration of an ACTIVE stream, ``check``-ed first."""
        with self.lock:
            stream = self.stream(name, arn)
            stream.require_active()
            if config is not None:
                check(stream, config)
            setattr(stream, attribute, None if config is None else dict(config))
            self.changed(stream)

    def update_image_generation_configuration(self, name: str | None, arn: str | None, config: Config | None) -> None:
        self._configure(name, arn, "image_generation", config, self._check_image_generation)

    def _check_image_generation(self, stream: Stream, config: Config) -> None:
        stream.require_retention("Image generation needs")
        if config["SamplingInterval"] < 200:
            raise InvalidArgumentException("SamplingInterval must be at least 200 milliseconds.")
        destination = config["DestinationConfig"]
        if destination["DestinationRegion"] != self.region_name:
            raise InvalidArgumentException(
                f"DestinationRegion {destination['DestinationRegion']} must be the stream's region {self.region_name}."
            )
        if not _S3_URI.fullmatch(destination["Uri"]):
            raise InvalidArgumentException(f"DestinationConfig Uri {destination['Uri']} is not an s3://bucket/prefix URI.")
        fmt_config = config.get("FormatConfig")
        if fmt_config:
            if config["Format"] != "JPEG":
                raise InvalidArgumentException("FormatConfig JPEGQuality applies only to the JPEG format.")
            quality = fmt_config.get("JPEGQuality", "")
            if not quality.isdigit() or not 1 <= int(quality) <= 100:
                raise InvalidArgumentException(f"JPEGQuality must be an integer from 1 to 100; got '{quality}'.")

    def describe_image_generation_configuration(self, name: str | None = None, arn: str | None = None) -> Config | None:
        return self.stream(name, arn).image_generation

    def update_notification_configuration(self, name: str | None, arn: str | None, config: Config | None) -> None:
        self._configure(name, arn, "notification", config, _check_notification)

    def describe_notification_configuration(self, name: str | None = None, arn: str | None = None) -> Config | None:
        return self.stream(name, arn).notification


def _check_notification(stream: Stream, config: Config) -> None:
    stream.require_retention("Notifications need")
    uri = config["DestinationConfig"]["Uri"]
    if not _SNS_ARN.fullmatch(uri):
        raise InvalidArgumentException(f"DestinationConfig Uri {uri} is not an SNS topic ARN.")
