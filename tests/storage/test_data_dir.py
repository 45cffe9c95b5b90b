"""``kvsmock server --data-dir``: everything survives a restart, a kill -9 loses only what was not acknowledged.

Each test runs real server processes on a data directory of its own and
talks to them with boto3 and requests, as users do.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError

from conftest_plugin import KvsServer
from helpers.producers import RawPutMedia, big_fragment, split_at_clusters
from kvsmock import put_media, read_fragments, sample_mkv


def start(data_dir: Path, port: int | None = None) -> KvsServer:
    return KvsServer(port=port, extra_args=["--data-dir", str(data_dir), "--tls", "off"])


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def servers():
    """Servers a test started; each is stopped at the end (a killed one stays dead)."""
    started: list[KvsServer] = []
    yield started
    for server in started:
        server.stop()


def put(server: KvsServer, stream: str, media: bytes) -> list[dict]:
    return put_media(stream, media=media, endpoint_url=server.endpoint_url, session=server.session())


def fragment_numbers(server: KvsServer, stream: str) -> list[str]:
    fragments = server.archived_media(stream).list_fragments(StreamName=stream)["Fragments"]
    return sorted(f["FragmentNumber"] for f in fragments)


def fragments_read(server: KvsServer, stream: str) -> list[tuple[str, dict, list[bytes]]]:
    """(number, KVS tags but MillisBehindNow, frame payloads) of every fragment, via GetMediaForFragmentList."""
    numbers = fragment_numbers(server, stream)
    client = server.archived_media(stream, "GET_MEDIA_FOR_FRAGMENT_LIST")
    body = client.get_media_for_fragment_list(StreamName=stream, Fragments=numbers)["Payload"].read()
    out = []
    for fragment in read_fragments(body):
        tags = {k: v for k, v in fragment.tags.items() if k != "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW"}
        out.append((fragment.fragment_number, tags, [frame.data for frame in fragment.frames]))
    return out


def media_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in (data_dir / "media").rglob("*") if p.is_file())


def past_hour(server: KvsServer) -> dict:
    """A TimestampRange: the hour up to the server's now."""
    now = requests.get(f"{server.endpoint_url}/_kvsmock/clock", timeout=10).json()["now"]
    return {"StartTimestamp": now - 3600, "EndTimestamp": now}


def usage_of(server: KvsServer, stream: str) -> dict:
    """The stream's usage report (storage left out unless its stream is gone: it grows with the clock)."""
    report = requests.get(f"{server.endpoint_url}/_kvsmock/usage", timeout=10).json()
    usage = next(s for s in report["Streams"] if s["StreamName"] == stream)
    if not usage["Deleted"]:
        del usage["StoredGBHours"], usage["StoredGBMonths"], usage["CostUSD"]
    return usage


# ---------------------------------------------------------------- restarts
def control_plane_state(server: KvsServer) -> dict:
    kv = server.kinesisvideo
    channel_arn = kv.describe_signaling_channel(ChannelName="door")["ChannelInfo"]["ChannelARN"]
    state = {
        "streams": kv.list_streams()["StreamInfoList"],
        "channels": kv.list_signaling_channels()["ChannelInfoList"],
        "tags": kv.list_tags_for_stream(StreamName="cam")["Tags"],
        "channel tags": kv.list_tags_for_resource(ResourceARN=channel_arn)["Tags"],
        "images": kv.describe_image_generation_configuration(StreamName="cam")["ImageGenerationConfiguration"],
        "notifications": kv.describe_notification_configuration(StreamName="cam")["NotificationConfiguration"],
        "edge": kv.describe_edge_configuration(StreamName="cam"),
        "storage": kv.describe_media_storage_configuration(ChannelARN=channel_arn)["MediaStorageConfiguration"],
        "mapped": kv.describe_mapped_resource_configuration(StreamName="cam")["MappedResourceConfigurationList"],
    }
    state["edge"].pop("ResponseMetadata")
    return state


