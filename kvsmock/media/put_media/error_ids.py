"""The PutMedia ACK error ids, and the exception that stops the fragmenter with one.

The ids are the service's (spec 1.5): the fragmenter reports the 40xx ids
of bad media; the service layer adds the others (stream state, KMS, internal).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ErrorId", "Refusal"]


class ErrorId(IntEnum):
    """PutMedia ERROR ACK ids (spec 1.5); the member name is the ErrorCode string."""

    STREAM_READ_ERROR = 4000
    MAX_FRAGMENT_SIZE_REACHED = 4001
    MAX_FRAGMENT_DURATION_REACHED = 4002
    MAX_CONNECTION_DURATION_REACHED = 4003
    FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS = 4004
    MORE_THAN_ONE_TRACK_FOUND = 4005
    INVALID_MKV_DATA = 4006
    INVALID_PRODUCER_TIMESTAMP = 4007
    STREAM_NOT_ACTIVE = 4008
    FRAGMENT_METADATA_LIMIT_REACHED = 4009
    TRACK_NUMBER_MISMATCH = 4010
    FRAMES_MISSING_FOR_TRACK = 4011
    MORE_THAN_ALLOWED_TRACKS_FOUND = 4012
    KMS_KEY_ACCESS_DENIED = 4500
    KMS_KEY_DISABLED = 4501
    KMS_KEY_VALIDATION_ERROR = 4502
    KMS_KEY_UNAVAILABLE = 4503
    KMS_KEY_INVALID_USAGE = 4504
    KMS_KEY_INVALID_STATE = 4505
    KMS_KEY_NOT_FOUND = 4506
    STREAM_DELETED = 4507
    INTERNAL_ERROR = 5000
    ARCHIVAL_ERROR = 5001


class Refusal(Exception):
    """The body broke a PutMedia rule: the fragmenter stops and reports it as a ``MediaError`` event.

    ``timecode`` is the Cluster Timecode of the fragment concerned, when there is one.
    """

    def __init__(self, error: ErrorId, message: str, timecode: int | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.message = message
        self.timecode = timecode
