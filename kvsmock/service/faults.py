"""Fault rules: the service's errors, latency, and failed or dropped uploads and reads, on demand.

A rule names an operation (or ``*``), optionally narrows it to a stream or
signaling channel, an account and a region, and says what happens to the
requests it matches: an error of the service's type and status, a delay,
or, for PutMedia and GetMedia, an ERROR ACK / error chunk or a closed
connection after some fragments. ``probability`` and ``count`` make it
strike some of the time or a few times only.

:data:`faults` is the one book of rules of the process, shared by the
in-process mock and the server (``/_kvsmock/faults``). When a request
matches several rules, the first one added that strikes is the one applied.
This module decides whether and how a request is struck; the api layer
applies it.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
import threading
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from .. import errors
from ..errors import KvsError
from ..media.put_media.error_ids import ErrorId
from .validation import service_model

#: The five KVS services whose modelled operations and error shapes a rule may name.
_SERVICES = (
    "kinesisvideo",
    "kinesis-video-media",
    "kinesis-video-archived-media",
    "kinesis-video-signaling",
    "kinesis-video-webrtc-storage",
)
#: Operations outside the models: PutMedia, the HLS/DASH resources, the WebSocket connects.
EXTRA_OPERATIONS = (
    "PutMedia",
    "GetHLSMasterPlaylist",
    "GetHLSMediaPlaylist",
    "GetMP4InitFragment",
    "GetMP4MediaFragment",
    "GetTSFragment",
    "GetDASHManifest",
    "ConnectAsMaster",
    "ConnectAsViewer",
)
#: The operations whose responses are made of fragments (``after_fragments``, per-fragment latency).
FRAGMENT_OPERATIONS = ("PutMedia", "GetMedia")
#: Error ids a GetMedia error chunk carries (spec 2.3), with the ErrorCode kvsmock gives each.
GET_MEDIA_ERROR_CODES = {
    3002: "ERROR_WRITING_TO_STREAM",
    4000: "REQUESTED_FRAGMENT_NOT_FOUND",
    **{int(e): e.name for e in ErrorId if 4500 <= e <= 4506},
    5000: "INTERNAL_ERROR",
}
#: AWS's protocol-level errors, answered by any AWS service, with their HTTP status.
_COMMON_ERRORS = {
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    "ThrottlingException": 400,
    "ValidationException": 400,
    "IncompleteSignature": 400,
    "RequestExpired": 400,
    "MissingAuthenticationToken": 403,
    "InvalidSignatureException": 403,
    "UnrecognizedClientException": 403,
    "ExpiredTokenException": 403,
}
#: The longest delay a rule may ask for.
MAX_LATENCY_MS = 600_000


@functools.lru_cache(maxsize=None)
def operations() -> dict[str, str]:
    """Every operation a rule may name, by its folded spelling (see :func:`fold`)."""
    names = [op for service in _SERVICES for op in service_model(service).operation_names]
    return {fold(name): name for name in (*names, *EXTRA_OPERATIONS)}


@functools.lru_cache(maxsize=None)
def error_statuses() -> dict[str, int]:
    """Every error type a rule may name without a ``status``, with the status the service answers it with."""
    found = dict(_COMMON_ERRORS)
    for service in _SERVICES:
        for shape in service_model(service).error_shapes:
            status = shape.metadata.get("error", {}).get("httpStatusCode")
            if status:
                found.setdefault(shape.name, int(status))
    for cls in _subclasses(KvsError):
        if cls.__module__ == errors.__name__ and cls is not errors.KmsKeyError:  # KMS types vary per error
            found.setdefault(cls.error_type, cls.status)
    return found


def _subclasses(base: type[KvsError]) -> Iterable[type[KvsError]]:
    for cls in base.__subclasses__():
        yield cls
        yield from _subclasses(cls)


def fold(operation: str) -> str:
    """An operation as the model (``GetHLSMediaPlaylist``) or the wire (``/getHLSMediaPlaylist.m3u8``) spells it, folded."""
    name = operation.strip().rsplit("/", 1)[-1]
    for suffix in (".m3u8", ".mpd", ".mp4", ".ts"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name.lower()


class FaultError(KvsError):
    """The error a rule answers with: any of the service's types, with its status (or the rule's)."""

    def __init__(self, error_type: str, status: int, message: str, lowercase_message: bool = False):
        super().__init__(message)
        self.error_type = error_type
        self.status = status
        self.lowercase_message = lowercase_message


@dataclass
class FaultRule:
    """One rule, as added (see the module docstring); ``struck`` counts the requests it has struck."""

    id: str
    operation: str
    stream: str | None = None
    account: str | None = None
    region: str | None = None
    error: str | None = None
    status: int | None = None
    latency_ms: float = 0
    after_fragments: int | None = None
    error_id: int | None = None
    drop: bool = False
    probability: float = 1.0
    count: int | None = None
    struck: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and not (k == "drop" and not v)}

    def matches(self, operation: str, account: str, region: str, names: Iterable[str]) -> bool:
        if self.operation != "*" and self.operation != operation:
            return False
        if self.account is not None and self.account != account:
            return False
        if self.region is not None and self.region != region:
            return False
        if self.stream is not None:
            wanted = {self.stream, _name_in_arn(self.stream)}
            return any(n in wanted or _name_in_arn(n) in wanted for n in names if n)
        return True


@dataclass(frozen=True)
class Strike:
    """What one rule does to one request."""

    rule_id: str
    operation: str
    latency_s: float = 0.0
    error: FaultError | None = None
    #: PutMedia / GetMedia: after this many fragments, ``error_id`` or ``drop``.
    after_fragments: int | None = None
    error_id: int | None = None
    drop: bool = False

    @property
    def per_fragment(self) -> bool:
        """True when the latency is spent before each fragment instead of before the answer."""
        return self.operation in FRAGMENT_OPERATIONS

    def describe(self) -> str:
        """The effect in a few words, for the request log."""
        parts = []
        if self.latency_s:
            parts.append(f"latency {self.latency_s * 1000:g} ms" + (" per fragment" if self.per_fragment else ""))
        if self.error is not None:
            parts.append(f"error {self.error.error_type} ({self.error.status})")
        if self.after_fragments is not None:
            what = "drop" if self.drop else f"error_id {self.error_id}"
            parts.append(f"{what} after {self.after_fragments} fragments")
        return ", ".join(parts)


def _name_in_arn(value: str) -> str:
    """The resource name in a stream or channel ARN (``arn:…:stream/NAME/123``); anything else as it is."""
    if value.startswith("arn:") and "/" in value:
        return value.split("/")[1]
    return value


class FaultBook:
    """The rules of the process, in the order they were added (thread-safe)."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._random = random.Random()

    # ------------------------------------------------------- the public API
    def add(self, **rule: Any) -> str:
        """Add a rule (the module docstring lists its fields); returns its id. ValueError says what is wrong."""
        with self._lock:
            made = _rule_from(f"fault-{next(self._ids)}", rule)
            self._rules.append(made)
        return made.id

    def list(self) -> list[dict[str, Any]]:
        """The rules, as added, each with ``struck``: how many requests it has struck."""
        with self._lock:
            return [rule.as_dict() for rule in self._rules]

    def remove(self, rule_id: str) -> None:
        """Remove one rule; KeyError if there is none with that id."""
        with self._lock:
            for i, rule in enumerate(self._rules):
                if rule.id == rule_id:
                    del self._rules[i]
                    return
        raise KeyError(rule_id)

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    # ------------------------------------------------------- for the api layer
    def strike(self, operation: str, account: str, region: str, names: Iterable[str] = ()) -> Strike | None:
        """The fault for one request (``operation`` as :func:`operations` names it), or None."""
        if not self._rules:
            return None
        names = tuple(names)
        with self._lock:
            for rule in self._rules:
                if rule.count is not None and rule.struck >= rule.count:
                    continue
                if not rule.matches(operation, account, region, names):
                    continue
                if rule.probability < 1 and self._random.random() >= rule.probability:
                    continue
                rule.struck += 1
                return _strike_of(rule, operation)
        return None


