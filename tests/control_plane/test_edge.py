"""Edge configurations: StartEdgeConfigurationUpdate, DescribeEdgeConfiguration,
DeleteEdgeConfiguration, ListEdgeAgentConfigurations and the SyncStatus life
cycle of a hub whose Edge Agent never connects (15 minutes, then *_FAILED)."""

from __future__ import annotations

import datetime as dt

import freezegun
import pytest
from botocore.exceptions import ClientError

from helpers.quotas import no_quotas, paced_client  # noqa: F401  (no_quotas: a fixture)

ACCOUNT = "123456789012"
REGION = "us-east-1"
HUB = f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/hub-1"
OTHER_HUB = f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/hub-2"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:camera-rtsp-uri"
MISSING_STREAM = f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/nope/1600000000000"
FROZEN_AT = dt.datetime(2031, 3, 4, 5, 6, 7, 890000, tzinfo=dt.timezone.utc)


def edge_config(hub: str = HUB, **extra) -> dict:
    return {
        "HubDeviceArn": hub,
        "RecorderConfig": {"MediaSourceConfig": {"MediaUriSecretArn": SECRET, "MediaUriType": "RTSP_URI"}},
        **extra,
    }


def error(excinfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def status(c, name: str) -> str:
    return c.describe_edge_configuration(StreamName=name)["SyncStatus"]


@pytest.fixture
def advance(kv):
    """A function that moves kvsmock's clock forward by some seconds: freezegun's
    tick in-process, the server's clock endpoint against the server."""
    if kv.endpoint_url:
        yield kv.advance_clock
    else:
        with freezegun.freeze_time(FROZEN_AT) as frozen:
            yield lambda seconds: frozen.tick(dt.timedelta(seconds=seconds))


def test_start_edge_configuration_update(kv, advance):
    c = kv.kinesisvideo
    arn = c.create_stream(StreamName="cam", DataRetentionInHours=24)["StreamARN"]
    config = edge_config(
        UploaderConfig={"ScheduleConfig": {"ScheduleExpression": "0 0/10 * * * ?", "DurationInSeconds": 300}},
        DeletionConfig={"LocalSizeConfig": {"MaxLocalMediaSizeInMB": 64, "StrategyOnFullSize": "DELETE_OLDEST_MEDIA"}},
    )
    out = c.start_edge_configuration_update(StreamName="cam", EdgeConfig=config)
    assert out["StreamName"] == "cam" and out["StreamARN"] == arn
    assert out["SyncStatus"] == "SYNCING"
    assert out["CreationTime"] == out["LastUpdatedTime"]
    assert "FailedStatusDetails" not in out
    assert out["EdgeConfig"]["HubDeviceArn"] == HUB
    assert out["EdgeConfig"]["RecorderConfig"] == config["RecorderConfig"]
    assert out["EdgeConfig"]["UploaderConfig"] == config["UploaderConfig"]
    # defaults are filled in
    assert out["EdgeConfig"]["DeletionConfig"]["EdgeRetentionInHours"] == 720
    assert out["EdgeConfig"]["DeletionConfig"]["DeleteAfterUpload"] is True
    described = c.describe_edge_configuration(StreamARN=arn)
    for key in ("StreamName", "StreamARN", "CreationTime", "LastUpdatedTime", "SyncStatus", "EdgeConfig"):
        assert described[key] == out[key]


# Calls in quick succession on one stream (StartEdgeConfigurationUpdate and DeleteEdgeConfiguration
# allow 1 a second): waiting for the quota would eat the clock margins the life cycle is checked with.
@pytest.mark.usefixtures("no_quotas")
def test_sync_status_life_cycle(kv, advance):
    c = kv.kinesisvideo
    c.create_stream(StreamName="cam", DataRetentionInHours=24)
    started = c.start_edge_configuration_update(StreamName="cam", EdgeConfig=edge_config())
    assert started["SyncStatus"] == "SYNCING"

    # a second update while syncing is refused
    advance(60)
    with pytest.raises(ClientError) as e:
        c.start_edge_configuration_update(StreamName="cam", EdgeConfig=edge_config())
    assert error(e) == ("ResourceInUseException", 400)

    advance(838)  # 898 s after the start
    assert status(c, "cam") == "SYNCING"
    advance(3)  # 901 s
    failed = c.describe_edge_configuration(StreamName="cam")
    assert failed["SyncStatus"] == "SYNC_FAILED"
    assert failed["FailedStatusDetails"]
    assert failed["LastUpdatedTime"] - started["LastUpdatedTime"] == dt.timedelta(seconds=900)
    assert failed["CreationTime"] == started["CreationTime"]

    # after a failure a new update is accepted and syncs again
    again = c.start_edge_configuration_update(StreamName="cam", EdgeConfig=edge_config(hub=OTHER_HUB))
    assert again["SyncStatus"] == "SYNCING"
    assert "FailedStatusDetails" not in again
    assert again["EdgeConfig"]["HubDeviceArn"] == OTHER_HUB
    assert again["CreationTime"] == started["CreationTime"]
    assert again["LastUpdatedTime"] > failed["LastUpdatedTime"]


# Calls in quick succession on one stream (StartEdgeConfigurationUpdate and DeleteEdgeConfiguration
# allow 1 a second): waiting for the quota would eat the clock margins the life cycle is checked with.
@pytest.mark.usefixtures("no_quotas")
def test_delete_life_cycle(kv, advance):
    c = kv.kinesisvideo
    c.create_stream(StreamName="cam", DataRetentionInHours=24)
    c.start_edge_configuration_update(StreamName="cam", EdgeConfig=edge_config())
    c.delete_edge_configuration(StreamName="cam")
    assert status(c, "cam") == "DELETING"
    # deleting again while deleting is accepted and changes nothing
    advance(100)
    c.delete_edge_configuration(StreamName="cam")
    with pytest.raises(ClientError) as e:
        c.start_edge_configuration_update(StreamName="cam", EdgeConfig=edge_config())
    assert error(e) == ("ResourceInUseException", 400)
    advance(799)
    assert status(c, "cam") == "DELETING"
    advance(2)
    described = c.describe_edge_configuration(StreamName="cam")
    assert described["SyncStatus"] == "DELETE_FAILED"
    assert described["FailedStatusDetails"]
    # a delete can be retried after it failed
    c.delete_edge_configuration(StreamName="cam")
    assert status(c, "cam") == "DELETING"


def test_freezegun_moves_kvsmock_clock(kvs):
    from kvsmock import clock

    with freezegun.freeze_time(FROZEN_AT) as frozen:
        assert clock.now() == pytest.approx(FROZEN_AT.timestamp())
        c = kvs.kinesisvideo
        arn = c.create_stream(StreamName="cam", DataRetentionInHours=1)["StreamARN"]
        assert arn.endswith("/" + str(int(FROZEN_AT.timestamp() * 1000)))
        info = c.describe_stream(StreamName="cam")["StreamInfo"]
        assert info["CreationTime"] == FROZEN_AT
        out = c.start_edge_configuration_update(StreamName="cam", EdgeConfig=edge_config())
        assert out["CreationTime"] == FROZEN_AT

        frozen.move_to(FROZEN_AT + dt.timedelta(minutes=14, seconds=59))
        assert clock.now() == pytest.approx(FROZEN_AT.timestamp() + 899)
        assert status(c, "cam") == "SYNCING"
        frozen.move_to(FROZEN_AT + dt.timedelta(hours=3))
        described = c.describe_edge_configuration(StreamName="cam")
        assert described["SyncStatus"] == "SYNC_FAILED"
        assert described["LastUpdatedTime"] == FROZEN_AT + dt.timedelta(minutes=15)


def test_server_clock_endpoint(kvs_server):
    import requests

    url = f"{kvs_server.endpoint_url}/_kvsmock/clock"
    start = requests.get(url, timeout=5).json()
    assert start["offset"] == 0
    now = kvs_server.advance_clock(3600)
    assert now == pytest.approx(start["now"] + 3600, abs=5)
    c = kvs_server.kinesisvideo
    c.create_stream(StreamName="later")
    created = c.describe_stream(StreamName="later")["StreamInfo"]["CreationTime"].timestamp()
    assert created == pytest.approx(now, abs=5)
    r = requests.post(url, json={"set": 2_000_000_000}, timeout=5)
    assert r.status_code == 200 and r.json()["now"] == pytest.approx(2_000_000_000, abs=5)
    r = requests.post(url, json={"reset": True}, timeout=5)
    assert r.json()["offset"] == 0
    r = requests.post(url, data=b"not json", timeout=5)
    assert r.status_code == 400
    for bad in ({"advance": "soon"}, {"advance": "nan"}, {"advance": "inf"}, {"set": "-inf"}, {}, [1]):
        r = requests.post(url, json=bad, timeout=5)
        assert r.status_code == 400, bad
    assert requests.get(url, timeout=5).json()["offset"] == 0
    c.create_stream(StreamName="still-fine")


# ----------------------------------------------------------------- errors
def test_edge_configuration_needs_retention(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="live")
    with pytest.raises(ClientError) as e:
        c.start_edge_configuration_update(StreamName="live", EdgeConfig=edge_config())
    assert error(e) == ("NoDataRetentionException", 400)
    with pytest.raises(ClientError) as e:
        c.describe_edge_configuration(StreamName="live")
    assert error(e) == ("StreamEdgeConfigurationNotFoundException", 404)


def test_edge_configuration_not_found(kv):
    c = paced_client(kv.kinesisvideo)  # StartEdgeConfigurationUpdate and DeleteEdgeConfiguration: 1 a second per stream
    arn = c.create_stream(StreamName="cam", DataRetentionInHours=1)["StreamARN"]
    for call in (c.describe_edge_configuration, c.delete_edge_configuration):
        for target in ({"StreamName": "cam"}, {"StreamARN": arn}):
            with pytest.raises(ClientError) as e:
                call(**target)
            assert error(e) == ("StreamEdgeConfigurationNotFoundException", 404)


def test_edge_configuration_unknown_stream(kv):
    c = paced_client(kv.kinesisvideo)  # StartEdgeConfigurationUpdate and DeleteEdgeConfiguration: 1 a second per stream
    for target in ({"StreamName": "nope"}, {"StreamARN": MISSING_STREAM}):
        with pytest.raises(ClientError) as e:
            c.start_edge_configuration_update(EdgeConfig=edge_config(), **target)
        assert error(e) == ("ResourceNotFoundException", 404)
        for call in (c.describe_edge_configuration, c.delete_edge_configuration):
            with pytest.raises(ClientError) as e:
                call(**target)
            assert error(e) == ("ResourceNotFoundException", 404)


def test_edge_configuration_bad_config(kv):
    from botocore.config import Config

    c = kv.client("kinesisvideo", config=Config(parameter_validation=False))
    c.create_stream(StreamName="cam", DataRetentionInHours=1)
    bad_configs = [
        edge_config(hub="arn:aws:s3:::bucket"),
        {"HubDeviceArn": HUB},
        edge_config(DeletionConfig={"EdgeRetentionInHours": 721}),
        edge_config(DeletionConfig={"LocalSizeConfig": {"MaxLocalMediaSizeInMB": 63}}),
        edge_config(UploaderConfig={"ScheduleConfig": {"ScheduleExpression": "short", "DurationInSeconds": 300}}),
        edge_config(UploaderConfig={"ScheduleConfig": {"ScheduleExpression": "0 0/10 * * * ?", "DurationInSeconds": 59}}),
    ]
    for config in bad_configs:
        with pytest.raises(ClientError) as e:
            c.start_edge_configuration_update(StreamName="cam", EdgeConfig=config)
        assert error(e) == ("InvalidArgumentException", 400), config
    with pytest.raises(ClientError) as e:
        c.describe_edge_configuration(StreamName="cam")
    assert error(e) == ("StreamEdgeConfigurationNotFoundException", 404)


# ------------------------------------------------------ ListEdgeAgentConfigurations
def test_list_edge_agent_configurations_by_hub(kv):
    c = kv.kinesisvideo
    for name, hub in (("c", HUB), ("a", HUB), ("b", OTHER_HUB), ("d", HUB)):
        c.create_stream(StreamName=name, DataRetentionInHours=1)
        c.start_edge_configuration_update(StreamName=name, EdgeConfig=edge_config(hub=hub))
    c.create_stream(StreamName="no-edge", DataRetentionInHours=1)

    out = c.list_edge_agent_configurations(HubDeviceArn=HUB)
    assert [e["StreamName"] for e in out["EdgeConfigs"]] == ["a", "c", "d"]
    assert "NextToken" not in out
    first = out["EdgeConfigs"][0]
    assert first["SyncStatus"] == "SYNCING"
    assert first["EdgeConfig"]["HubDeviceArn"] == HUB
    assert first["StreamARN"] == c.describe_stream(StreamName="a")["StreamInfo"]["StreamARN"]
    assert [e["StreamName"] for e in c.list_edge_agent_configurations(HubDeviceArn=OTHER_HUB)["EdgeConfigs"]] == ["b"]
    unknown = f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/nobody"
    assert c.list_edge_agent_configurations(HubDeviceArn=unknown)["EdgeConfigs"] == []


def test_list_edge_agent_configurations_default_page_is_five(kv):
    c = kv.kinesisvideo
    for i in range(7):
        c.create_stream(StreamName=f"s{i}", DataRetentionInHours=1)
        c.start_edge_configuration_update(StreamName=f"s{i}", EdgeConfig=edge_config())
    page = c.list_edge_agent_configurations(HubDeviceArn=HUB)
    assert [e["StreamName"] for e in page["EdgeConfigs"]] == [f"s{i}" for i in range(5)]
    rest = c.list_edge_agent_configurations(HubDeviceArn=HUB, NextToken=page["NextToken"])
    assert [e["StreamName"] for e in rest["EdgeConfigs"]] == ["s5", "s6"]
    assert "NextToken" not in rest


def test_list_edge_agent_configurations_shows_status_changes(kv, advance):
    c = kv.kinesisvideo
    c.create_stream(StreamName="cam", DataRetentionInHours=1)
    c.start_edge_configuration_update(StreamName="cam", EdgeConfig=edge_config())
    advance(901)
    [listed] = c.list_edge_agent_configurations(HubDeviceArn=HUB)["EdgeConfigs"]
    assert listed["SyncStatus"] == "SYNC_FAILED"
    assert listed["FailedStatusDetails"]
