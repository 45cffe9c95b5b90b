"""Helpers for users: a PutMedia client (no AWS SDK has one for Python).

``put_media`` works the same in-process (inside ``mock_kinesisvideo``),
against the kvsmock server, and against the real service;
``put_media_acks`` is the same client giving each ACK as it arrives (what
``kvsmock put-media`` prints).
"""

from __future__ import annotations

import codecs
import http.client
import json
import os
import socket
import ssl
import threading
import time
from datetime import datetime
from decimal import Decimal
from typing import Any, BinaryIO, Callable, Iterable, Iterator
from urllib.parse import urlsplit

import boto3
import certifi
import requests
import requests.adapters
import requests.utils
import urllib3.exceptions
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

PIECE = 64 * 1024
#: requests' own transport, to tell when something (moto, ``responses``) has replaced it.
_REAL_SEND = requests.adapters.HTTPAdapter.send


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


class AckDecoder:
    """Turns a PutMedia response body, fed piece by piece, into ACK events (JSON objects, one after another)."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._json = json.JSONDecoder()
        self._text = ""

    def feed(self, data: bytes | str) -> list[dict[str, Any]]:
        """The events completed by ``data`` (an event cut off at its end waits for the next piece)."""
        self._text += self._utf8.decode(data) if isinstance(data, bytes) else data
        events: list[dict[str, Any]] = []
        pos = 0
        while True:
            while pos < len(self._text) and self._text[pos] in " \r\n\t":
                pos += 1
            if pos >= len(self._text):
                break
            try:
                event, pos = self._json.raw_decode(self._text, pos)
            except json.JSONDecodeError:
                break  # an event still arriving (an event is an object, so never complete before its "}")
            events.append(event)
        self._text = self._text[pos:]
        return events

    def close(self) -> None:
        """Check that nothing but whitespace is left over (raises ``json.JSONDecodeError`` otherwise)."""
        self._text += self._utf8.decode(b"", final=True)
        if self._text.strip():
            raise json.JSONDecodeError("The body ends inside an ACK event", self._text, 0)


def parse_acks(text: str) -> list[dict[str, Any]]:
    """ACK events from a PutMedia response body (JSON objects, one after another)."""
    decoder = AckDecoder()
    events = decoder.feed(text)
    decoder.close()
    return events


def _client_error(status: int, headers: Any, text: str) -> ClientError:
    """botocore's ``ClientError`` for a PutMedia request the service refused."""
    try:
        message = json.loads(text).get("Message", text)
    except (ValueError, AttributeError):
        message = text
    code = (headers.get("x-amzn-ErrorType") or str(status)).split(":")[0]
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": headers.get("x-amzn-RequestId") or ""},
        },
        "PutMedia",
    )


def _ssl_context() -> ssl.SSLContext:
    """Trust what boto3 and ``requests`` trust: ``AWS_CA_BUNDLE``, ``REQUESTS_CA_BUNDLE``, else certifi's roots."""
    cafile = os.environ.get("AWS_CA_BUNDLE") or os.environ.get("REQUESTS_CA_BUNDLE") or certifi.where()
    return ssl.create_default_context(cafile=cafile)


def _full_duplex(url: str) -> bool:
    """Whether to upload over a connection of our own, reading ACKs while the body is still being sent.

    Not when ``requests`` is intercepted (moto in-process, the ``responses``
    library: the mock must see the request) or a proxy is configured for the
    URL; then ``requests`` sends the whole body before the ACKs are read.
    """
    return requests.adapters.HTTPAdapter.send is _REAL_SEND and not requests.utils.get_environ_proxies(url)