def _strike_of(rule: FaultRule, operation: str) -> Strike:
    error = None
    if rule.error is not None:
        status = rule.status if rule.status is not None else error_statuses()[rule.error]
        lowercase = rule.error in ("InvalidClientException", "SessionExpiredException") or (
            rule.error == "AccessDeniedException" and operation in ("JoinStorageSession", "JoinStorageSessionAsViewer")
        )
        error = FaultError(rule.error, status, f"{rule.error}: injected by kvsmock fault rule {rule.id}.", lowercase)
    return Strike(
        rule_id=rule.id,
        operation=operation,
        latency_s=rule.latency_ms / 1000,
        error=error,
        after_fragments=rule.after_fragments,
        error_id=rule.error_id,
        drop=rule.drop,
    )


# ----------------------------------------------------------------- checking
_FIELDS = {f for f in FaultRule.__dataclass_fields__ if f not in ("id", "struck")}


def _rule_from(rule_id: str, given: dict[str, Any]) -> FaultRule:
    unknown = sorted(set(given) - _FIELDS)
    if unknown:
        raise ValueError(f"unknown rule field(s) {', '.join(unknown)}; a rule has {', '.join(sorted(_FIELDS))}")
    raw_op = given.get("operation")
    if not isinstance(raw_op, str) or not raw_op.strip():
        raise ValueError("a rule needs an operation: the API's name (DescribeStream, PutMedia, ...) or *")
    operation = "*" if raw_op.strip() == "*" else operations().get(fold(raw_op))
    if operation is None:
        raise ValueError(f"unknown operation {raw_op!r}: give a KVS API name such as DescribeStream or PutMedia, or *")
    rule = FaultRule(id=rule_id, operation=operation)
    for name in ("stream", "account", "region"):
        value = given.get(name)
        if value is not None:
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string")
            setattr(rule, name, value)
    _check_error(rule, given)
    rule.latency_ms = _number(given, "latency_ms", 0, 0, MAX_LATENCY_MS)
    rule.probability = _number(given, "probability", 1.0, 0, 1)
    count = given.get("count")
    if count is not None:
        rule.count = _whole(count, "count", minimum=1)
    _check_fragment_fault(rule, given)
    if rule.error is None and not rule.latency_ms and rule.after_fragments is None:
        raise ValueError("a rule must do something: give error, latency_ms, or after_fragments with error_id or drop")
    return rule