def test_everything_survives_a_clean_restart(data_dir, servers):
    server = start(data_dir)
    servers.append(server)
    kv = server.kinesisvideo
    kms = server.client("kms")
    key_arn = kms.create_key(Description="cam key")["KeyMetadata"]["Arn"]
    kv.create_stream(StreamName="cam", DataRetentionInHours=24, DeviceName="porch", MediaType="video/h264",
                     Tags={"site": "home"})
    kv.create_stream(StreamName="vault", DataRetentionInHours=48, KmsKeyId=key_arn)
    stream_arn = kv.describe_stream(StreamName="cam")["StreamInfo"]["StreamARN"]
    channel_arn = kv.create_signaling_channel(
        ChannelName="door", SingleMasterConfiguration={"MessageTtlSeconds": 120}, Tags=[{"Key": "k", "Value": "v"}]
    )["ChannelARN"]
    kv.update_media_storage_configuration(
        ChannelARN=channel_arn, MediaStorageConfiguration={"StreamARN": stream_arn, "Status": "ENABLED"}
    )
    kv.update_image_generation_configuration(StreamName="cam", ImageGenerationConfiguration={
        "Status": "ENABLED", "ImageSelectorType": "SERVER_TIMESTAMP", "SamplingInterval": 3000, "Format": "JPEG",
        "DestinationConfig": {"Uri": "s3://stills/cam", "DestinationRegion": "us-east-1"},
    })
    kv.update_notification_configuration(StreamName="cam", NotificationConfiguration={
        "Status": "ENABLED", "DestinationConfig": {"Uri": "arn:aws:sns:us-east-1:123456789012:cam-events"},
    })
    kv.start_edge_configuration_update(StreamName="cam", EdgeConfig={
        "HubDeviceArn": "arn:aws:iot:us-east-1:123456789012:thing/hub",
        "RecorderConfig": {"MediaSourceConfig": {"MediaUriSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:cam",
                                                 "MediaUriType": "RTSP_URI"}},
    })
    version = kv.describe_stream(StreamName="cam")["StreamInfo"]["Version"]
    kv.update_data_retention(StreamName="cam", CurrentVersion=version, Operation="INCREASE_DATA_RETENTION",
                             DataRetentionChangeInHours=12)
    assert [a["EventType"] for a in put(server, "cam", sample_mkv(duration_s=6, fragment_s=2))].count("PERSISTED") == 3
    assert [a["EventType"] for a in put(server, "vault", sample_mkv(duration_s=4, fragment_s=2))].count("PERSISTED") == 2
    server.advance_clock(90)

    state_before = control_plane_state(server)
    clock_before = requests.get(f"{server.endpoint_url}/_kvsmock/clock", timeout=10).json()["offset"]
    read_before = {name: fragments_read(server, name) for name in ("cam", "vault")}
    clip_before = server.archived_media("cam", "GET_CLIP").get_clip(StreamName="cam", ClipFragmentSelector={
        "FragmentSelectorType": "SERVER_TIMESTAMP",
        "TimestampRange": past_hour(server),
    })["Payload"].read()
    key_before = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
    usage_before = {name: usage_of(server, name) for name in ("cam", "vault")}
    assert usage_before["cam"]["ConsumedBytes"] > 0
    server.stop()

    server = start(data_dir, port=server.port)
    servers.append(server)
    assert "2 streams, 1 signaling channels, 5 fragments read back" in server.read_log()
    assert {name: usage_of(server, name) for name in ("cam", "vault")} == usage_before
    assert control_plane_state(server) == state_before
    clock_after = requests.get(f"{server.endpoint_url}/_kvsmock/clock", timeout=10).json()["offset"]
    assert clock_after == pytest.approx(clock_before, abs=0.5)
    assert {name: fragments_read(server, name) for name in ("cam", "vault")} == read_before
    clip_after = server.archived_media("cam", "GET_CLIP").get_clip(StreamName="cam", ClipFragmentSelector={
        "FragmentSelectorType": "SERVER_TIMESTAMP",
        "TimestampRange": past_hour(server),
    })["Payload"].read()
    assert clip_after == clip_before
    assert server.client("kms").describe_key(KeyId=key_arn)["KeyMetadata"] == key_before

    # Numbering goes on from where it was.
    old = fragment_numbers(server, "cam")
    put(server, "cam", sample_mkv(duration_s=2, fragment_s=2))
    new = fragment_numbers(server, "cam")
    assert new[:3] == old and len(new) == 4 and new[3] > old[-1]


