"""Encryption at rest under the stream's KMS key, and what the key's state does to media."""

from __future__ import annotations

import mmap
import os
import time

import pytest

from kvsmock import put_media, read_fragments, sample_mkv
from kvsmock.api.moto_glue import backend_for
from kvsmock.media import ebml

MEDIA = sample_mkv(duration_s=6, fragment_s=2)
CLUSTER_ID = bytes.fromhex("1F43B675")


def _clusters(media: bytes) -> list[bytes]:
    """Each Cluster element of a producer MKV (known-size clusters)."""
    out, pos = [], media.index(CLUSTER_ID)
    while pos < len(media):
        element_id, size, header_len = ebml.read_element_header(media, pos)
        if element_id == ebml.CLUSTER:
            out.append(media[pos : pos + header_len + size])
        pos += header_len + size
    return out


def _put(kv, name, media=MEDIA):
    return put_media(name, media=media, endpoint_url=kv.endpoint_url, session=kv.session())


def _events(acks):
    """The ACK types in order, IDLE left out (the server sends one whenever 2 s pass without another)."""
    return [a["EventType"] for a in acks if a["EventType"] != "IDLE"]


def _read(kv, name):
    payload = kv.media(name).get_media(StreamName=name, StartSelector={"StartSelectorType": "EARLIEST"})["Payload"].read()
    return list(read_fragments(payload))


def test_stored_fragments_are_ciphertext_under_a_data_key_from_the_default_key(kvs):
    kvs.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    _put(kvs, "cam")
    stream = backend_for("123456789012", "us-east-1").streams["cam"]
    clusters = _clusters(MEDIA)
    stored = stream.store.snapshot()
    assert len(stored) == len(clusters) == 3
    for fragment, cluster in zip(stored, clusters):
        held = bytes(fragment.payload.ciphertext)
        assert cluster[40:72] not in held  # no run of the plaintext is kept
        assert len(held) == len(cluster) + 16  # AES-GCM tag
        assert fragment.cluster == cluster  # and it decrypts to what was sent
    # the data key came from KMS: its blob decrypts with the AWS-managed aws/kinesisvideo key
    kms = kvs.client("kms")
    decrypted = kms.decrypt(CiphertextBlob=stored[0].payload.data_key.blob)
    assert decrypted["Plaintext"] == stored[0].payload.data_key.plaintext
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert decrypted["KeyId"].endswith(aliases["alias/aws/kinesisvideo"])


def test_data_keys_rotate_every_45_minutes(kvs):
    kvs.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=24)
    _put(kvs, "cam")
    kvs.advance_clock(44 * 60)
    put_media("cam", media=sample_mkv(duration_s=2, fragment_s=2, start=0), session=kvs.session(),
              timecode_type="RELATIVE", producer_start_timestamp=time.time() + 3000)
    stream = backend_for("123456789012", "us-east-1").streams["cam"]
    assert stream.keys.data_keys_made == 1
    kvs.advance_clock(2 * 60)
    put_media("cam", media=sample_mkv(duration_s=2, fragment_s=2, start=0), session=kvs.session(),
              timecode_type="RELATIVE", producer_start_timestamp=time.time() + 6000)
    assert stream.keys.data_keys_made == 2
    keys = {id(f.payload.data_key) for f in stream.store.snapshot()}
    assert len(keys) == 2
    assert len(_read(kvs, "cam")) == 5  # fragments under both keys read back


@pytest.mark.parametrize("form", ["id", "arn", "alias", "alias-arn"])
def test_a_custom_key_in_any_form(kv, form):
    kms = kv.client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/cams", TargetKeyId=key["KeyId"])
    key_id = {
        "id": key["KeyId"],
        "arn": key["Arn"],
        "alias": "alias/cams",
        "alias-arn": key["Arn"].replace(f"key/{key['KeyId']}", "alias/cams"),
    }[form]
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1, KmsKeyId=key_id)
    assert kv.kinesisvideo.describe_stream(StreamName="cam")["StreamInfo"]["KmsKeyId"] == key_id
    assert _events(_put(kv, "cam")) == ["BUFFERING", "RECEIVED", "PERSISTED"] * 3
    assert len(_read(kv, "cam")) == 3


@pytest.mark.parametrize(
    "key_id, error",
    [
        ("alias/does-not-exist", (4506, "KMS_KEY_NOT_FOUND")),
        ("11111111-2222-3333-4444-555555555555", (4506, "KMS_KEY_NOT_FOUND")),
        ("arn:aws:kms:us-east-1:999999999999:key/11111111-2222-3333-4444-555555555555", (4500, "KMS_KEY_ACCESS_DENIED")),
    ],
)
def test_a_bad_key_shows_up_when_media_flows(kv, key_id, error):
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1, KmsKeyId=key_id)  # KMS not contacted
    acks = _put(kv, "cam")
    assert _events(acks) == ["ERROR"]
    assert (acks[0]["ErrorId"], acks[0]["ErrorCode"]) == error


