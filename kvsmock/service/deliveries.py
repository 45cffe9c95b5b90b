"""What the service does with a tagged fragment once it is persisted (spec 4.5).

* ``AWS_KINESISVIDEO_NOTIFICATION``: with an ENABLED notification
  configuration, a message is published to its SNS topic
  (subject ``Kinesis Video Streams Notification``, JSON body with the stream
  ARN, fragment number, start timestamps in epoch milliseconds, the type
  ``PERSISTED`` and the fragment's custom tags as ``NotificationPayload``).
* ``AWS_KINESISVIDEO_IMAGE_GENERATION``: with an ENABLED image generation
  configuration, images sampled every ``SamplingInterval`` over the
  fragment are written to its S3 URI, keyed
  ``{ImagePrefix}_{AccountID}_{StreamName}_{ImageTimecodeEpochMs}_{RandomGUID}.{jpg|png}``
  with the fragment's timestamps, number and custom tags as object metadata.

The service needs a minute for a configuration change to apply; kvsmock
applies it to the next fragment. A delivery that fails (no such topic or
bucket) is logged and never disturbs ingestion.

SNS and S3 are reached through the process's :class:`DeliveryTarget`: the
moto glue's :func:`~kvsmock.api.moto_glue.install` sets moto's backends of
the stream's account (:class:`~kvsmock.api.moto_glue.MotoDeliveries`); the
service layer alone has :class:`NoDeliveries`. It is process-wide because
moto's backends are: which neighbours exist is a fact of the process (is
kvsmock installed in moto?), the same for every account and region, so no
backend holds it.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any, Protocol, TypeGuard

from .fragments import StoredFragment
from .image_generation import fragment_images
from .streams import Stream

log = logging.getLogger("kvsmock")

__all__ = [
    "DeliveryFailed",
    "DeliveryTarget",
    "NoDeliveries",
    "IMAGE_GENERATION",
    "IMAGE_PREFIX",
    "NOTIFICATION",
    "NOTIFICATION_SUBJECT",
    "after_persisted",
    "set_delivery_target",
]

IMAGE_GENERATION = "AWS_KINESISVIDEO_IMAGE_GENERATION"
IMAGE_PREFIX = "AWS_KINESISVIDEO_IMAGE_PREFIX"
NOTIFICATION = "AWS_KINESISVIDEO_NOTIFICATION"
NOTIFICATION_SUBJECT = "Kinesis Video Streams Notification"
_S3_URI = re.compile(r"^s3://([^/]+)/?(.*)$")


class DeliveryFailed(Exception):
    """A topic or bucket could not be written to."""


class DeliveryTarget(Protocol):
    def publish(self, account_id: str, region: str, topic_arn: str, subject: str, message: str) -> None: ...

    def put_object(
        self, account_id: str, region: str, bucket: str, key: str, body: bytes, content_type: str, metadata: dict[str, str]
    ) -> None: ...


class NoDeliveries:
    """The target without moto: every delivery fails (and is logged)."""

    def publish(self, *args: Any) -> None:
        raise DeliveryFailed("no SNS to publish to (moto is not installed)")

    def put_object(self, *args: Any) -> None:
        raise DeliveryFailed("no S3 to write to (moto is not installed)")


#: The process's delivery target (see the module docstring); set only by :func:`set_delivery_target`.
_target: DeliveryTarget = NoDeliveries()


def set_delivery_target(target: DeliveryTarget) -> None:
    """Make deliveries go to ``target`` from now on (the moto glue's install and uninstall call it)."""
    global _target
    _target = target


def _custom_tags(fragment: StoredFragment) -> dict[str, str]:
    return {name: value for name, value in fragment.producer_tags if not name.startswith("AWS_KINESISVIDEO_")}


def after_persisted(stream: Stream, fragment: StoredFragment) -> None:
    """Notify and generate images for a persisted fragment whose tags are final."""
    if not fragment.persisted:
        return
    names = {name for name, _ in fragment.producer_tags}
    if NOTIFICATION in names:
        _notify(stream, fragment)
    if IMAGE_GENERATION in names:
        _images(stream, fragment)


def _enabled(config: dict[str, Any] | None) -> TypeGuard[dict[str, Any]]:
    return config is not None and config.get("Status") == "ENABLED"


def _notify(stream: Stream, fragment: StoredFragment) -> None:
    config = stream.notification
    if not _enabled(config):
        return
    message = {
        "StreamArn": stream.arn,
        "FragmentNumber": fragment.number,
        "FragmentStartProducerTimestamp": int(round(fragment.producer_timestamp * 1000)),
        "FragmentStartServerTimestamp": int(round(fragment.server_timestamp * 1000)),
        "NotificationType": "PERSISTED",
        "NotificationPayload": _custom_tags(fragment),
    }
    topic = config["DestinationConfig"]["Uri"]
    try:
        _target.publish(stream.account_id, stream.region, topic, NOTIFICATION_SUBJECT, json.dumps(message))
    except Exception as exc:  # the service drops it; ingestion goes on
        log.warning("kvsmock: notification for fragment %s to %s not delivered: %s", fragment.number, topic, exc)


def image_key(prefix: str, account_id: str, stream_name: str, epoch_ms: int, extension: str, folder: str = "") -> str:
    name = f"{prefix}_{account_id}_{stream_name}_{epoch_ms}_{uuid.uuid4()}.{extension}"
    return f"{folder.rstrip('/')}/{name}" if folder.strip("/") else name


def _images(stream: Stream, fragment: StoredFragment) -> None:
    config = stream.image_generation
    if not _enabled(config):
        return
    match = _S3_URI.match(config["DestinationConfig"]["Uri"])
    if not match:
        log.warning("kvsmock: image destination %s is not an s3:// URI", config["DestinationConfig"]["Uri"])
        return
    bucket, folder = match.group(1), match.group(2)
    try:
        images = fragment_images(stream, fragment, config)
    except Exception as exc:  # a fragment that cannot be decoded gets no images
        log.warning("kvsmock: no images for fragment %s: %s", fragment.number, exc)
        return
    tags = dict(fragment.producer_tags)
    prefix = tags.get(IMAGE_PREFIX, "")
    extension, content_type = ("png", "image/png") if config["Format"] == "PNG" else ("jpg", "image/jpeg")
    metadata = {
        "aws_kinesisvideo_producer_timestamp": str(int(round(fragment.producer_timestamp * 1000))),
        "aws_kinesisvideo_server_timestamp": str(int(round(fragment.server_timestamp * 1000))),
        "aws_kinesisvideo_fragment_number": fragment.number,
        **_custom_tags(fragment),
    }
    for epoch_ms, body in images:
        key = image_key(prefix, stream.account_id, stream.name, epoch_ms, extension, folder)
        try:
            _target.put_object(stream.account_id, stream.region, bucket, key, body, content_type, metadata)
        except Exception as exc:  # a missing bucket does not break ingestion
            log.warning("kvsmock: image %s to bucket %s not written: %s", key, bucket, exc)
            return