def test_hls_and_dash_serve_the_restored_fragments(data_dir, servers):
    server = start(data_dir)
    servers.append(server)
    server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=24)
    put(server, "cam", sample_mkv(duration_s=4, fragment_s=2))

    def segments(server: KvsServer) -> list[bytes]:
        hls = server.archived_media("cam", "GET_HLS_STREAMING_SESSION_URL").get_hls_streaming_session_url(
            StreamName="cam", PlaybackMode="ON_DEMAND",
            HLSFragmentSelector={"FragmentSelectorType": "SERVER_TIMESTAMP",
                                 "TimestampRange": past_hour(server)},
        )["HLSStreamingSessionURL"]
        master = requests.get(hls, timeout=10).text
        media_url = requests.compat.urljoin(hls, next(line for line in master.splitlines() if line and not line.startswith("#")))
        playlist = requests.get(media_url, timeout=10).text
        out = []
        for line in playlist.splitlines():
            if line.startswith("#EXT-X-MAP:URI="):
                line = line.split('"')[1]
            if line and not line.startswith("#"):
                out.append(requests.get(requests.compat.urljoin(media_url, line), timeout=10).content)
        dash = server.archived_media("cam", "GET_DASH_STREAMING_SESSION_URL").get_dash_streaming_session_url(
            StreamName="cam", PlaybackMode="ON_DEMAND",
            DASHFragmentSelector={"FragmentSelectorType": "SERVER_TIMESTAMP",
                                  "TimestampRange": past_hour(server)},
        )["DASHStreamingSessionURL"]
        manifest = requests.get(dash, timeout=10)
        assert manifest.status_code == 200 and "<MPD" in manifest.text
        return out

    before = segments(server)
    assert len(before) == 3 and all(before)  # the init segment and two media segments
    server.stop()
    server = start(data_dir, port=server.port)
    servers.append(server)
    assert segments(server) == before