def test_key_disabled_in_the_middle_of_an_upload_then_enabled_again(kv):
    kms = kv.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1, KmsKeyId=key)
    clusters = _clusters(MEDIA)
    header = MEDIA[: MEDIA.index(clusters[0])]
    archive = kv.archived_media("cam")

    def upload():
        yield header + clusters[0]
        deadline = time.monotonic() + 10
        while not archive.list_fragments(StreamName="cam")["Fragments"]:  # the first fragment is stored
            assert time.monotonic() < deadline
            time.sleep(0.01)
        kms.disable_key(KeyId=key)
        yield clusters[1]
        yield clusters[2]

    acks = _put(kv, "cam", upload())
    assert _events(acks) == ["BUFFERING", "RECEIVED", "PERSISTED", "ERROR"]
    assert (acks[-1]["ErrorId"], acks[-1]["ErrorCode"]) == (4501, "KMS_KEY_DISABLED")
    first = acks[0]["FragmentNumber"]

    # Reads fail the service's way while the key is disabled...
    got = _read(kv, "cam")
    assert [(f.fragment_number, f.error_id, f.error_code) for f in got] == [(first, 4501, "KMS_KEY_DISABLED")]
    payload = kv.archived_media("cam", "GET_MEDIA_FOR_FRAGMENT_LIST").get_media_for_fragment_list(
        StreamName="cam", Fragments=[first]
    )["Payload"].read()
    assert [f.error_id for f in read_fragments(payload)] == [4501]
    # ... listing metadata still works (no media is decrypted)
    assert [f["FragmentNumber"] for f in archive.list_fragments(StreamName="cam")["Fragments"]] == [first]

    # ... and once the key is enabled again nothing is lost.
    kms.enable_key(KeyId=key)
    assert _events(_put(kv, "cam", header + b"".join(clusters[1:]))) == ["BUFFERING", "RECEIVED", "PERSISTED"] * 2
    got = _read(kv, "cam")
    assert [f.error_id for f in got] == [None] * 3
    sent = [fr for c in clusters for fr in read_fragments(header + c) for fr in fr.frames]
    assert [fr.data for f in got for fr in f.frames] == [fr.data for fr in sent]


def test_key_pending_deletion(kv):
    kms = kv.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1, KmsKeyId=key)
    assert _events(_put(kv, "cam")) == ["BUFFERING", "RECEIVED", "PERSISTED"] * 3
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    acks = _put(kv, "cam")
    assert (acks[-1]["EventType"], acks[-1]["ErrorId"], acks[-1]["ErrorCode"]) == ("ERROR", 4505, "KMS_KEY_INVALID_STATE")
    assert [f.error_id for f in _read(kv, "cam")] == [4505]
    kms.cancel_key_deletion(KeyId=key)  # moto leaves a cancelled key disabled, as KMS does
    kms.enable_key(KeyId=key)
    assert [f.error_id for f in _read(kv, "cam")] == [None] * 3


def _service_stream():
    from kvsmock.service.backend import KinesisVideoService

    service = KinesisVideoService("us-east-1", "123456789012")
    service.create_stream("sealed", data_retention_hours=1)
    return service.streams["sealed"]


@pytest.mark.parametrize("sizes", [[7], [100, 1, 65536, 3], [65536] * 9 + [1234]])
def test_pieces_are_sealed_as_one_aes_gcm_message(sizes):
    """Sealed piece by piece, a Cluster is byte for byte what AES-GCM makes of it whole (what the data dir reads)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    stream = _service_stream()
    data = os.urandom(sum(sizes))
    pieces, pos = [], 0
    for i, size in enumerate(sizes):  # bytes and memoryviews, as the fragmenter hands them on
        piece = data[pos : pos + size]
        pieces.append(memoryview(piece) if i % 2 else piece)
        pos += size
    sealed = stream.keys.seal(pieces)
    assert sealed.size == len(data)
    assert bytes(sealed.ciphertext) == AESGCM(sealed.data_key.plaintext).encrypt(sealed.nonce, data, None)
    assert sealed.open() == data


def test_a_large_fragment_lives_in_its_own_mapping_until_dropped():
    from kvsmock.service import media_memory

    stream = _service_stream()
    before = media_memory.mapped_count()
    small = stream.keys.seal([b"x" * 1000])
    large = stream.keys.seal([os.urandom(media_memory.MIN_MAPPED_SIZE)])
    assert media_memory.mapped_count() == before + 1
    assert isinstance(large.ciphertext.obj, mmap.mmap) and not isinstance(small.ciphertext.obj, mmap.mmap)
    del large
    assert media_memory.mapped_count() == before


def test_past_the_mapping_cap_buffers_come_from_the_heap(monkeypatch):
    from kvsmock.service import media_memory

    monkeypatch.setattr(media_memory, "MAX_MAPPINGS", media_memory.mapped_count())
    buffer = media_memory.MediaBuffer(media_memory.MIN_MAPPED_SIZE * 2)
    buffer.room(1000)[:] = b"x" * 1000
    buffer.wrote(1000)
    kept = buffer.done()
    assert isinstance(kept.obj, bytearray) and bytes(kept) == b"x" * 1000


def test_a_buffer_grows_past_its_guess_and_keeps_only_what_was_written():
    """Heap memory becomes a mapping once large enough; a mapping grows in place; done() trims either."""
    from kvsmock.service import media_memory

    for guess in (100, media_memory.MIN_MAPPED_SIZE):
        buffer = media_memory.MediaBuffer(guess)
        data = os.urandom(3 * media_memory.MIN_MAPPED_SIZE + 7)
        for start in range(0, len(data), 5000):
            piece = data[start : start + 5000]
            buffer.room(len(piece))[:] = piece
            buffer.wrote(len(piece))
        kept = buffer.done()
        assert bytes(kept) == data and len(kept.obj) == len(data)
        assert isinstance(kept.obj, mmap.mmap)


def test_a_fragment_sealed_as_it_arrives_is_what_aes_gcm_makes_of_it_whole():
    """Bytes added while the fragment arrives are skipped at finish(), which gets all of its pieces."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    stream = _service_stream()
    data = os.urandom(300_000)
    pieces = [data[:1000], memoryview(data)[1000:150_000], data[150_000:]]
    sealing = stream.keys.begin(10)  # a poor guess: the buffer grows
    sealing.add([pieces[0], memoryview(data)[1000:40_000]])  # up to the middle of the second piece
    sealed = sealing.finish(pieces)
    assert sealed.size == len(data)
    assert bytes(sealed.ciphertext) == AESGCM(sealed.data_key.plaintext).encrypt(sealed.nonce, data, None)


