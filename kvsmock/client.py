"""Helpers for users: a PutMedia client (no AWS SDK has one for Python).

``put_media`` works the same in-process (inside ``mock_kinesisvideo``),
against the kvsmock server, and against the real service.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from decimal import Decimal
from typing import Any, BinaryIO, Iterable, Iterator

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

PIECE = 64 * 1024


def _pieces(media: Any) -> Iterator[bytes]:
    """The upload as a stream of byte pieces, whatever form it was given in."""
    if isinstance(media, (bytes, bytearray, memoryview)):
        data = bytes(media)
        for i in range(0, len(data), PIECE):
            yield data[i : i + PIECE]
        return
    if isinstance(media, (str, os.PathLike)):
        with open(media, "rb") as f:
            yield from _pieces(f)
        return
    if hasattr(media, "read"):
        stream: BinaryIO = media
        while True:
            piece = stream.read(PIECE)
            if not piece:
                return
            yield piece
    else:
        for piece in media:
            if piece:
                yield bytes(piece)


def _epoch(value: datetime | float | int | Decimal | None) -> str:
    if value is None:
        value = time.time()
    if isinstance(value, datetime):
        value = value.timestamp()
    return f"{Decimal(str(value)):.3f}"


def parse_acks(text: str) -> list[dict[str, Any]]:
    """ACK events from a PutMedia response body (JSON objects, one after another)."""
    decoder = json.JSONDecoder()
    events: list[dict[str, Any]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \r\n\t":
            pos += 1
        if pos >= len(text):
            return events
        event, pos = decoder.raw_decode(text, pos)
        events.append(event)


def put_media(
    stream_name: str | None = None,
    stream_arn: str | None = None,
    media: bytes | str | os.PathLike | BinaryIO | Iterable[bytes] | None = None,
    *,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    timecode_type: str = "ABSOLUTE",
    producer_start_timestamp: datetime | float | int | Decimal | None = None,
    session: boto3.Session | None = None,
) -> list[dict[str, Any]]:
    """Upload MKV media with PutMedia and return the ACK events the service sent.

    ``media`` is bytes, a file path, a binary file object or an iterator of
    byte pieces; it is streamed as a chunked, SigV4-signed POST to the data
    endpoint that GetDataEndpoint(PUT_MEDIA) names. ``endpoint_url`` is the
    control-plane endpoint (the kvsmock server's URL, for example).
    Without ``session`` it uses boto3's default session, as ``boto3.client()`` does.
    HTTP-level errors raise botocore's ``ClientError``.
    """
    if (stream_name is None) == (stream_arn is None):
        raise ValueError("give exactly one of stream_name and stream_arn")
    if media is None:
        raise ValueError("media is required")
    if timecode_type not in ("ABSOLUTE", "RELATIVE"):
        raise ValueError("timecode_type must be ABSOLUTE or RELATIVE")
    if session is None:  # as boto3.client() does: the default session, made once (a new one reloads every model)
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
    region = region_name or session.region_name or "us-east-1"
    control = session.client("kinesisvideo", region_name=region, endpoint_url=endpoint_url)
    target = {"StreamName": stream_name} if stream_name else {"StreamARN": stream_arn}
    data_endpoint = control.get_data_endpoint(APIName="PUT_MEDIA", **target)["DataEndpoint"]
    url = data_endpoint.rstrip("/") + "/putMedia"

    headers = {
        "x-amzn-fragment-timecode-type": timecode_type,
        "x-amzn-producer-start-timestamp": _epoch(producer_start_timestamp),
        "x-amzn-fragment-acknowledgment-required": "1",
        "Content-Type": "application/octet-stream",
    }
    if stream_name:
        headers["x-amzn-stream-name"] = stream_name
    else:
        headers["x-amzn-stream-arn"] = stream_arn  # type: ignore[assignment]
    signing = AWSRequest(method="POST", url=url, headers=headers, data=b"")
    signing.context["payload_signing_enabled"] = False  # the body is streamed: UNSIGNED-PAYLOAD
    credentials = session.get_credentials()
    frozen = credentials.get_frozen_credentials() if credentials is not None else None
    if frozen is not None and frozen.access_key:
        SigV4Auth(frozen, "kinesisvideo", region).add_auth(signing)
    sent_headers = dict(signing.headers.items())
    response = requests.post(url, data=_pieces(media), headers=sent_headers, timeout=(30, None))
    text = response.content.decode("utf-8", errors="replace")
    if response.status_code >= 300:
        try:
            message = json.loads(text).get("Message", text)
        except ValueError:
            message = text
        code = response.headers.get("x-amzn-ErrorType", str(response.status_code)).split(":")[0]
        raise ClientError(
            {
                "Error": {"Code": code, "Message": message},
                "ResponseMetadata": {
                    "HTTPStatusCode": response.status_code,
                    "RequestId": response.headers.get("x-amzn-RequestId", ""),
                },
            },
            "PutMedia",
        )
    return parse_acks(text)