def _shutdown(sock: socket.socket) -> None:
    """End both directions of ``sock`` now (wakes a thread blocked on it); quiet if it is already closed."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _send_chunked(sock: socket.socket, pieces: Iterator[bytes], failed: list[BaseException]) -> None:
    """Write the body as HTTP/1.1 chunks (run by a thread while the caller reads the response).

    A media source that fails ends the exchange (the caller raises its
    error); a send that fails means the service ended the response first,
    and the response says why.
    """
    while True:
        try:
            piece = next(pieces, None)
        except BaseException as exc:
            failed.append(exc)
            _shutdown(sock)
            return
        try:
            sock.sendall(b"0\r\n\r\n" if piece is None else b"%x\r\n" % len(piece) + piece + b"\r\n")
        except OSError:
            return
        if piece is None:
            return


def _post_full_duplex(url: str, headers: dict[str, str], pieces: Iterator[bytes]) -> Iterator[bytes]:
    """POST ``pieces`` chunked over a connection of our own and yield the response body as it arrives.

    http.client writes the request head; a thread then writes the body to
    the socket itself (http.client hands the socket to the response, and
    would open a new connection for a later ``send``) while this generator
    reads the response.
    """
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=30, context=_ssl_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    failed: list[BaseException] = []
    sock: socket.socket | None = None
    try:
        conn.connect()
        sock = conn.sock
        assert sock is not None
        sock.settimeout(None)  # ACKs come when fragments do; an upload may be quiet for long
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.putrequest("POST", path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        writer = threading.Thread(target=_send_chunked, args=(sock, pieces, failed), name="put-media-body",
                                  daemon=True)
        writer.start()
        try:
            response = conn.getresponse()
            try:
                if response.status >= 300:
                    text = response.read().decode("utf-8", "replace")
                    raise _client_error(response.status, response.headers, text)
                while data := response.read1(PIECE):
                    yield data
            finally:
                _shutdown(sock)  # the exchange is over: a writer still sending (the service ended early) stops
                response.close()
        except (OSError, http.client.HTTPException):
            if failed:
                raise failed[0] from None
            raise
        if failed:
            raise failed[0]
    finally:
        if sock is not None:
            _shutdown(sock)  # wakes the writer if it is blocked sending
        conn.close()


def _post_requests(url: str, headers: dict[str, str], pieces: Iterator[bytes]) -> Iterator[bytes]:
    """POST ``pieces`` chunked with ``requests`` (the whole body first) and yield the response body."""
    with requests.post(url, data=pieces, headers=headers, timeout=(30, None), stream=True) as response:
        if response.status_code >= 300:
            raise _client_error(response.status_code, response.headers,
                                response.content.decode("utf-8", errors="replace"))
        raw = response.raw
        while True:  # what has arrived, as it arrives: ACKs read before a dropped connection are kept
            data = raw.read1(PIECE)
            if not data:
                return
            yield data


#: How long put_media keeps asking GetDataEndpoint, or PutMedia with a body it can send again
#: (bytes or a path), while the service throttles it (seconds).
THROTTLE_RETRY_SECONDS = 10.0


class _ThrottleRetry:
    """Backoff for calls the service throttles (ClientLimitExceededException), up to
    :data:`THROTTLE_RETRY_SECONDS`: botocore's retry modes do not retry that error."""

    def __init__(self, resendable: bool = True, seconds: float = THROTTLE_RETRY_SECONDS):
        from .service.rate_limit import real_seconds  # wall time even under freezegun

        self._now = real_seconds
        self._deadline = real_seconds() + seconds
        self._pause = 0.05
        self._resendable = resendable

    def again(self, err: ClientError) -> bool:
        """After a pause, True if the call that failed with ``err`` should be made again."""
        if not self._resendable or err.response.get("Error", {}).get("Code") != "ClientLimitExceededException":
            return False
        if self._now() + self._pause > self._deadline:
            return False
        time.sleep(self._pause)
        self._pause = min(self._pause * 2, 0.5)
        return True


def call_through_throttling(call: Callable[..., Any], *args: Any, seconds: float = THROTTLE_RETRY_SECONDS,
                            **kwargs: Any) -> Any:
    """``call(*args, **kwargs)`` (a boto3 call), made again with backoff while the service throttles it
    (ClientLimitExceededException, which botocore does not retry), for up to ``seconds``.

    put_media asks GetDataEndpoint through it: the service allows 5
    GetDataEndpoint and 5 PutMedia calls a second per stream, so uploads
    started in quick succession on one stream wait their turn instead of failing.
    """
    retry = _ThrottleRetry(seconds=seconds)
    while True:
        try:
            return call(*args, **kwargs)
        except ClientError as err:
            if not retry.again(err):
                raise


def put_media_acks(
    stream_name: str | None = None,
    stream_arn: str | None = None,
    media: bytes | str | os.PathLike | BinaryIO | Iterable[bytes] | None = None,
    *,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    timecode_type: str = "ABSOLUTE",
    producer_start_timestamp: datetime | float | int | Decimal | None = None,
    session: boto3.Session | None = None,
) -> Iterator[dict[str, Any]]:
    """:func:`put_media`, yielding each ACK event as the service sends it.

    A generator: nothing is sent until the first event is asked for. Against
    a server (kvsmock's or AWS) the body is sent by a thread while ACKs are
    read, so they come while the upload goes on; in-process they come when
    the upload has been read. A file object is read with ``read(PIECE)``:
    give one that returns what is available (unbuffered), or an iterator of
    pieces, to follow a live source.
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
    data_endpoint = call_through_throttling(control.get_data_endpoint, APIName="PUT_MEDIA", **target)["DataEndpoint"]
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
    post = _post_full_duplex if _full_duplex(url) else _post_requests
    retry = _ThrottleRetry(resendable=isinstance(media, (bytes, bytearray, memoryview, str, os.PathLike)))
    while True:
        decoder = AckDecoder()
        answered = False
        try:
            for data in post(url, sent_headers, _pieces(media)):
                answered = True
                yield from decoder.feed(data)
        except ClientError as err:
            if answered or not retry.again(err):
                raise
            continue  # throttled (5 PutMedia calls a second per stream) before any answer: the same body again
        except (http.client.IncompleteRead, urllib3.exceptions.ProtocolError, ConnectionResetError) as exc:
            raise ConnectionResetError("the PutMedia connection was closed before its response ended") from exc
        decoder.close()
        return


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
    HTTP-level errors raise botocore's ``ClientError``; a connection closed
    before the response ended raises ``ConnectionResetError``. A call the
    service throttles (ClientLimitExceededException: GetDataEndpoint and
    PutMedia allow 5 a second per stream) is made again after a pause, for up
    to 10 seconds (PutMedia only when ``media`` is bytes or a path, which can
    be sent again). :func:`put_media_acks` gives the same events one by one as
    they arrive.
    """
    return list(
        put_media_acks(
            stream_name,
            stream_arn,
            media,
            region_name=region_name,
            endpoint_url=endpoint_url,
            timecode_type=timecode_type,
            producer_start_timestamp=producer_start_timestamp,
            session=session,
        )
    )
