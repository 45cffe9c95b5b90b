"""Names, ARNs and Version strings as the service makes them."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass

from ..errors import InvalidArgumentException, InvalidSignatureException

_ALNUM = string.ascii_letters + string.digits
#: The shape of an AWS region name, as the KVS model gives it (DestinationRegion).
_REGION = re.compile(r"[a-z]+(-[a-z]+)?-[a-z]+-[0-9]")


def check_region(region: str) -> None:
    """Refuse a credential scope whose region is no region name at all, as AWS does."""
    if not _REGION.fullmatch(region or ""):
        raise InvalidSignatureException("Credential should be scoped to a valid region.")


def partition_for(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-iso-"):
        return "aws-iso"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    return "aws"


def new_version() -> str:
    """A fresh 20-character alphanumeric Version, as the service issues."""
    return "".join(secrets.choice(_ALNUM) for _ in range(20))


def resource_arn(region: str, account_id: str, kind: str, name: str, created_ms: int) -> str:
    """``arn:aws:kinesisvideo:{region}:{account}:{kind}/{name}/{creation ms}``."""
    return f"arn:{partition_for(region)}:kinesisvideo:{region}:{account_id}:{kind}/{name}/{created_ms}"


def short_id(seed: str) -> str:
    """Eight stable hex digits for per-resource endpoint host names (``s-1e415f8b``)."""
    return hashlib.sha256(seed.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class ParsedArn:
    partition: str
    service: str
    region: str
    account_id: str
    resource_type: str
    name: str
    suffix: str


def parse_arn(arn: str) -> ParsedArn:
    """Split a kinesisvideo resource ARN; InvalidArgumentException if it is not one."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise InvalidArgumentException(f"Invalid ARN: {arn}")
    resource = parts[5].split("/")
    if len(resource) != 3:
        raise InvalidArgumentException(f"Invalid ARN: {arn}")
    return ParsedArn(parts[1], parts[2], parts[3], parts[4], resource[0], resource[1], resource[2])
