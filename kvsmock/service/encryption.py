"""Encryption at rest: every stored fragment is sealed under its stream's KMS key.

As in the service, a stream names a KMS key (its own, or the default
``aws/kinesisvideo``) and KMS is only contacted when media flows:

* the first fragment a stream stores asks KMS for a data key
  (GenerateDataKey on the stream's key); that data key seals fragments with
  AES-256-GCM for 45 minutes of emulator time, then a new one is made;
* every seal and every open first checks the key itself: a key that is
  disabled, pending deletion or missing makes PutMedia answer with its
  45xx ERROR ACK and reads fail with the matching error; once the key is
  usable again, everything stored before reads back as it was.

KMS itself is reached through the process's :class:`KeyProvider`: the moto
glue's :func:`~kvsmock.api.moto_glue.install` sets one that uses moto's KMS
backend of the stream's account and region
(:class:`~kvsmock.api.moto_glue.MotoKms`); without it (the service layer used
on its own) :class:`LocalKeys` makes keys locally. It is process-wide because
moto's backends are: whether KMS is moto's is a fact of the process, the same
for every account and region, so no backend holds it; a stream's keys ask
the provider in force at each seal and open.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Protocol, Sequence, Union

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .. import clock
from ..errors import KmsKeyError
from .media_memory import MediaBuffer
from .persistence import MediaWriter

__all__ = [
    "DATA_KEY_LIFETIME_SECONDS",
    "DataKey",
    "KeyProvider",
    "LocalKeys",
    "Sealed",
    "Sealing",
    "StreamKeys",
    "Written",
    "key_provider",
    "set_key_provider",
]

_TAG_SIZE = 16
#: A fragment's ciphertext goes to its writer (the durable store's file) in steps of at least this many bytes.
WRITE_STEP = 256 * 1024

#: Bytes as a fragment arrives and as it is kept.
Buffer = Union[bytes, bytearray, memoryview]

#: The service makes a new data key every 45 minutes.
DATA_KEY_LIFETIME_SECONDS = 45 * 60


class KeyProvider(Protocol):
    """The KMS operations kvsmock needs; each raises :class:`~kvsmock.errors.KmsKeyError`."""

    def check(self, account_id: str, region: str, key_id: str) -> None:
        """Raise if the key cannot be used for encryption now (missing, disabled, wrong usage...)."""

    def generate_data_key(self, account_id: str, region: str, key_id: str) -> tuple[bytes, bytes]:
        """A fresh 256-bit data key: (plaintext, ciphertext blob)."""

    def decrypt_data_key(self, account_id: str, region: str, key_id: str, blob: bytes) -> bytes:
        """The plaintext of a data key's blob (a key read back from the durable store)."""


class LocalKeys:
    """Keys without KMS: any key id is usable (used when moto's KMS is not there)."""

    def check(self, account_id: str, region: str, key_id: str) -> None:
        return None

    def generate_data_key(self, account_id: str, region: str, key_id: str) -> tuple[bytes, bytes]:
        plaintext = AESGCM.generate_key(bit_length=256)
        return plaintext, b"local:" + os.urandom(32)

    def decrypt_data_key(self, account_id: str, region: str, key_id: str, blob: bytes) -> bytes:
        raise KmsKeyError(4506, f"The data key of {key_id} was made without KMS and cannot be unwrapped.")


#: The process's key provider (see the module docstring); set only by :func:`set_key_provider`.
_provider: KeyProvider = LocalKeys()


def set_key_provider(provider: KeyProvider) -> None:
    """Reach KMS through ``provider`` from now on (the moto glue's install and uninstall call it)."""
    global _provider
    _provider = provider


def key_provider() -> KeyProvider:
    return _provider


class DataKey:
    """One data key of a stream: the blob is what KMS returned, the plaintext stays in memory.

    A key read back from the durable store has only its blob; KMS unwraps it
    (Decrypt) the first time a fragment sealed under it is opened.
    """

    __slots__ = ("blob", "created_at", "_plaintext", "_aead", "row_id")

    def __init__(self, blob: bytes, created_at: float, plaintext: bytes | None = None):
        self.blob = blob
        self.created_at = created_at
        self._plaintext = plaintext
        self._aead: AESGCM | None = AESGCM(plaintext) if plaintext is not None else None
        #: Its row in the durable store, once written there.
        self.row_id: int | None = None

    @property
    def plaintext(self) -> bytes | None:
        """The key itself (None for a restored key KMS has not unwrapped yet)."""
        return self._plaintext

    def aead(self, keys: StreamKeys) -> AESGCM:
        """The cipher of this key (unwrapping the blob through KMS the first time, for a restored key)."""
        if self._aead is None:
            self._aead = AESGCM(self.plaintext_for(keys))
        return self._aead

    def plaintext_for(self, keys: StreamKeys) -> bytes:
        """The key itself, unwrapping the blob through KMS the first time for a restored key."""
        if self._plaintext is None:
            self._plaintext = _provider.decrypt_data_key(keys.account_id, keys.region, keys.key_id, self.blob)
        return self._plaintext


@dataclass(frozen=True, eq=False, slots=True)
class Sealed:
    """A fragment's bytes as stored in memory: AES-GCM ciphertext (with its tag) under one data key."""

    keys: StreamKeys
    data_key: DataKey
    nonce: bytes
    ciphertext: Buffer  #: bytes, or what a :class:`~kvsmock.service.media_memory.MediaBuffer` holds
    size: int  #: plaintext length

    def open(self) -> bytes:
        """The plaintext, once the stream's KMS key has been checked."""
        self.keys.check()
        return self.data_key.aead(self.keys).decrypt(self.nonce, self.ciphertext, None)

    @property
    def stored_size(self) -> int:
        """Bytes held for it (ciphertext and tag)."""
        return len(self.ciphertext)

    def __len__(self) -> int:
        return self.size


