"""The request and response shapes the api layer works with.

Requests reach kvsmock three ways: botocore's in-process stubber, moto's
interception of ``requests``, and the werkzeug server. Each is turned into an
:class:`ApiRequest` so that the handlers see one shape.
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Protocol
from urllib.parse import parse_qs, urlsplit

from werkzeug.datastructures import Headers

if TYPE_CHECKING:  # pragma: no cover
    from ..service.backend import KinesisVideoService
    from ..service.faults import Strike

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
_HOST_REGION = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com")
#: Seconds a caught-up live GetMedia waits while no producer is connected (``--get-media-idle-timeout``).
DEFAULT_GET_MEDIA_IDLE_TIMEOUT = 3.0


@dataclass
class ApiRequest:
    """One HTTP request to a KVS endpoint, whatever carried it."""

    method: str
    url: str
    headers: Headers
    #: The body: bytes when it has been read, else an iterator of byte chunks.
    body: bytes | Iterable[bytes] = b""
    #: Set by the server: its own base URL, which data endpoints point back at.
    server_base_url: str | None = None
    #: True in the server: the body is read while the response streams.
    streaming: bool = False
    account_id: str = "123456789012"
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    #: Set by the server: true once the client has closed (or reset) its connection.
    #: Long waits (a caught-up GetMedia) check it so that a departed client frees its slot.
    client_gone: Callable[[], bool] | None = None
    #: Set by the server (``--get-media-idle-timeout``): seconds a caught-up live GetMedia keeps
    #: waiting while no PutMedia connection is open on its stream (None: up to the session limit).
    get_media_idle_timeout: float | None = DEFAULT_GET_MEDIA_IDLE_TIMEOUT
    #: Set by the server on a plain connection: sends body chunks from another thread while the
    #: request's own waits (a live GetMedia's fan-out, :mod:`kvsmock.api.live_fan_out`).
    chunk_sender: "ChunkSender | None" = None
    #: Set by the server on a plain connection with a chunked body: reads the body on the server's
    #: shared threads and pushes it to the handler as it arrives, instead of a thread pulling it
    #: (a streamed PutMedia, :mod:`kvsmock.server.upload_readers`).
    body_pump: "BodyPump | None" = None
    #: The fault rule that struck this request (:mod:`kvsmock.service.faults`), for the handlers
    #: that apply it fragment by fragment (PutMedia, GetMedia).
    fault: "Strike | None" = None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.url).query, keep_blank_values=True).items()}

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    def credential(self) -> tuple[str, str, str] | None:
        """(access key, region, service) from a SigV4 header or presigned query."""
        auth = self.headers.get("Authorization", "")
        m = _CREDENTIAL.search(auth)
        if m:
            return m.group(1), m.group(2), m.group(3)
        cred = self.query.get("X-Amz-Credential")
        if cred:
            parts = cred.split("/")
            if len(parts) >= 5:
                return parts[0], parts[2], parts[3]
        return None

    @property
    def access_key(self) -> str | None:
        cred = self.credential()
        return cred[0] if cred else None

    @functools.cached_property
    def region(self) -> str:
        """The region the request is for: its SigV4 credential scope, else its host, else us-east-1 (read once)."""
        cred = self.credential()
        if cred:
            return cred[1]
        m = _HOST_REGION.search(self.host)
        if m:
            return m.group(1)
        return "us-east-1"

    def read_body(self) -> bytes:
        if not isinstance(self.body, (bytes, bytearray)):
            self.body = b"".join(self.body)
        return bytes(self.body)

    def iter_body(self) -> Iterator[bytes]:
        if isinstance(self.body, (bytes, bytearray)):
            if self.body:
                yield bytes(self.body)
            return
        for chunk in self.body:
            if chunk:
                yield chunk


class ChunkSender(Protocol):
    """A streamed response's connection, written by another thread while the response's own waits."""

    def send_now(self, pieces: list[bytes]) -> bool:
        """Send ``pieces`` as body pieces without waiting: True when all went; else the rest goes at :meth:`flush`."""

    def flush(self) -> None:
        """Send what :meth:`send_now` left (waiting as long as it takes); raise the error that stopped it."""


class BodySink(Protocol):
    """Where a :class:`BodyPump` pushes a request body; called by one thread at a time, never two at once."""

    def piece(self, data: bytes) -> bool:
        """The next bytes of the body; False when no more are wanted (the pump then stops reading)."""

    def end(self, error: BaseException | None) -> None:
        """The last call: the body ended (None), could not be read (the error), or no more was wanted."""


class BodyPump(Protocol):
    """A request body that the server reads for the handler and pushes to a :class:`BodySink`."""

    #: Bytes of the body pushed to the sink so far.
    received: int

    def start(self, sink: BodySink) -> None:
        """Start reading the body into ``sink`` (called once)."""

    def stop(self) -> None:
        """Stop reading: once this returns the sink is not called again (and ``end`` may not have been)."""


class ConnectionDrop(Exception):
    """Raised by a response body: the connection closes here, abruptly, without ending the response.

    A fault rule's ``drop``: the server shuts the socket; in-process the
    client's read of the body fails where the connection would have.
    """


class ChunkGroup(bytes):
    """Pieces of a streamed response body that are ready together, as one piece of the body: the
    server sends each as an HTTP chunk of its own, all in one write (PutMedia's ACKs: the C producer
    SDK reads one ACK per chunk); anything else sees their bytes joined."""

    pieces: tuple[bytes, ...]

    def __new__(cls, pieces: Iterable[bytes]) -> "ChunkGroup":
        parts = tuple(pieces)
        group = super().__new__(cls, b"".join(parts))
        group.pieces = parts
        return group


def then_dropped(answer: bytes, operation: str) -> Iterator[bytes]:
    """A body of ``answer`` and then the connection closed by a fault rule (in-process PutMedia and GetMedia)."""
    yield answer
    raise ConnectionDrop(f"a fault rule closed the {operation} connection")


@dataclass
class ApiResponse:
    """What a handler answers: a status, headers and a body (bytes or a stream of bytes)."""

    status: int
    headers: dict[str, str]
    body: bytes | Iterable[bytes] = b""
    #: Called once the body has been fully sent or abandoned.
    on_close: Callable[[], None] | None = None


def headers_from(mapping: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> Headers:
    items = mapping.items() if hasattr(mapping, "items") else mapping
    out = Headers()
    for k, v in items:
        out.add(k, v.decode("latin-1") if isinstance(v, bytes) else str(v))
    return out


#: The backend of an (account, region).
BackendLookup = Callable[[str, str], "KinesisVideoService"]
#: Answers one modelled operation: (backend, request, params) -> a JSON dict or a response.
Handler = Callable[["KinesisVideoService", ApiRequest, dict], "dict | ApiResponse"]
#: Answers a path outside the models (PutMedia, HLS/DASH resources): (backend lookup, request) -> response.
RawHandler = Callable[[BackendLookup, ApiRequest], ApiResponse]