def test_a_writer_gets_the_ciphertext_in_steps_as_it_is_made():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from kvsmock.service.encryption import WRITE_STEP, Written

    class Collect:
        def __init__(self):
            self.writes: list[bytes] = []

        def write(self, data):
            self.writes.append(bytes(data))

        def abort(self):
            raise AssertionError("not aborted")

    stream = _service_stream()
    data = os.urandom(3 * WRITE_STEP + 1234)
    writer = Collect()
    sealing = stream.keys.begin(len(data), writer)
    for start in range(0, len(data), 20_000):  # frames as they come
        sealing.add([data[start : start + 20_000]])
        if start + 20_000 >= 2 * WRITE_STEP:
            assert writer.writes  # some of it went out before the fragment was complete
    sealed = sealing.finish([data])
    assert isinstance(sealed, Written) and sealed.writer is writer and sealed.size == len(data)
    whole = AESGCM(sealed.data_key.plaintext).encrypt(sealed.nonce, data, None)
    assert b"".join(writer.writes) + bytes(sealed.tail) == whole  # the tail is the store's to write as it flushes
    assert sealed.stored_size == len(data) + 16
    assert len(writer.writes) <= len(data) // WRITE_STEP and all(len(w) >= WRITE_STEP for w in writer.writes)
    assert max(len(w) for w in writer.writes) < WRITE_STEP + 20_000  # a step at a time: only that much is held


def test_an_upload_is_sealed_as_it_arrives_and_stored_as_sent():
    """Each feed seals what has come of the fragment; one begun by a feed is sealed from the next feed on."""
    from kvsmock.service.put_media import PutMediaSession

    stream = _service_stream()
    clusters = _clusters(MEDIA)
    header = MEDIA[: MEDIA.index(clusters[0])]
    session = PutMediaSession(stream, "RELATIVE")
    assert [a["EventType"] for a in session.feed(header + clusters[0][:100])] == ["BUFFERING"]
    sealing = session.sealing
    assert sealing is not None and sealing.size == 0  # begun by this feed: nothing sealed yet
    end = len(clusters[0]) - 1000  # a known-size Cluster is complete at its last byte: stop short of it
    for start in range(100, end, 1000):
        assert session.feed(clusters[0][start : min(start + 1000, end)]) == []
        assert session.sealing is sealing and 0 < sealing.size <= start + 1000
    acks = session.feed(clusters[0][end:] + clusters[1]) + session.close()
    assert [a["EventType"] for a in acks].count("PERSISTED") == 2
    stored = stream.store.fragments
    assert [f.payload.open() for f in stored] == clusters[:2]


def test_a_buffer_that_passes_bytes_on_is_reused_and_stays_on_the_heap():
    """``kept=False`` (a fragment written to disk as it arrives): cleared after each step, grown on the heap."""
    from kvsmock.service import media_memory

    buffer = media_memory.MediaBuffer(1000, kept=False)
    before = media_memory.mapped_count()
    for step in (b"a" * 800, b"b" * 3 * media_memory.MIN_MAPPED_SIZE):  # the second outgrows it
        buffer.room(len(step))[:] = step
        buffer.wrote(len(step))
        passed = buffer.view()
        assert bytes(passed) == step and isinstance(passed.obj, bytearray)
        del passed
        buffer.clear()
    assert media_memory.mapped_count() == before
