"""Everything kvsmock does to moto, in one place.

kvsmock plugs into moto (5.x) at these points, and nowhere else:

* its backend class is a moto ``BaseBackend`` kept in a moto ``BackendDict``,
  so state is per account and region and moto's reset clears it;
* that BackendDict replaces moto's own ``kinesisvideo`` and
  ``kinesisvideoarchivedmedia`` backends, whose URL patterns cover the
  control-plane host and every ``*.kinesisvideo.{region}`` data host, so
  both botocore's stubber and moto's ``requests`` interception route all
  KVS traffic here;
* a response a fault rule cuts short (:class:`CutShortBody`) fails as a
  dropped connection does, for ``requests`` and for botocore (moto's raw
  response factory is wrapped by :func:`_raw_response`);
* moto's ``requests`` interception reads a request body with ``BytesIO(body)``
  and fails on a generator body (a chunked PutMedia); the patch here hands
  a streamed body to kvsmock's handler untouched when the request is for a
  KVS host (PutMedia then reads it piece by piece, with no copy of the
  whole upload), and joins it for any other service;
* the account id of a request follows moto's rules (``MOTO_ACCOUNT_ID``,
  ``x-moto-account-id``, then the access key via moto's IAM);
* stream keys live in moto's KMS backend (:class:`MotoKms`): key lookup by
  id, ARN or alias, key state and usage, and GenerateDataKey;
* notifications and generated images go to moto's SNS and S3 backends
  (:class:`MotoDeliveries`).

A moto upgrade that moves any of these is mended here (and in
:mod:`kvsmock.api.kms_state`, which saves and restores moto's KMS keys for
``--data-dir``).
"""

from __future__ import annotations

import functools
import io
import itertools
import os
import re
import threading
from typing import Any, Callable, Iterator

import moto
import moto.backends
import moto.core.botocore_stubber as botocore_stubber
import moto.core.custom_responses_mock as custom_responses_mock
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.base_backend import BackendDict, BaseBackend

from .. import clock
from ..errors import KmsKeyError, KvsError
from ..service import deliveries, encryption
from ..service.backend import KinesisVideoService
from ..service.identifiers import check_region
from ..service.signaling import metering as signaling_metering
from .dispatch import handle
from .request import ApiRequest, ApiResponse, ConnectionDrop, headers_from

_COM, _COM_CN = r"amazonaws\.com", r"amazonaws\.com\.cn"
_URL_BASES = [
    r"https?://kinesisvideo\.(.+)\.amazonaws\.com",
    r"https?://.*\.kinesisvideo\.(.+)\.amazonaws\.com",
]
_ALL_URL_BASES = _URL_BASES + [b.replace(_COM, _COM_CN) for b in _URL_BASES]


class KinesisVideoBackend(BaseBackend, KinesisVideoService):
    """kvsmock's service state as a moto backend (one per account and region)."""

    def __init__(self, region_name: str, account_id: str):
        BaseBackend.__init__(self, region_name, account_id)
        KinesisVideoService.__init__(self, region_name, account_id)

    def reset(self) -> None:
        """moto's reset: end what still works on the old state, then start afresh."""
        self.retire()
        super().reset()

    @property
    def urls(self) -> dict[str, Any]:
        handler = moto_handler
        urls: dict[str, Any] = {}
        for base in _ALL_URL_BASES:
            urls[base + "/.*$"] = handler
        return urls


kinesisvideo_backends: BackendDict = BackendDict(KinesisVideoBackend, "kinesisvideo")
_region_lock = threading.Lock()


def regions_of(backends: BackendDict, account_id: str) -> Any:
    """``backends[account_id]`` (moto's backends of one account), without moto's global lock once it exists.

    moto takes one process-wide lock on every account lookup; PutMedia asks
    for the KMS backend at every fragment, and 300 cameras queued hundreds of
    threads on that lock. A region lookup in an existing account takes no lock.
    """
    regions = dict.get(backends, account_id)
    return regions if regions is not None else backends[account_id]


def backend_for(account_id: str, region: str) -> KinesisVideoService:
    """The backend of one account and region (created on first use).

    A region botocore does not list for KVS yet (a newer region such as
    ``mx-central-1``) is served like any other; a name that is no region at
    all (``us-east1``, ``local``) gets the answer AWS gives a request signed
    for it.
    """
    check_region(region)
    regions = regions_of(kinesisvideo_backends, account_id)
    if region not in regions:
        with _region_lock:
            if region not in regions.regions:
                regions.regions.append(region)
    return regions[region]


