"""Errors of the real service: each class carries the service's error type,
its HTTP status and a message.

The service layer raises these; the api layer turns them into the wire
shape (``x-amzn-ErrorType`` header, ``{"Message": ...}`` body, status).
"""

from __future__ import annotations

from .media.put_media.error_ids import ErrorId  # PutMedia ErrorIds; their names are the ErrorCode strings


class KvsError(Exception):
    """An error the real service would answer with.

    A subclass is named after the service's error type and gives its HTTP
    status: ``class ResourceNotFoundException(KvsError, status=404)``.
    """

    error_type = "InternalFailure"
    status = 500
    #: Some signaling / webrtc-storage shapes spell their member ``message``.
    lowercase_message = False

    def __init_subclass__(cls, status: int | None = None, lowercase_message: bool | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if "error_type" not in cls.__dict__:
            cls.error_type = cls.__name__
        if status is not None:
            cls.status = status
        if lowercase_message is not None:
            cls.lowercase_message = lowercase_message

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def body(self) -> dict:
        key = "message" if self.lowercase_message else "Message"
        return {key: self.message}


class InvalidArgumentException(KvsError, status=400):
    """The service's InvalidArgumentException (HTTP 400)."""


class ClientLimitExceededException(KvsError, status=400):
    """The service's ClientLimitExceededException (HTTP 400)."""


class ConnectionLimitExceededException(KvsError, status=400):
    """The service's ConnectionLimitExceededException (HTTP 400)."""


class InvalidEndpointException(KvsError, status=400):
    """The service's InvalidEndpointException (HTTP 400)."""


class ResourceInUseException(KvsError, status=400):
    """The service's ResourceInUseException (HTTP 400)."""


class VersionMismatchException(KvsError, status=400):
    """The service's VersionMismatchException (HTTP 400)."""


class AccountStreamLimitExceededException(KvsError, status=400):
    """The service's AccountStreamLimitExceededException (HTTP 400)."""


class AccountChannelLimitExceededException(KvsError, status=400):
    """The service's AccountChannelLimitExceededException (HTTP 400)."""


class DeviceStreamLimitExceededException(KvsError, status=400):
    """The service's DeviceStreamLimitExceededException (HTTP 400)."""


class InvalidDeviceException(KvsError, status=400):
    """The service's InvalidDeviceException (HTTP 400)."""


class InvalidResourceFormatException(KvsError, status=400):
    """The service's InvalidResourceFormatException (HTTP 400)."""


class TagsPerResourceExceededLimitException(KvsError, status=400):
    """The service's TagsPerResourceExceededLimitException (HTTP 400)."""


class NoDataRetentionException(KvsError, status=400):
    """The service's NoDataRetentionException (HTTP 400)."""


class UnsupportedStreamMediaTypeException(KvsError, status=400):
    """The service's UnsupportedStreamMediaTypeException (HTTP 400)."""


class MissingCodecPrivateDataException(KvsError, status=400):
    """The service's MissingCodecPrivateDataException (HTTP 400)."""


class InvalidCodecPrivateDataException(KvsError, status=400):
    """The service's InvalidCodecPrivateDataException (HTTP 400)."""


class InvalidMediaFrameException(KvsError, status=400):
    """The service's InvalidMediaFrameException (HTTP 400)."""


class InvalidClientException(KvsError, status=400, lowercase_message=True):
    """The service's InvalidClientException (HTTP 400)."""


class SessionExpiredException(KvsError, status=400, lowercase_message=True):
    """The service's SessionExpiredException (HTTP 400)."""


class NotAuthorizedException(KvsError, status=401):
    """The service's NotAuthorizedException (HTTP 401)."""


class AccessDeniedException(KvsError, status=401):
    """The service's AccessDeniedException (HTTP 401)."""


class ResourceNotFoundException(KvsError, status=404):
    """The service's ResourceNotFoundException (HTTP 404)."""


class StreamEdgeConfigurationNotFoundException(KvsError, status=404):
    """The service's StreamEdgeConfigurationNotFoundException (HTTP 404)."""


# Generic AWS protocol errors.
class UnknownOperationException(KvsError, status=404):
    """The service's UnknownOperationException (HTTP 404)."""


class SerializationException(KvsError, status=400):
    """The service's SerializationException (HTTP 400)."""


class WebRtcStorageAccessDenied(KvsError):
    """AccessDeniedException as kinesis-video-webrtc-storage sends it (403)."""

    error_type = "AccessDeniedException"
    status = 403
    lowercase_message = True


class SignalingAccessDenied(KvsError):
    """AccessDeniedException as the WebSocket signaling connect answers it (403)."""

    error_type = "AccessDeniedException"
    status = 403


class InvalidSignatureException(KvsError, status=403):
    """A SigV4 credential scope AWS refuses, such as a region that does not exist (403)."""


class NotImplementedByKvsmock(KvsError):
    """An operation kvsmock does not emulate yet (the README lists them)."""

    error_type = "NotImplemented"
    status = 501


class InternalFailure(KvsError, status=500):
    """A fault inside kvsmock itself; answered without a traceback."""


class KmsKeyError(KvsError):
    """The stream's KMS key cannot be used (spec 1.5 / 2.3: the 45xx ids).

    PutMedia answers it as an ERROR ACK and GetMedia as an error chunk, both
    with ``error_id`` and ``error_code``. The archived-media and playback
    APIs answer it as an HTTP 400 whose type names the KMS condition
    (``KMSDisabledException`` ...), as other AWS services do; the real
    service's type for these APIs is unverified.
    """

    status = 400
    _TYPES = {
        4500: "KMSAccessDeniedException",
        4501: "KMSDisabledException",
        4502: "KMSValidationException",
        4503: "KMSUnavailableException",
        4504: "KMSInvalidUsageException",
        4505: "KMSInvalidStateException",
        4506: "KMSNotFoundException",
    }

    def __init__(self, error_id: int, message: str):
        super().__init__(message)
        self.error_id = error_id
        self.error_code = ErrorId(error_id).name
        self.error_type = self._TYPES[error_id]