@dataclass(frozen=True, eq=False, slots=True)
class Written:
    """A fragment sealed into its writer (the durable store's file) as it arrived, and not kept in memory:
    what the store needs to finish the file and index it."""

    keys: StreamKeys
    data_key: DataKey
    nonce: bytes
    writer: MediaWriter
    size: int  #: plaintext length
    #: The last of the ciphertext (and the tag), not yet given to the writer: the store writes it as it
    #: flushes the file.
    tail: memoryview

    @property
    def stored_size(self) -> int:
        """Bytes written (ciphertext and tag)."""
        return self.size + _TAG_SIZE


class StreamKeys:
    """The data keys of one stream, made and rotated on demand."""

    def __init__(self, account_id: str, region: str, key_id: str):
        self.account_id = account_id
        self.region = region
        self.key_id = key_id
        self._current: DataKey | None = None
        self._lock = threading.Lock()
        self.data_keys_made = 0

    def restore_current(self, key: DataKey) -> None:
        """Seal with ``key`` again (the newest data key read back from the durable store), while it is young enough."""
        with self._lock:
            self._current = key

    def check(self) -> None:
        _provider.check(self.account_id, self.region, self.key_id)

    def current(self) -> DataKey:
        """The data key to seal with now (a new one after 45 minutes of emulator time); the caller has
        :meth:`check`-ed the stream's KMS key."""
        now = clock.now()
        with self._lock:
            key = self._current
            if key is None or not 0 <= now - key.created_at < DATA_KEY_LIFETIME_SECONDS:
                plaintext, blob = _provider.generate_data_key(self.account_id, self.region, self.key_id)
                key = self._current = DataKey(blob, now, plaintext)
                self.data_keys_made += 1
            return key

    def begin(self, expected_size: int, writer: MediaWriter | None = None) -> Sealing:
        """Start sealing a fragment of about ``expected_size`` bytes under the current data key, also into
        ``writer`` if given; the caller has checked the stream's KMS key (raises KmsKeyError if no data
        key can be made)."""
        return Sealing(self, self.current(), expected_size, writer)

    def seal(self, pieces: Sequence[Buffer]) -> Sealed:
        """The bytes of ``pieces``, in order, sealed under the current data key (raises KmsKeyError if the
        key is unusable)."""
        self.check()
        sealed = self.begin(sum(len(piece) for piece in pieces)).finish(pieces)
        assert isinstance(sealed, Sealed)  # no writer: kept in memory
        return sealed


class Sealing:
    """One fragment being sealed as its bytes arrive.

    AES-GCM as a stream cipher: each piece (a Cluster as it arrived) is
    encrypted straight into the buffer that will keep it, never joined
    first, and the tag goes after the ciphertext as :class:`AESGCM` lays it
    out; with a ``writer``, the ciphertext is written there too as it is
    made, :data:`WRITE_STEP` bytes or more at a time, and only those are
    held, in one buffer reused step after step (the fragment is read back
    from where it was written). A fragment sealed while it arrives leaves
    only its last bytes and the tag to the moment it is complete.
    """

    __slots__ = ("keys", "data_key", "nonce", "size", "writer", "_encryptor", "_expected", "_out")

    def __init__(self, keys: StreamKeys, data_key: DataKey, expected_size: int, writer: MediaWriter | None = None):
        self.keys = keys
        self.data_key = data_key
        self.nonce = os.urandom(12)
        #: Plaintext bytes sealed so far.
        self.size = 0
        self.writer = writer
        self._encryptor = Cipher(algorithms.AES(data_key.plaintext_for(keys)), modes.GCM(self.nonce)).encryptor()
        self._expected = expected_size
        self._out: MediaBuffer | None = None  # made with the first bytes

    def add(self, pieces: Sequence[Buffer]) -> None:
        """Seal the next bytes of the fragment."""
        out, encryptor = self._buffer(), self._encryptor
        for piece in pieces:
            size = len(piece)
            # update_into wants room for a block beyond the piece; for GCM it writes the piece's length.
            out.wrote(encryptor.update_into(piece, out.room(size + _TAG_SIZE - 1)))
            self.size += size
        if self.writer is not None and out.written >= WRITE_STEP:
            self._write()

    def _buffer(self) -> MediaBuffer:
        if self._out is None:
            if self.writer is None:
                self._out = MediaBuffer(self._expected + _TAG_SIZE)
            else:  # a step, the piece that completes it and room for the next piece
                self._out = MediaBuffer(2 * WRITE_STEP, kept=False)
        return self._out

    def _write(self) -> None:
        assert self.writer is not None
        out = self._buffer()
        self.writer.write(out.view())
        out.clear()

    def finish(self, pieces: Sequence[Buffer]) -> Sealed | Written:
        """The sealed fragment, given all of its bytes (``pieces``): those not yet added are sealed first."""
        skip = self.size
        rest: list[Buffer] = []
        for piece in pieces:
            if skip >= len(piece):
                skip -= len(piece)
                continue
            rest.append(memoryview(piece)[skip:] if skip else piece)
            skip = 0
        self.add(rest)
        self._encryptor.finalize()
        out = self._buffer()
        out.room(_TAG_SIZE)[:] = self._encryptor.tag
        out.wrote(_TAG_SIZE)
        if self.writer is not None:
            return Written(self.keys, self.data_key, self.nonce, self.writer, self.size, out.view())
        return Sealed(self.keys, self.data_key, self.nonce, out.done(), self.size)

    def abort(self) -> None:
        """The fragment will not be stored: what was written of it is given up."""
        if self.writer is not None:
            self.writer.abort()


__all__ += ["KmsKeyError"]