def _check_error(rule: FaultRule, given: dict[str, Any]) -> None:
    error, status = given.get("error"), given.get("status")
    if status is not None:
        rule.status = _whole(status, "status", minimum=400, maximum=599)
    if error is None:
        if status is not None:
            raise ValueError("status goes with error: the status to answer that error type with")
        return
    if not isinstance(error, str) or not error.isidentifier():
        raise ValueError("error must be a service error type such as ClientLimitExceededException")
    if error not in error_statuses() and rule.status is None:
        raise ValueError(
            f"{error} is not an error type of the KVS services or AWS's common errors; "
            "give a status too to answer it anyway"
        )
    rule.error = error


def _check_fragment_fault(rule: FaultRule, given: dict[str, Any]) -> None:
    after, error_id, drop = given.get("after_fragments"), given.get("error_id"), given.get("drop", False)
    if not isinstance(drop, bool):
        raise ValueError("drop must be true or false")
    if after is None and error_id is None and not drop:
        return
    if rule.operation not in FRAGMENT_OPERATIONS:
        raise ValueError("after_fragments, error_id and drop apply to PutMedia and GetMedia only")
    if rule.error is not None:
        raise ValueError("give either error (answered at once) or after_fragments with error_id or drop, not both")
    if (error_id is None) == (not drop):
        raise ValueError("after_fragments takes exactly one of error_id and drop: true")
    rule.after_fragments = 0 if after is None else _whole(after, "after_fragments", minimum=0)
    rule.drop = drop
    if error_id is not None:
        error_id = _whole(error_id, "error_id", minimum=0)
        known = [int(e) for e in ErrorId] if rule.operation == "PutMedia" else sorted(GET_MEDIA_ERROR_CODES)
        if error_id not in known:
            raise ValueError(f"error_id {error_id} is not one the service sends for {rule.operation}: one of {known}")
        rule.error_id = error_id


def _whole(value: Any, name: str, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum is not None and value > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
        raise ValueError(f"{name} must be a whole number {bounds}")
    return value


def _number(given: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = given.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}")
    return float(value)


#: The process's fault rules (``kvsmock.faults``; ``/_kvsmock/faults`` in the server).
faults = FaultBook()

__all__ = ["FaultBook", "FaultError", "FaultRule", "Strike", "faults", "fold", "operations"]