# ------------------------------------------------------------------ kill -9
def test_kill_9_in_the_middle_of_an_upload_keeps_every_acknowledged_fragment(data_dir, servers):
    server = start(data_dir)
    servers.append(server)
    server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=24)
    header, clusters = split_at_clusters(sample_mkv(duration_s=8, fragment_s=2, start=0))
    producer = RawPutMedia(server.port, "cam")
    producer.send(header)
    for cluster in clusters[:3]:
        producer.send(cluster)
    persisted = lambda events: [e["FragmentNumber"] for e in events if e["EventType"] == "PERSISTED"]  # noqa: E731
    events = producer.read_until(lambda events: len(persisted(events)) == 3, timeout=30)
    producer.send(clusters[3][: len(clusters[3]) // 2])  # the fourth fragment, cut in the middle
    producer.read_until(lambda events: sum(e["EventType"] == "BUFFERING" for e in events) == 4, timeout=30)
    server.process.kill()
    server.process.wait()
    producer.close()

    server = start(data_dir, port=server.port)
    servers.append(server)
    assert fragment_numbers(server, "cam") == persisted(events)
    read = fragments_read(server, "cam")
    sent = list(read_fragments(header + b"".join(clusters[:3])))
    assert [frames for _, _, frames in read] == [[f.data for f in fragment.frames] for fragment in sent]
    assert len(media_files(data_dir)) == 3  # nothing of the cut fragment is kept
    put(server, "cam", sample_mkv(duration_s=2, fragment_s=2))
    assert fragment_numbers(server, "cam")[-1] > persisted(events)[-1]


# ------------------------------------------------------------ encryption
def test_customer_key_state_survives_and_still_governs_reads(data_dir, servers):
    server = start(data_dir)
    servers.append(server)
    kms = server.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/cam", TargetKeyId=key_id)
    server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=24, KmsKeyId="alias/cam")
    put(server, "cam", sample_mkv(duration_s=4, fragment_s=2))
    before = fragments_read(server, "cam")
    kms.disable_key(KeyId=key_id)
    server.stop()

    server = start(data_dir, port=server.port)
    servers.append(server)
    kms = server.client("kms")
    assert kms.describe_key(KeyId="alias/cam")["KeyMetadata"]["KeyState"] == "Disabled"
    client = server.archived_media("cam", "GET_MEDIA_FOR_FRAGMENT_LIST")
    body = client.get_media_for_fragment_list(StreamName="cam", Fragments=fragment_numbers(server, "cam"))["Payload"].read()
    assert [f.error_code for f in read_fragments(body)] == ["KMS_KEY_DISABLED"]
    kms.enable_key(KeyId=key_id)
    assert fragments_read(server, "cam") == before


# ------------------------------------------------------------- retention
def stored_gb_hours(server: KvsServer) -> float:
    report = requests.get(f"{server.endpoint_url}/_kvsmock/usage", timeout=10).json()
    return next(s for s in report["Streams"] if s["StreamName"] == "cam")["StoredGBHours"]


def test_retention_counts_on_across_a_restart_and_deletes_the_files(data_dir, servers):
    server = start(data_dir)
    servers.append(server)
    server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    put(server, "cam", sample_mkv(duration_s=6, fragment_s=2))
    server.advance_clock(1800)
    server.stop()
    server = start(data_dir, port=server.port)
    servers.append(server)
    assert len(fragment_numbers(server, "cam")) == 3 and len(media_files(data_dir)) == 3
    server.advance_clock(1800)  # an hour after the server timestamps stored before the restart
    assert fragment_numbers(server, "cam") == []
    assert media_files(data_dir) == []
    assert fragment_numbers(server, "cam") == []
    stored = stored_gb_hours(server)
    assert stored > 0
    server.stop()
    server = start(data_dir, port=server.port)
    servers.append(server)
    assert fragment_numbers(server, "cam") == []
    assert stored_gb_hours(server) == pytest.approx(stored)  # nothing is kept, so the bill no longer grows


def test_deleting_a_stream_deletes_its_files_and_keeps_its_bill(data_dir, servers):
    server = start(data_dir)
    servers.append(server)
    server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    put(server, "cam", sample_mkv(duration_s=4, fragment_s=2))
    server.kinesisvideo.delete_stream(StreamARN=server.kinesisvideo.describe_stream(StreamName="cam")["StreamInfo"]["StreamARN"])
    assert media_files(data_dir) == []
    billed = usage_of(server, "cam")
    server.stop()
    server = start(data_dir, port=server.port)
    servers.append(server)
    assert server.kinesisvideo.list_streams()["StreamInfoList"] == []
    assert usage_of(server, "cam") == billed and billed["Deleted"] is True


@pytest.mark.parametrize("path", ["/_kvsmock/reset", "/moto-api/reset"])
def test_reset_empties_the_directory(data_dir, servers, path):
    server = start(data_dir)
    servers.append(server)
    server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    put(server, "cam", sample_mkv(duration_s=2, fragment_s=2))
    requests.post(server.endpoint_url + path, timeout=10).raise_for_status()
    assert media_files(data_dir) == []
    server.stop()
    server = start(data_dir, port=server.port)
    servers.append(server)
    assert server.kinesisvideo.list_streams()["StreamInfoList"] == []


# --------------------------------------------------------- refusals, damage
def run_server(data_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    """A server start expected to fail at once."""
    return subprocess.run(
        [sys.executable, "-m", "kvsmock", "server", "--port", "0", "--signaling-port", "0", "--tls", "off",
         "--data-dir", str(data_dir), *extra],
        capture_output=True, text=True, timeout=60,
    )


def test_a_second_server_on_the_same_directory_is_refused(data_dir, servers):
    server = start(data_dir)
    servers.append(server)
    second = run_server(data_dir)
    assert second.returncode == 1
    assert f"in use by another kvsmock server (pid {server.process.pid})" in second.stderr


def test_a_directory_of_a_newer_format_is_refused(data_dir, servers):
    server = start(data_dir)
    server.stop()
    with sqlite3.connect(data_dir / "index.sqlite3") as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'format'")
    refused = run_server(data_dir)
    assert refused.returncode == 1
    assert "in data format 99" in refused.stderr and "reads formats up to 1" in refused.stderr


def test_a_damaged_index_is_refused(data_dir, servers):
    server = start(data_dir)
    server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    server.stop()
    index = data_dir / "index.sqlite3"
    index.write_bytes(b"\x00garbage" * 512)
    refused = run_server(data_dir)
    assert refused.returncode == 1
    assert f"the index {index}" in refused.stderr


def test_damaged_media_files_are_reported_and_never_served(data_dir, servers):
    server = start(data_dir)
    servers.append(server)
    server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=24)
    put(server, "cam", sample_mkv(duration_s=6, fragment_s=2))
    first, second, third = fragment_numbers(server, "cam")
    before = fragments_read(server, "cam")
    server.stop()
    files = {p.stem: p for p in media_files(data_dir)}
    files[second].write_bytes(files[second].read_bytes()[:-100])  # torn: shorter than written
    flipped = bytearray(files[third].read_bytes())
    flipped[len(flipped) // 2] ^= 0xFF
    files[third].write_bytes(bytes(flipped))  # same size, a byte changed
    stray = files[first].with_name("9" * 47 + ".frag")
    stray.write_bytes(b"an upload cut before its ACK")

    server = start(data_dir, port=server.port)
    servers.append(server)
    log = server.read_log()
    assert f"fragment {second} of" in log and "not the" in log and "dropped from the index" in log
    assert "dropped 1 damaged fragments" in log
    assert not stray.exists()
    assert fragment_numbers(server, "cam") == [first, third]
    client = server.archived_media("cam", "GET_MEDIA_FOR_FRAGMENT_LIST")
    body = client.get_media_for_fragment_list(StreamName="cam", Fragments=[first, third])["Payload"].read()
    got = list(read_fragments(body))
    assert [f.data for f in got[0].frames] == before[0][2]
    assert got[1].error_code == "INTERNAL_ERROR" and got[1].error_id == 5000 and got[1].fragment_number == third
    clip = server.archived_media("cam", "GET_CLIP").get_clip
    with pytest.raises(ClientError) as raised:
        clip(StreamName="cam", ClipFragmentSelector={
            "FragmentSelectorType": "SERVER_TIMESTAMP",
            "TimestampRange": past_hour(server),
        })
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "is damaged" in server.read_log()


def test_a_full_disk_fails_the_fragment_and_keeps_the_rest(data_dir, servers):
    """The server's files may grow to 2 MB at most (RLIMIT_FSIZE): a 3 MB fragment cannot be written."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2 * 1024 * 1024, hard))
    try:
        server = start(data_dir)  # inherits the limit
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    servers.append(server)
    server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=24)
    put(server, "cam", sample_mkv(duration_s=4, fragment_s=2))
    before = fragments_read(server, "cam")
    acks = put(server, "cam", big_fragment())
    assert [a["EventType"] for a in acks] == ["BUFFERING", "ERROR"]
    assert acks[-1]["ErrorCode"] == "ARCHIVAL_ERROR" and acks[-1]["ErrorId"] == 5001
    assert server.kinesisvideo.list_streams()["StreamInfoList"]  # still answering
    assert fragments_read(server, "cam") == before
    put(server, "cam", sample_mkv(duration_s=2, fragment_s=2))  # small fragments fit again
    assert len(fragment_numbers(server, "cam")) == 3
    assert "could not store fragment" in server.read_log()
