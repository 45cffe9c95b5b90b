"""Stream operations: CreateStream, DescribeStream, ListStreams, UpdateStream,
UpdateDataRetention, DeleteStream, and the stream tag operations."""

from __future__ import annotations

import re
import time

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
REGION = "us-east-1"
VERSION = re.compile(r"[a-zA-Z0-9]{1,64}")
MISSING_ARN = f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/nope/1600000000000"


def error(excinfo) -> tuple[str, int]:
    """(error code, HTTP status) of a ClientError."""
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def message(excinfo) -> str:
    return excinfo.value.response["Error"]["Message"]


def version_of(c, name: str) -> str:
    return c.describe_stream(StreamName=name)["StreamInfo"]["Version"]


# ------------------------------------------------------------------ CreateStream
def test_create_stream_returns_arn_ending_in_creation_ms(kv):
    c = kv.kinesisvideo
    before = int(time.time() * 1000)
    arn = c.create_stream(StreamName="cam-1", DataRetentionInHours=24)["StreamARN"]
    after = int(time.time() * 1000)
    m = re.fullmatch(rf"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/cam-1/(\d+)", arn)
    assert m, arn
    created_ms = int(m.group(1))
    assert before <= created_ms <= after
    info = c.describe_stream(StreamName="cam-1")["StreamInfo"]
    assert round(info["CreationTime"].timestamp() * 1000) == created_ms


