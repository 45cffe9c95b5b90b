"""Errors of the real service: each class carries the service's error type,
its HTTP status and a message.

The service layer raises these; the api layer turns them into the wire
shape (``x-amzn-ErrorType`` header, ``{"Message": ...}`` body, status).
"""

from __future__ import annotations

from .media.fragmenter import ErrorId  # PutMedia ErrorIds; their names are the ErrorCode strings


class KvsError(Exception):
    """An error the real service would answer with."""

    error_type = "InternalFailure"
    status = 500
    #: Some signaling / webrtc-storage shapes spell their member ``message``.
    lowercase_message = False

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def body(self) -> dict:
        key = "message" if self.lowercase_message else "Message"
        return {key: self.message}


def _error(name: str, status: int, lowercase: bool = False) -> type[KvsError]:
    cls = type(name, (KvsError,), {"error_type": name, "status": status, "lowercase_message": lowercase})
    cls.__doc__ = f"The service's {name} (HTTP {status})."
    return cls


InvalidArgumentException = _error("InvalidArgumentException", 400)
ClientLimitExceededException = _error("ClientLimitExceededException", 400)
ConnectionLimitExceededException = _error("ConnectionLimitExceededException", 400)
InvalidEndpointException = _error("InvalidEndpointException", 400)
ResourceInUseException = _error("ResourceInUseException", 400)
VersionMismatchException = _error("VersionMismatchException", 400)
AccountStreamLimitExceededException = _error("AccountStreamLimitExceededException", 400)
AccountChannelLimitExceededException = _error("AccountChannelLimitExceededException", 400)
DeviceStreamLimitExceededException = _error("DeviceStreamLimitExceededException", 400)
InvalidDeviceException = _error("InvalidDeviceException", 400)
InvalidResourceFormatException = _error("InvalidResourceFormatException", 400)
TagsPerResourceExceededLimitException = _error("TagsPerResourceExceededLimitException", 400)
NoDataRetentionException = _error("NoDataRetentionException", 400)
UnsupportedStreamMediaTypeException = _error("UnsupportedStreamMediaTypeException", 400)
MissingCodecPrivateDataException = _error("MissingCodecPrivateDataException", 400)
InvalidCodecPrivateDataException = _error("InvalidCodecPrivateDataException", 400)
InvalidMediaFrameException = _error("InvalidMediaFrameException", 400)
InvalidClientException = _error("InvalidClientException", 400, lowercase=True)
SessionExpiredException = _error("SessionExpiredException", 400, lowercase=True)
NotAuthorizedException = _error("NotAuthorizedException", 401)
AccessDeniedException = _error("AccessDeniedException", 401)
ResourceNotFoundException = _error("ResourceNotFoundException", 404)
StreamEdgeConfigurationNotFoundException = _error("StreamEdgeConfigurationNotFoundException", 404)
# Generic AWS protocol errors.
UnknownOperationException = _error("UnknownOperationException", 404)
SerializationException = _error("SerializationException", 400)


class WebRtcStorageAccessDenied(KvsError):
    """AccessDeniedException as kinesis-video-webrtc-storage sends it (403)."""

    error_type = "AccessDeniedException"
    status = 403
    lowercase_message = True


class SignalingAccessDenied(KvsError):
    """AccessDeniedException as the WebSocket signaling connect answers it (403)."""

    error_type = "AccessDeniedException"
    status = 403


class InvalidSignatureException(KvsError):
    """A SigV4 credential scope AWS refuses, such as a region that does not exist (403)."""

    error_type = "InvalidSignatureException"
    status = 403


class NotImplementedByKvsmock(KvsError):
    """An operation kvsmock does not emulate yet (the README lists them)."""

    error_type = "NotImplemented"
    status = 501


class InternalFailure(KvsError):
    """A fault inside kvsmock itself; answered without a traceback."""

    error_type = "InternalFailure"
    status = 500


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