def account_id_for(headers, access_key: str | None) -> str:
    """The account a request acts in, by moto's rules."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if headers.get("x-moto-account-id"):
        return headers["x-moto-account-id"]
    if not access_key:
        return DEFAULT_ACCOUNT_ID
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


def make_request(method: str, url: str, headers, body, server_base_url: str | None = None) -> ApiRequest:
    req = ApiRequest(
        method=method,
        url=url,
        headers=headers_from(headers),
        body=body,
        server_base_url=server_base_url,
        streaming=server_base_url is not None,
    )
    req.account_id = account_id_for(req.headers, req.access_key)
    return req


def _request_body(request: Any) -> bytes:
    """The body of a botocore AWSPreparedRequest or a werkzeug Request."""
    if hasattr(request, "get_data"):  # werkzeug, from moto's requests interception
        return request.get_data()
    body = getattr(request, "body", None)
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "read"):
        return body.read()
    return bytes(body)


#: Streamed request bodies on their way from the patched interception to :func:`moto_handler`
#: (process-wide like the interception itself; each entry lives for one request).
_HANDED_OFF: dict[str, Any] = {}
_HAND_OFF_HEADER = "x-kvsmock-streamed-body"
_hand_off_ids = itertools.count(1)
#: The URLs moto routes to kvsmock (see ``KinesisVideoBackend.urls``).
_KVS_HOST = re.compile("|".join(f"(?:{base}/)" for base in _ALL_URL_BASES), re.IGNORECASE)


def _take_handed_off_body(headers: Any) -> Any:
    token = headers.get(_HAND_OFF_HEADER) if headers is not None else None
    return _HANDED_OFF.pop(token, None) if token else None


def moto_handler(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], bytes | CutShortBody]:
    """The entry point moto calls for every in-process KVS request."""
    method = getattr(request, "method", "POST")
    streamed = _take_handed_off_body(headers)
    body = streamed if streamed is not None else _request_body(request)
    req = make_request(method, full_url, headers, body)
    response: ApiResponse = handle(req, backend_for)
    pieces: list[bytes] = []
    dropped = False
    try:
        if isinstance(response.body, (bytes, bytearray)):
            pieces.append(bytes(response.body))
        else:
            pieces.extend(bytes(piece) for piece in response.body)
    except ConnectionDrop:
        dropped = True
    finally:
        if response.on_close:
            response.on_close()
    body = b"".join(pieces)
    return response.status, dict(response.headers), CutShortBody(body) if dropped else body


class _CutShortRaw(io.RawIOBase):
    """The bytes a client got before a dropped connection, then the reset it saw."""

    def __init__(self, data: bytes):
        self._data = memoryview(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._data:
            raise ConnectionResetError("kvsmock closed the connection (a fault rule's drop)")
        n = min(len(buffer), len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


class CutShortBody(io.BufferedReader):
    """An in-process response body that fails where a dropped connection would have ended it.

    moto's ``requests`` interception passes a ``BufferedReader`` through as
    the body, so ``requests`` raises ``ChunkedEncodingError`` as it does on a
    real dropped connection; for botocore, :func:`_raw_response` makes its
    read fail with urllib3's ProtocolError, which botocore reports as
    ``ResponseStreamingError``, as it does against the server.
    """

    def __init__(self, data: bytes):
        super().__init__(_CutShortRaw(data))


class _CutShortStream:
    """botocore's raw response over a :class:`CutShortBody`."""

    def __init__(self, body: CutShortBody):
        self._body = body

    def read(self, amt: int | None = None) -> bytes:
        return self._failing_as_urllib3(lambda: self._body.read(amt) if amt is not None else self._body.read())

    def read1(self, amt: int = -1) -> bytes:
        return self._failing_as_urllib3(lambda: self._body.read1(amt))

    @staticmethod
    def _failing_as_urllib3(read: Callable[[], bytes]) -> bytes:
        from urllib3.exceptions import ProtocolError

        try:
            return read()
        except ConnectionResetError as exc:
            raise ProtocolError(f"Connection broken: {exc}", exc) from exc

    def stream(self, amt: int = 1024, **kwargs: Any) -> Iterator[bytes]:
        while True:
            data = self.read(amt)
            if not data:
                return
            yield data

    def close(self) -> None:
        self._body.close()


def _raw_response(original: Any) -> Any:
    """moto's botocore raw-response factory, made to let a :class:`CutShortBody` fail as a dropped connection."""

    def make(body: Any) -> Any:
        return _CutShortStream(body) if isinstance(body, CutShortBody) else original(body)

    make._kvsmock_patched = True  # type: ignore[attr-defined]
    return make


_KMS_ARN = re.compile(r"^arn:aws[\w-]*:kms:([^:]+):(\d{12}):(?:key|alias)/")


