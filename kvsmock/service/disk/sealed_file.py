"""A stored fragment's payload when its bytes live in a file of the data directory."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag

from ..encryption import DataKey, StreamKeys
from ..persistence import CorruptMediaError
from .media_files import MediaFiles

__all__ = ["SealedFile"]


class SealedFile:
    """The Cluster of one fragment, sealed under a data key, in one file; read and opened on demand.

    Like :class:`~kvsmock.service.encryption.Sealed` but only the file's place
    and checks stay in memory.
    """

    __slots__ = ("keys", "data_key", "nonce", "files", "path", "stored_size", "size")

    def __init__(
        self, keys: StreamKeys, data_key: DataKey, nonce: bytes, files: MediaFiles, path: str,
        stored_size: int, size: int,
    ):
        self.keys = keys
        self.data_key = data_key
        self.nonce = nonce
        self.files = files
        self.path = path  #: a str: lighter than a Path, one is kept per fragment
        self.stored_size = stored_size  #: bytes in the file (ciphertext and tag)
        self.size = size  #: plaintext length

    def open(self) -> bytes:
        """The plaintext; raises KmsKeyError if the stream's key is unusable, CorruptMediaError if the file changed
        (its size, or a byte: AES-GCM authenticates every byte, so a change fails the tag)."""
        self.keys.check()
        ciphertext = self.files.read(self.path, self.stored_size)
        try:
            return self.data_key.aead(self.keys).decrypt(self.nonce, ciphertext, None)
        except InvalidTag:
            raise CorruptMediaError(f"the media file {self.path} is damaged (its AES-GCM tag does not match)") from None

    def __len__(self) -> int:
        return self.size
