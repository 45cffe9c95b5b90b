"""The errors of EBML parsing: invalid bytes, and bytes that end too soon."""

from __future__ import annotations

__all__ = ["EBMLError", "EBMLTruncated"]


class EBMLError(ValueError):
    """The bytes are not valid EBML (bad VINT, size overflowing its parent, truncation)."""


class EBMLTruncated(EBMLError):
    """The data ended in the middle of an element."""