class MotoKms:
    """Stream keys in moto's KMS backend of the stream's account and region."""

    def _key(self, account_id: str, region: str, key_id: str) -> tuple[Any, Any]:
        from moto.kms.models import kms_backends

        match = _KMS_ARN.match(key_id)
        if match:
            key_region, key_account = match.group(1), match.group(2)
            if key_account != account_id:
                raise KmsKeyError(4500, f"Access to the KMS key {key_id} (account {key_account}) is denied.")
            region = key_region
        backend = regions_of(kms_backends, account_id)[region]
        try:
            raw_id = backend.any_id_to_key_id(key_id)
            return backend, backend.keys[raw_id]
        except Exception:  # moto raises KeyError, or fails on an alias it does not know
            raise KmsKeyError(4506, f"The KMS key {key_id} is not found.") from None

    def check(self, account_id: str, region: str, key_id: str) -> None:
        _, key = self._key(account_id, region, key_id)
        state = getattr(key, "key_state", "Enabled")
        if state == "Disabled":
            raise KmsKeyError(4501, f"The KMS key {key_id} is disabled.")
        if state != "Enabled":
            raise KmsKeyError(4505, f"The KMS key {key_id} is in state {state}.")
        usage, spec = getattr(key, "key_usage", None), getattr(key, "key_spec", None)
        if usage not in (None, "ENCRYPT_DECRYPT") or spec not in (None, "SYMMETRIC_DEFAULT"):
            raise KmsKeyError(4504, f"The KMS key {key_id} is not a symmetric encryption key.")

    def generate_data_key(self, account_id: str, region: str, key_id: str) -> tuple[bytes, bytes]:
        backend, key = self._key(account_id, region, key_id)
        plaintext, blob, _ = backend.generate_data_key(
            key_id=key.id, encryption_context={}, number_of_bytes=None, key_spec="AES_256"
        )
        return plaintext, blob

    def decrypt_data_key(self, account_id: str, region: str, key_id: str, blob: bytes) -> bytes:
        backend, _ = self._key(account_id, region, key_id)
        try:
            plaintext, _ = backend.decrypt(ciphertext_blob=blob, encryption_context={})
        except Exception:  # moto raises its own errors for a blob of another key or of lost material
            raise KmsKeyError(4502, f"KMS cannot decrypt a data key of {key_id}.") from None
        return plaintext


class MotoDeliveries:
    """SNS topics and S3 buckets in moto, in the stream's account."""

    def publish(self, account_id: str, region: str, topic_arn: str, subject: str, message: str) -> None:
        from moto.sns.models import sns_backends

        parts = topic_arn.split(":")
        if len(parts) < 6 or parts[4] != account_id:
            raise deliveries.DeliveryFailed(f"topic {topic_arn} is not in account {account_id}")
        backend = regions_of(sns_backends, account_id)[parts[3]]
        backend.get_topic(topic_arn)  # raises when the topic does not exist
        backend.publish(message, arn=topic_arn, subject=subject)

    def put_object(
        self, account_id: str, region: str, bucket: str, key: str, body: bytes, content_type: str, metadata: dict[str, str]
    ) -> None:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        backend = regions_of(s3_backends, account_id)[get_partition(region)]
        found = backend.get_bucket(bucket)  # raises MissingBucket
        if found.region_name != region:
            raise deliveries.DeliveryFailed(f"bucket {bucket} is in {found.region_name}, not {region}")
        stored = backend.put_object(bucket, key, body)
        stored.set_metadata({"Content-Type": content_type, **{f"x-amz-meta-{k}": v for k, v in metadata.items()}})


#: Signaling events billed as messages.
_BILLED_SIGNALING = frozenset({"SDP_OFFER", "SDP_ANSWER", "ICE_CANDIDATE", "SEND_ALEXA_OFFER"})


def count_signaling(channel_arn: str, what: str, nbytes: int) -> None:
    """Usage hook of the signaling hub: a relayed message counts on its channel, a connection makes it active."""
    if what not in _BILLED_SIGNALING and what != "CONNECT":
        return
    parts = channel_arn.split(":")
    if len(parts) < 6:
        return
    try:
        channel = backend_for(parts[4], parts[3]).find_channel({"ChannelARN": channel_arn})
    except KvsError:  # the channel is gone: nothing left to bill
        return
    if what == "CONNECT":
        channel.usage.connected(clock.now())
    else:
        channel.usage.message()


def every_backend() -> list[KinesisVideoService]:
    """The backends of every account and region that exist now."""
    return [backend for regions in list(kinesisvideo_backends.values()) for backend in list(regions.values())]


def expire_all() -> int:
    """Free the media whose retention has ended, in every account and region; returns fragments freed."""
    return sum(backend.expire_media() for backend in every_backend())


def reset_all() -> None:
    """moto's reset: clears every moto backend, kvsmock's included."""
    BackendDict.reset()


