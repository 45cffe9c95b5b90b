"""A stored fragment's payload when its bytes live in a file of the data directory."""

from __future__ import annotations

from pathlib import Path

from ..encryption import DataKey, StreamKeys
from .media_files import MediaFiles

__all__ = ["SealedFile"]


class SealedFile:
    """The Cluster of one fragment, sealed under a data key, in one file; read and opened on demand.

    Like :class:`~kvsmock.service.encryption.Sealed` but only the file's place
    and checks stay in memory.
    """

    __slots__ = ("keys", "data_key", "nonce", "files", "path", "stored_size", "size", "crc")

    def __init__(
        self, keys: StreamKeys, data_key: DataKey, nonce: bytes, files: MediaFiles, path: Path,
        stored_size: int, size: int, crc: int,
    ):
        self.keys = keys
        self.data_key = data_key
        self.nonce = nonce
        self.files = files
        self.path = path
        self.stored_size = stored_size  #: bytes in the file (ciphertext and tag)
        self.size = size  #: plaintext length
        self.crc = crc

    def open(self) -> bytes:
        """The plaintext; raises KmsKeyError if the stream's key is unusable, CorruptMediaError if the file changed."""
        self.keys.check()
        ciphertext = self.files.read(self.path, self.stored_size, self.crc)
        return self.data_key.aead(self.keys).decrypt(self.nonce, ciphertext, None)

    def __len__(self) -> int:
        return self.size
