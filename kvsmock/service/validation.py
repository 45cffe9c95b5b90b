"""Input validation against the service's own model.

The real service checks every request against the constraints of its API
model (required members, lengths, patterns, enums, ranges) before any
business rule, and answers ``InvalidArgumentException`` with AWS's usual
"N validation error(s) detected" message. The constraints live in botocore's
copy of that model, so this module reads them from there instead of
repeating them by hand.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import botocore.session
import regex

from ..errors import InvalidArgumentException, SerializationException, TagsPerResourceExceededLimitException
from .tags import MAX_TAGS

_SESSION = botocore.session.get_session()


@functools.lru_cache(maxsize=None)
def service_model(service: str):
    return _SESSION.get_service_model(service)


@functools.lru_cache(maxsize=None)
def _compiled(pattern: str):
    return regex.compile(pattern)


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _check(shape, value: Any, path: str, errors: list[str]) -> None:
    t = shape.type_name
    meta = shape.metadata
    if t == "structure":
        if not isinstance(value, dict):
            raise SerializationException(f"Expected an object at '{path or 'input'}'")
        for name in shape.required_members:
            if value.get(name) is None:
                errors.append(
                    f"Value null at '{_join(path, name)}' failed to satisfy constraint: Member must not be null"
                )
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], _join(path, name), errors)
                if member.type_name in ("integer", "long") and isinstance(value[name], float):
                    value[name] = int(value[name])  # 2.0 is accepted as 2; handlers get an int
        return
    if t == "list":
        if not isinstance(value, list):
            raise SerializationException(f"Expected a list at '{path}'")
        _check_bounds(len(value), meta, path, _shown(value), errors, "length")
        for i, item in enumerate(value):
            _check_member(shape.member, item, f"{path}.{i + 1}.member", errors)
        return
    if t == "map":
        if not isinstance(value, dict):
            raise SerializationException(f"Expected an object at '{path}'")
        _check_bounds(len(value), meta, path, _shown(value), errors, "length")
        for k, v in value.items():
            _check(shape.key, k, f"{path}.key", errors)
            _check_member(shape.value, v, f"{path}.{k}.value", errors)
        return
    if t == "string":
        if not isinstance(value, str):
            raise SerializationException(f"Expected a string at '{path}'")
        enum = meta.get("enum")
        if enum and value not in enum:
            errors.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(enum)}]"
            )
            return
        _check_bounds(len(value), meta, path, _shown(value), errors, "length")
        pattern = meta.get("pattern")
        if pattern and not _compiled(pattern).fullmatch(value):
            errors.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {pattern}"
            )
        return
    if t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not value.is_integer()
        ):
            raise SerializationException(f"Expected an integer at '{path}'")
        _check_bounds(int(value), meta, path, str(int(value)), errors, "value")
        return
    if t == "boolean":
        if not isinstance(value, bool):
            raise SerializationException(f"Expected a boolean at '{path}'")
        return
    if t == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SerializationException(f"Expected an epoch-seconds number at '{path}'")
        return
    if t in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SerializationException(f"Expected a number at '{path}'")
        return
    # blob and anything else: accept as given.


def _check_member(shape, value: Any, path: str, errors: list[str]) -> None:
    """A list item or map value: never null, else checked against its shape."""
    if value is None:
        errors.append(f"Value null at '{path}' failed to satisfy constraint: Member must not be null")
    else:
        _check(shape, value, path, errors)


def _shown(value: Any) -> str:
    """How a constraint error shows a string, list or map."""
    return value if isinstance(value, str) else "[...]"


def _check_bounds(n: int, meta: dict, path: str, shown: str, errors: list[str], what: str) -> None:
    """``n`` (a length, or an integer's value) within the shape's min and max."""
    if "min" in meta and n < meta["min"]:
        errors.append(
            f"Value '{shown}' at '{path}' failed to satisfy constraint: "
            f"Member must have {what} greater than or equal to {meta['min']}"
        )
    if "max" in meta and n > meta["max"]:
        errors.append(
            f"Value '{shown}' at '{path}' failed to satisfy constraint: "
            f"Member must have {what} less than or equal to {meta['max']}"
        )


def _join(path: str, name: str) -> str:
    return f"{path}.{_camel(name)}" if path else _camel(name)


def validate(service: str, operation: str, params: dict) -> None:
    """Raise InvalidArgumentException if ``params`` break the model's constraints."""
    op = service_model(service).operation_model(operation)
    if op.input_shape is None:
        return
    tags = params.get("Tags") if "Tags" in op.input_shape.members else None
    if isinstance(tags, (dict, list)) and len(tags) > MAX_TAGS:
        # The service answers more than 50 tags with its own error, not a length violation
        # (CreateStream / CreateSignalingChannel list TagsPerResourceExceededLimitException).
        raise TagsPerResourceExceededLimitException(
            f"The resource can have at most {MAX_TAGS} tags; the request has {len(tags)}."
        )
    errors: list[str] = []
    _check(op.input_shape, params, "", errors)
    if errors:
        n = len(errors)
        raise InvalidArgumentException(
            f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(errors)
        )