# ----------------------------------------------------------------- install
# install() and uninstall() change moto for the whole process, as moto's own patching does
# (its backends and its interception belong to the process); whether kvsmock is installed is
# read from moto itself, not kept beside it.
_install_lock = threading.Lock()


def _installed() -> bool:
    import moto.kinesisvideo

    return getattr(moto.kinesisvideo, "kinesisvideo_backends", None) is kinesisvideo_backends


def _join_iterable_body(original):
    @functools.wraps(original)
    def get_response(self, request):
        body = getattr(request, "body", None)
        if body is not None and not isinstance(body, (bytes, bytearray, str)) and not hasattr(body, "read"):
            if _KVS_HOST.match(request.url or ""):
                token = str(next(_hand_off_ids))
                _HANDED_OFF[token] = (bytes(c) for c in body)
                request.body = b""
                request.headers[_HAND_OFF_HEADER] = token
            else:
                request.body = b"".join(bytes(c) for c in body)
            request.headers.pop("Transfer-Encoding", None)
            request.headers["Content-Length"] = str(len(request.body))
        try:
            return original(self, request)
        finally:
            _HANDED_OFF.pop(request.headers.get(_HAND_OFF_HEADER, ""), None)

    get_response._kvsmock_patched = True
    return get_response


def install() -> None:
    """Make moto serve KVS from kvsmock, for the whole process (idempotent; ``import kvsmock`` calls it).

    * moto's ``kinesisvideo`` and ``kinesisvideoarchivedmedia`` backends become
      :data:`kinesisvideo_backends`;
    * the service layer reaches KMS, SNS and S3 through moto's backends
      (:class:`MotoKms` as the key provider of :mod:`kvsmock.service.encryption`,
      :class:`MotoDeliveries` as the delivery target of :mod:`kvsmock.service.deliveries`);
    * relayed signaling messages are metered on their channel (:func:`count_signaling`);
    * moto's ``requests`` interception lets streamed bodies through (:func:`_join_iterable_body`);
    * a body cut short by a fault rule fails as a dropped connection (:func:`_raw_response`).
    """
    with _install_lock:
        if _installed():
            return
        import moto.kinesisvideo
        import moto.kinesisvideoarchivedmedia

        moto.kinesisvideo.kinesisvideo_backends = kinesisvideo_backends
        moto.kinesisvideoarchivedmedia.kinesisvideoarchivedmedia_backends = kinesisvideo_backends
        encryption.set_key_provider(MotoKms())
        deliveries.set_delivery_target(MotoDeliveries())
        if count_signaling not in signaling_metering.usage_hooks:
            signaling_metering.usage_hooks.append(count_signaling)
        cb = custom_responses_mock.CallbackResponse
        if not getattr(cb.get_response, "_kvsmock_patched", False):
            cb.get_response = _join_iterable_body(cb.get_response)  # type: ignore[method-assign]
        if not getattr(botocore_stubber.MockRawResponse, "_kvsmock_patched", False):
            botocore_stubber.MockRawResponse = _raw_response(botocore_stubber.MockRawResponse)  # type: ignore[misc]


def mock_kinesisvideo(func: Any = None, config: Any = None):
    """Decorator and context manager: moto's ``mock_aws`` with kvsmock serving KVS.

    Usable as ``@mock_kinesisvideo``, ``@mock_kinesisvideo()``, on classes,
    and as ``with mock_kinesisvideo():``. Each use starts from fresh state.
    """
    install()
    return moto.mock_aws(func) if func is not None else moto.mock_aws(config=config)


def moto_wsgi_app():
    """moto's own server app, for every non-KVS request the kvsmock server gets."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


def moto_request_handler():
    """moto's werkzeug request handler (it keeps header names with underscores for S3)."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    return MotoRequestHandler


def uninstall() -> None:
    """Undo :func:`install` (used by the benchmarks to compare with moto's own kinesisvideo).

    moto's interception keeps the streamed-body patch, which changes nothing for other hosts.
    """
    with _install_lock:
        if not _installed():
            return
        import moto.kinesisvideo
        import moto.kinesisvideo.models
        import moto.kinesisvideoarchivedmedia
        import moto.kinesisvideoarchivedmedia.models

        moto.kinesisvideo.kinesisvideo_backends = moto.kinesisvideo.models.kinesisvideo_backends
        moto.kinesisvideoarchivedmedia.kinesisvideoarchivedmedia_backends = (
            moto.kinesisvideoarchivedmedia.models.kinesisvideoarchivedmedia_backends
        )
        encryption.set_key_provider(encryption.LocalKeys())
        deliveries.set_delivery_target(deliveries.NoDeliveries())
        if count_signaling in signaling_metering.usage_hooks:
            signaling_metering.usage_hooks.remove(count_signaling)