def test_create_stream_defaults(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="plain")
    info = c.describe_stream(StreamName="plain")["StreamInfo"]
    assert info["Status"] == "ACTIVE"
    assert info["DataRetentionInHours"] == 0
    assert info["KmsKeyId"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/kinesisvideo"
    assert len(info["Version"]) == 20 and VERSION.fullmatch(info["Version"])
    assert "DeviceName" not in info and "MediaType" not in info
    storage = c.describe_stream_storage_configuration(StreamName="plain")
    assert storage["StreamStorageConfiguration"] == {"DefaultStorageTier": "HOT"}


def test_create_stream_keeps_every_member(kv):
    c = kv.kinesisvideo
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    arn = c.create_stream(
        StreamName="full",
        DeviceName="Kinesis_Video_Device",
        MediaType="video/h264,audio/aac",
        KmsKeyId=key,
        DataRetentionInHours=2,
        Tags={"team": "video", "env": "test"},
        StreamStorageConfiguration={"DefaultStorageTier": "WARM"},
    )["StreamARN"]
    info = c.describe_stream(StreamARN=arn)["StreamInfo"]
    assert info["StreamName"] == "full"
    assert info["StreamARN"] == arn
    assert info["DeviceName"] == "Kinesis_Video_Device"
    assert info["MediaType"] == "video/h264,audio/aac"
    assert info["KmsKeyId"] == key
    assert info["DataRetentionInHours"] == 2
    assert c.list_tags_for_stream(StreamARN=arn)["Tags"] == {"team": "video", "env": "test"}
    storage = c.describe_stream_storage_configuration(StreamARN=arn)["StreamStorageConfiguration"]
    assert storage == {"DefaultStorageTier": "WARM"}


def test_create_stream_kms_alias_kept_as_given(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="aliased", KmsKeyId="alias/my-key")
    assert c.describe_stream(StreamName="aliased")["StreamInfo"]["KmsKeyId"] == "alias/my-key"


def test_default_kms_key_follows_region(kv):
    c = kv.client("kinesisvideo", region_name="eu-west-1")
    arn = c.create_stream(StreamName="eu")["StreamARN"]
    assert arn.startswith(f"arn:aws:kinesisvideo:eu-west-1:{ACCOUNT}:stream/eu/")
    info = c.describe_stream(StreamName="eu")["StreamInfo"]
    assert info["KmsKeyId"] == f"arn:aws:kms:eu-west-1:{ACCOUNT}:alias/aws/kinesisvideo"


def test_create_stream_duplicate_name(kv):
    c = kv.kinesisvideo
    first = c.create_stream(StreamName="dup")["StreamARN"]
    with pytest.raises(ClientError) as e:
        c.create_stream(StreamName="dup", DataRetentionInHours=5)
    assert error(e) == ("ResourceInUseException", 400)
    assert "dup" in message(e)
    # the original is untouched
    info = c.describe_stream(StreamName="dup")["StreamInfo"]
    assert info["StreamARN"] == first and info["DataRetentionInHours"] == 0


def test_create_stream_51_tags(kv):
    c = kv.kinesisvideo
    with pytest.raises(ClientError) as e:
        c.create_stream(StreamName="tagged", Tags={f"k{i}": "v" for i in range(51)})
    assert error(e) == ("TagsPerResourceExceededLimitException", 400)
    assert c.list_streams()["StreamInfoList"] == []


def test_create_stream_50_tags_is_fine(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="tagged", Tags={f"k{i}": "v" for i in range(50)})
    assert len(c.list_tags_for_stream(StreamName="tagged")["Tags"]) == 50


def test_create_stream_reserved_tag_prefix(kv):
    c = kv.kinesisvideo
    with pytest.raises(ClientError) as e:
        c.create_stream(StreamName="t", Tags={"aws:owner": "me"})
    assert error(e) == ("InvalidArgumentException", 400)
    assert "aws:" in message(e)


@pytest.mark.parametrize("hours", [87_601, 1_000_000])
def test_create_stream_retention_above_ten_years(kv, hours):
    with pytest.raises(ClientError) as e:
        kv.kinesisvideo.create_stream(StreamName="long", DataRetentionInHours=hours)
    assert error(e) == ("InvalidArgumentException", 400)
    assert "87600" in message(e)


def test_create_stream_retention_at_ten_years(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="long", DataRetentionInHours=87_600)
    assert c.describe_stream(StreamName="long")["StreamInfo"]["DataRetentionInHours"] == 87_600


def test_create_stream_account_limit(kvs, monkeypatch):
    import kvsmock.service.control.streams as backend

    monkeypatch.setattr(backend, "MAX_STREAMS_PER_REGION", 2)
    c = kvs.kinesisvideo
    c.create_stream(StreamName="a")
    c.create_stream(StreamName="b")
    with pytest.raises(ClientError) as e:
        c.create_stream(StreamName="c")
    assert error(e) == ("AccountStreamLimitExceededException", 400)
    # another region has its own limit
    kvs.client("kinesisvideo", region_name="us-west-2").create_stream(StreamName="c")


# ---------------------------------------------------------------- DescribeStream
def test_describe_stream_by_name_and_arn_agree(kv):
    c = kv.kinesisvideo
    arn = c.create_stream(StreamName="d")["StreamARN"]
    by_name = c.describe_stream(StreamName="d")["StreamInfo"]
    by_arn = c.describe_stream(StreamARN=arn)["StreamInfo"]
    both = c.describe_stream(StreamName="d", StreamARN=arn)["StreamInfo"]
    assert by_name == by_arn == both


def test_describe_stream_unknown_name(kv):
    with pytest.raises(ClientError) as e:
        kv.kinesisvideo.describe_stream(StreamName="nope")
    assert error(e) == ("ResourceNotFoundException", 404)
    assert message(e) == "The requested stream is not found or not active."
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "ResourceNotFoundException"


def test_describe_stream_unknown_arn(kv):
    with pytest.raises(ClientError) as e:
        kv.kinesisvideo.describe_stream(StreamARN=MISSING_ARN)
    assert error(e) == ("ResourceNotFoundException", 404)


def test_describe_stream_needs_name_or_arn(kv):
    with pytest.raises(ClientError) as e:
        kv.kinesisvideo.describe_stream()
    assert error(e) == ("InvalidArgumentException", 400)


def test_describe_stream_name_and_arn_disagree(kv):
    c = kv.kinesisvideo
    arn = c.create_stream(StreamName="one")["StreamARN"]
    c.create_stream(StreamName="two")
    with pytest.raises(ClientError) as e:
        c.describe_stream(StreamName="two", StreamARN=arn)
    assert error(e) == ("InvalidArgumentException", 400)


# ------------------------------------------------------------------- ListStreams
def test_list_streams(kv):
    c = kv.kinesisvideo
    assert c.list_streams()["StreamInfoList"] == []
    for name in ("b-cam", "a-cam", "c-cam"):
        c.create_stream(StreamName=name, DataRetentionInHours=1)
    out = c.list_streams()
    assert [s["StreamName"] for s in out["StreamInfoList"]] == ["a-cam", "b-cam", "c-cam"]
    assert "NextToken" not in out
    listed = out["StreamInfoList"][0]
    assert listed == c.describe_stream(StreamName="a-cam")["StreamInfo"]


# ------------------------------------------------------------------ UpdateStream
def test_update_stream_changes_fields_and_version(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="u", DeviceName="dev1", MediaType="video/h264")
    v1 = version_of(c, "u")
    c.update_stream(StreamName="u", CurrentVersion=v1, DeviceName="dev2", MediaType="video/h265")
    info = c.describe_stream(StreamName="u")["StreamInfo"]
    assert info["DeviceName"] == "dev2" and info["MediaType"] == "video/h265"
    v2 = info["Version"]
    assert v2 != v1 and VERSION.fullmatch(v2)
    # an update without changes still issues a new version
    c.update_stream(StreamName="u", CurrentVersion=v2)
    assert version_of(c, "u") not in (v1, v2)


def test_update_stream_by_arn(kv):
    c = kv.kinesisvideo
    arn = c.create_stream(StreamName="u")["StreamARN"]
    c.update_stream(StreamARN=arn, CurrentVersion=version_of(c, "u"), MediaType="audio/aac")
    assert c.describe_stream(StreamARN=arn)["StreamInfo"]["MediaType"] == "audio/aac"


def test_update_stream_version_mismatch(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="u", MediaType="video/h264")
    old = version_of(c, "u")
    c.update_stream(StreamName="u", CurrentVersion=old, MediaType="video/h265")
    with pytest.raises(ClientError) as e:
        c.update_stream(StreamName="u", CurrentVersion=old, MediaType="audio/aac")
    assert error(e) == ("VersionMismatchException", 400)
    assert c.describe_stream(StreamName="u")["StreamInfo"]["MediaType"] == "video/h265"


def test_update_stream_unknown(kv):
    with pytest.raises(ClientError) as e:
        kv.kinesisvideo.update_stream(StreamName="nope", CurrentVersion="abc")
    assert error(e) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        kv.kinesisvideo.update_stream(StreamARN=MISSING_ARN, CurrentVersion="abc")
    assert error(e) == ("ResourceNotFoundException", 404)


# ----------------------------------------------------------- UpdateDataRetention
def test_update_data_retention_increase_and_decrease(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="r", DataRetentionInHours=2)
    v1 = version_of(c, "r")
    c.update_data_retention(
        StreamName="r", CurrentVersion=v1, Operation="INCREASE_DATA_RETENTION", DataRetentionChangeInHours=10
    )
    info = c.describe_stream(StreamName="r")["StreamInfo"]
    assert info["DataRetentionInHours"] == 12
    v2 = info["Version"]
    assert v2 != v1
    c.update_data_retention(
        StreamName="r", CurrentVersion=v2, Operation="DECREASE_DATA_RETENTION", DataRetentionChangeInHours=12
    )
    info = c.describe_stream(StreamName="r")["StreamInfo"]
    assert info["DataRetentionInHours"] == 0
    assert info["Version"] not in (v1, v2)


def test_update_data_retention_up_to_the_maximum(kv):
    c = kv.kinesisvideo
    arn = c.create_stream(StreamName="r", DataRetentionInHours=1)["StreamARN"]
    c.update_data_retention(
        StreamARN=arn,
        CurrentVersion=version_of(c, "r"),
        Operation="INCREASE_DATA_RETENTION",
        DataRetentionChangeInHours=87_599,
    )
    assert c.describe_stream(StreamARN=arn)["StreamInfo"]["DataRetentionInHours"] == 87_600


def test_update_data_retention_decrease_below_zero(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="r", DataRetentionInHours=5)
    v = version_of(c, "r")
    with pytest.raises(ClientError) as e:
        c.update_data_retention(
            StreamName="r", CurrentVersion=v, Operation="DECREASE_DATA_RETENTION", DataRetentionChangeInHours=6
        )
    assert error(e) == ("InvalidArgumentException", 400)
    info = c.describe_stream(StreamName="r")["StreamInfo"]
    assert info["DataRetentionInHours"] == 5 and info["Version"] == v


def test_update_data_retention_increase_above_ten_years(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="r", DataRetentionInHours=1)
    v = version_of(c, "r")
    with pytest.raises(ClientError) as e:
        c.update_data_retention(
            StreamName="r", CurrentVersion=v, Operation="INCREASE_DATA_RETENTION", DataRetentionChangeInHours=87_600
        )
    assert error(e) == ("InvalidArgumentException", 400)
    assert "87600" in message(e)
    assert c.describe_stream(StreamName="r")["StreamInfo"]["DataRetentionInHours"] == 1


def test_update_data_retention_version_mismatch(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="r", DataRetentionInHours=1)
    with pytest.raises(ClientError) as e:
        c.update_data_retention(
            StreamName="r", CurrentVersion="stale", Operation="INCREASE_DATA_RETENTION", DataRetentionChangeInHours=1
        )
    assert error(e) == ("VersionMismatchException", 400)
    assert c.describe_stream(StreamName="r")["StreamInfo"]["DataRetentionInHours"] == 1


def test_update_data_retention_unknown(kv):
    with pytest.raises(ClientError) as e:
        kv.kinesisvideo.update_data_retention(
            StreamName="nope", CurrentVersion="abc", Operation="INCREASE_DATA_RETENTION", DataRetentionChangeInHours=1
        )
    assert error(e) == ("ResourceNotFoundException", 404)


def test_update_data_retention_bad_operation(kv):
    c = kv.client("kinesisvideo", config=_no_validation())
    c.create_stream(StreamName="r", DataRetentionInHours=1)
    with pytest.raises(ClientError) as e:
        c.update_data_retention(
            StreamName="r", CurrentVersion=version_of(c, "r"), Operation="DOUBLE", DataRetentionChangeInHours=1
        )
    assert error(e) == ("InvalidArgumentException", 400)
    assert "enum" in message(e)
    with pytest.raises(ClientError) as e:
        c.update_data_retention(
            StreamName="r", CurrentVersion=version_of(c, "r"), Operation="INCREASE_DATA_RETENTION",
            DataRetentionChangeInHours=0,
        )
    assert error(e) == ("InvalidArgumentException", 400)


def _no_validation():
    import botocore.config

    return botocore.config.Config(parameter_validation=False)


# ------------------------------------------------------------------ DeleteStream
def test_delete_stream(kv):
    c = kv.kinesisvideo
    arn = c.create_stream(StreamName="gone")["StreamARN"]
    c.create_stream(StreamName="kept")
    c.delete_stream(StreamARN=arn)
    with pytest.raises(ClientError) as e:
        c.describe_stream(StreamName="gone")
    assert error(e) == ("ResourceNotFoundException", 404)
    assert [s["StreamName"] for s in c.list_streams()["StreamInfoList"]] == ["kept"]
    with pytest.raises(ClientError) as e:
        c.delete_stream(StreamARN=arn)
    assert error(e) == ("ResourceNotFoundException", 404)
    # the name can be used again
    again = c.create_stream(StreamName="gone")["StreamARN"]
    assert again.startswith(f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/gone/")
    assert c.describe_stream(StreamName="gone")["StreamInfo"]["StreamARN"] == again


def test_delete_stream_with_current_version(kv):
    c = kv.kinesisvideo
    arn = c.create_stream(StreamName="v")["StreamARN"]
    old = version_of(c, "v")
    c.update_stream(StreamARN=arn, CurrentVersion=old, MediaType="video/h264")
    with pytest.raises(ClientError) as e:
        c.delete_stream(StreamARN=arn, CurrentVersion=old)
    assert error(e) == ("VersionMismatchException", 400)
    assert c.describe_stream(StreamARN=arn)["StreamInfo"]["Status"] == "ACTIVE"
    c.delete_stream(StreamARN=arn, CurrentVersion=version_of(c, "v"))
    assert c.list_streams()["StreamInfoList"] == []


def test_delete_stream_unknown_arn(kv):
    with pytest.raises(ClientError) as e:
        kv.kinesisvideo.delete_stream(StreamARN=MISSING_ARN)
    assert error(e) == ("ResourceNotFoundException", 404)


# ---------------------------------------------------------------- stream tags
def test_tag_untag_list_stream(kv):
    c = kv.kinesisvideo
    arn = c.create_stream(StreamName="t", Tags={"a": "1"})["StreamARN"]
    c.tag_stream(StreamName="t", Tags={"b": "2", "a": "overwritten"})
    assert c.list_tags_for_stream(StreamName="t")["Tags"] == {"a": "overwritten", "b": "2"}
    c.tag_stream(StreamARN=arn, Tags={"empty": ""})
    c.untag_stream(StreamARN=arn, TagKeyList=["b", "not-there"])
    out = c.list_tags_for_stream(StreamARN=arn)
    assert out["Tags"] == {"a": "overwritten", "empty": ""}
    assert "NextToken" not in out


def test_tagging_does_not_touch_other_fields(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="t", DataRetentionInHours=3)
    before = c.describe_stream(StreamName="t")["StreamInfo"]
    c.tag_stream(StreamName="t", Tags={"x": "y"})
    after = c.describe_stream(StreamName="t")["StreamInfo"]
    assert after["DataRetentionInHours"] == 3 and after["StreamARN"] == before["StreamARN"]


def test_tag_stream_51st_tag(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="t", Tags={f"k{i}": "v" for i in range(50)})
    # overwriting an existing key keeps 50
    c.tag_stream(StreamName="t", Tags={"k0": "new"})
    with pytest.raises(ClientError) as e:
        c.tag_stream(StreamName="t", Tags={"k50": "v"})
    assert error(e) == ("TagsPerResourceExceededLimitException", 400)
    tags = c.list_tags_for_stream(StreamName="t")["Tags"]
    assert len(tags) == 50 and tags["k0"] == "new" and "k50" not in tags


def test_tag_stream_51_tags_in_one_request(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="t")
    with pytest.raises(ClientError) as e:
        c.tag_stream(StreamName="t", Tags={f"k{i}": "v" for i in range(51)})
    assert error(e) == ("TagsPerResourceExceededLimitException", 400)
    assert c.list_tags_for_stream(StreamName="t")["Tags"] == {}


@pytest.mark.parametrize("key", ["aws:secret", "AWS:upper"])
def test_tag_stream_reserved_prefix(kv, key):
    c = kv.kinesisvideo
    c.create_stream(StreamName="t")
    with pytest.raises(ClientError) as e:
        c.tag_stream(StreamName="t", Tags={key: "v"})
    assert error(e) == ("InvalidArgumentException", 400)
    with pytest.raises(ClientError) as e:
        c.untag_stream(StreamName="t", TagKeyList=[key])
    assert error(e) == ("InvalidArgumentException", 400)


def test_stream_tag_operations_on_unknown_stream(kv):
    c = kv.kinesisvideo
    calls = [
        lambda **k: c.tag_stream(Tags={"a": "b"}, **k),
        lambda **k: c.untag_stream(TagKeyList=["a"], **k),
        lambda **k: c.list_tags_for_stream(**k),
    ]
    for call in calls:
        for target in ({"StreamName": "nope"}, {"StreamARN": MISSING_ARN}):
            with pytest.raises(ClientError) as e:
                call(**target)
            assert error(e) == ("ResourceNotFoundException", 404)


def test_stream_tag_operations_reject_channel_arn(kv):
    c = kv.kinesisvideo
    channel_arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    for call in (
        lambda: c.tag_stream(StreamARN=channel_arn, Tags={"a": "b"}),
        lambda: c.untag_stream(StreamARN=channel_arn, TagKeyList=["a"]),
        lambda: c.list_tags_for_stream(StreamARN=channel_arn),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == ("InvalidResourceFormatException", 400)


def test_list_tags_for_stream_invalid_next_token(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="t", Tags={"a": "b"})
    with pytest.raises(ClientError) as e:
        c.list_tags_for_stream(StreamName="t", NextToken="bm90LWEtdG9rZW4=")
    assert error(e) == ("InvalidArgumentException", 400)


def test_concurrent_creates_of_one_name(kv):
    from concurrent.futures import ThreadPoolExecutor

    c = kv.kinesisvideo

    def create(i):
        try:
            return c.create_stream(StreamName="race", DeviceName=f"dev{i}")["StreamARN"]
        except ClientError as err:
            return err.response["Error"]["Code"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(create, range(8)))
    arns = [r for r in results if r.startswith("arn:")]
    assert len(arns) == 1
    assert results.count("ResourceInUseException") == 7
    assert c.describe_stream(StreamName="race")["StreamInfo"]["StreamARN"] == arns[0]
