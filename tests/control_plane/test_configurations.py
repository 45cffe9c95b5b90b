"""Per-stream and per-channel configurations: image generation, notifications,
media storage (and the mapped resource), and the stream storage tier."""

from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
REGION = "us-east-1"
MISSING_STREAM = f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/nope/1600000000000"
MISSING_CHANNEL = f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:channel/nope/1600000000000"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:kvs-events"

IMAGE_CONFIG = {
    "Status": "ENABLED",
    "ImageSelectorType": "SERVER_TIMESTAMP",
    "DestinationConfig": {"Uri": "s3://my-bucket/images", "DestinationRegion": REGION},
    "SamplingInterval": 3000,
    "Format": "JPEG",
    "FormatConfig": {"JPEGQuality": "80"},
    "WidthPixels": 320,
    "HeightPixels": 240,
}
NOTIFICATION_CONFIG = {"Status": "ENABLED", "DestinationConfig": {"Uri": TOPIC}}


def error(excinfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def message(excinfo) -> str:
    return excinfo.value.response["Error"]["Message"]


def unvalidated(kv):
    return kv.client("kinesisvideo", config=Config(parameter_validation=False))


def image_config(**changes) -> dict:
    return {**IMAGE_CONFIG, **changes}


# -------------------------------------------------- image generation configuration
def test_image_generation_configuration_round_trip(kv):
    c = kv.kinesisvideo
    arn = c.create_stream(StreamName="img", DataRetentionInHours=1)["StreamARN"]
    assert "ImageGenerationConfiguration" not in c.describe_image_generation_configuration(StreamName="img")
    c.update_image_generation_configuration(StreamName="img", ImageGenerationConfiguration=IMAGE_CONFIG)
    got = c.describe_image_generation_configuration(StreamARN=arn)["ImageGenerationConfiguration"]
    assert got == IMAGE_CONFIG
    png = image_config(Format="PNG", ImageSelectorType="PRODUCER_TIMESTAMP")
    del png["FormatConfig"]
    c.update_image_generation_configuration(StreamARN=arn, ImageGenerationConfiguration=png)
    assert c.describe_image_generation_configuration(StreamName="img")["ImageGenerationConfiguration"] == png
    # no configuration removes it
    c.update_image_generation_configuration(StreamName="img")
    assert "ImageGenerationConfiguration" not in c.describe_image_generation_configuration(StreamName="img")


def test_image_generation_needs_retention(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="live")
    with pytest.raises(ClientError) as e:
        c.update_image_generation_configuration(StreamName="live", ImageGenerationConfiguration=IMAGE_CONFIG)
    assert error(e) == ("NoDataRetentionException", 400)
    assert "ImageGenerationConfiguration" not in c.describe_image_generation_configuration(StreamName="live")


@pytest.mark.parametrize(
    "bad",
    [
        {"SamplingInterval": 199},
        {"DestinationConfig": {"Uri": "s3://my-bucket/images", "DestinationRegion": "eu-west-1"}},
        {"DestinationConfig": {"Uri": "http://example.com/x", "DestinationRegion": REGION}},
        {"FormatConfig": {"JPEGQuality": "101"}},
        {"FormatConfig": {"JPEGQuality": "0"}},
        {"FormatConfig": {"JPEGQuality": "80"}, "Format": "PNG"},
        {"WidthPixels": 3841},
        {"HeightPixels": 2161},
        {"Format": "GIF"},
        {"Status": "MAYBE"},
    ],
)
def test_image_generation_bad_values(kv, bad):
    c = unvalidated(kv)
    c.create_stream(StreamName="img", DataRetentionInHours=1)
    with pytest.raises(ClientError) as e:
        c.update_image_generation_configuration(StreamName="img", ImageGenerationConfiguration=image_config(**bad))
    assert error(e) == ("InvalidArgumentException", 400)


def test_image_generation_missing_required_member(kv):
    c = unvalidated(kv)
    c.create_stream(StreamName="img", DataRetentionInHours=1)
    config = dict(IMAGE_CONFIG)
    del config["Format"]
    with pytest.raises(ClientError) as e:
        c.update_image_generation_configuration(StreamName="img", ImageGenerationConfiguration=config)
    assert error(e) == ("InvalidArgumentException", 400)
    assert "imageGenerationConfiguration.format" in message(e)


def test_image_generation_unknown_stream(kv):
    c = kv.kinesisvideo
    for target in ({"StreamName": "nope"}, {"StreamARN": MISSING_STREAM}):
        with pytest.raises(ClientError) as e:
            c.update_image_generation_configuration(ImageGenerationConfiguration=IMAGE_CONFIG, **target)
        assert error(e) == ("ResourceNotFoundException", 404)
        with pytest.raises(ClientError) as e:
            c.describe_image_generation_configuration(**target)
        assert error(e) == ("ResourceNotFoundException", 404)


# ------------------------------------------------------ notification configuration
def test_notification_configuration_round_trip(kv):
    c = kv.kinesisvideo
    arn = c.create_stream(StreamName="n", DataRetentionInHours=1)["StreamARN"]
    assert "NotificationConfiguration" not in c.describe_notification_configuration(StreamName="n")
    c.update_notification_configuration(StreamARN=arn, NotificationConfiguration=NOTIFICATION_CONFIG)
    assert c.describe_notification_configuration(StreamName="n")["NotificationConfiguration"] == NOTIFICATION_CONFIG
    disabled = {"Status": "DISABLED", "DestinationConfig": {"Uri": TOPIC}}
    c.update_notification_configuration(StreamName="n", NotificationConfiguration=disabled)
    assert c.describe_notification_configuration(StreamARN=arn)["NotificationConfiguration"] == disabled
    c.update_notification_configuration(StreamName="n")
    assert "NotificationConfiguration" not in c.describe_notification_configuration(StreamName="n")


def test_notification_needs_retention(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="live")
    with pytest.raises(ClientError) as e:
        c.update_notification_configuration(StreamName="live", NotificationConfiguration=NOTIFICATION_CONFIG)
    assert error(e) == ("NoDataRetentionException", 400)


def test_notification_destination_must_be_a_topic(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="n", DataRetentionInHours=1)
    with pytest.raises(ClientError) as e:
        c.update_notification_configuration(
            StreamName="n",
            NotificationConfiguration={"Status": "ENABLED", "DestinationConfig": {"Uri": "s3://bucket/x"}},
        )
    assert error(e) == ("InvalidArgumentException", 400)


def test_notification_unknown_stream(kv):
    c = kv.kinesisvideo
    for target in ({"StreamName": "nope"}, {"StreamARN": MISSING_STREAM}):
        with pytest.raises(ClientError) as e:
            c.update_notification_configuration(NotificationConfiguration=NOTIFICATION_CONFIG, **target)
        assert error(e) == ("ResourceNotFoundException", 404)
        with pytest.raises(ClientError) as e:
            c.describe_notification_configuration(**target)
        assert error(e) == ("ResourceNotFoundException", 404)


# ----------------------------------------------------- media storage configuration
def test_media_storage_configuration_life_cycle(kv):
    c = kv.kinesisvideo
    channel = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    stream = c.create_stream(StreamName="store", DataRetentionInHours=1)["StreamARN"]
    got = c.describe_media_storage_configuration(ChannelARN=channel)["MediaStorageConfiguration"]
    assert got == {"Status": "DISABLED"}
    assert c.describe_mapped_resource_configuration(StreamName="store")["MappedResourceConfigurationList"] == []

    c.update_media_storage_configuration(
        ChannelARN=channel, MediaStorageConfiguration={"StreamARN": stream, "Status": "ENABLED"}
    )
    for target in ({"ChannelARN": channel}, {"ChannelName": "ch"}):
        got = c.describe_media_storage_configuration(**target)["MediaStorageConfiguration"]
        assert got == {"StreamARN": stream, "Status": "ENABLED"}
    mapped = c.describe_mapped_resource_configuration(StreamARN=stream)
    assert mapped["MappedResourceConfigurationList"] == [{"Type": "SIGNALING_CHANNEL", "ARN": channel}]
    assert "NextToken" not in mapped

    c.update_media_storage_configuration(ChannelARN=channel, MediaStorageConfiguration={"Status": "DISABLED"})
    assert c.describe_media_storage_configuration(ChannelARN=channel)["MediaStorageConfiguration"]["Status"] == "DISABLED"
    assert c.describe_mapped_resource_configuration(StreamName="store")["MappedResourceConfigurationList"] == []


def test_media_storage_needs_retention(kv):
    c = kv.kinesisvideo
    channel = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    stream = c.create_stream(StreamName="live")["StreamARN"]
    with pytest.raises(ClientError) as e:
        c.update_media_storage_configuration(
            ChannelARN=channel, MediaStorageConfiguration={"StreamARN": stream, "Status": "ENABLED"}
        )
    assert error(e) == ("NoDataRetentionException", 400)
    assert c.describe_media_storage_configuration(ChannelARN=channel)["MediaStorageConfiguration"] == {
        "Status": "DISABLED"
    }


def test_media_storage_enabled_needs_stream_arn(kv):
    c = kv.kinesisvideo
    channel = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    with pytest.raises(ClientError) as e:
        c.update_media_storage_configuration(ChannelARN=channel, MediaStorageConfiguration={"Status": "ENABLED"})
    assert error(e) == ("InvalidArgumentException", 400)


def test_media_storage_stream_already_mapped(kv):
    c = kv.kinesisvideo
    first = c.create_signaling_channel(ChannelName="first")["ChannelARN"]
    second = c.create_signaling_channel(ChannelName="second")["ChannelARN"]
    stream = c.create_stream(StreamName="store", DataRetentionInHours=1)["StreamARN"]
    other = c.create_stream(StreamName="other", DataRetentionInHours=1)["StreamARN"]
    enabled = {"StreamARN": stream, "Status": "ENABLED"}
    c.update_media_storage_configuration(ChannelARN=first, MediaStorageConfiguration=enabled)
    # enabling the same mapping again is fine
    c.update_media_storage_configuration(ChannelARN=first, MediaStorageConfiguration=enabled)
    with pytest.raises(ClientError) as e:
        c.update_media_storage_configuration(ChannelARN=second, MediaStorageConfiguration=enabled)
    assert error(e) == ("ResourceInUseException", 400)
    with pytest.raises(ClientError) as e:
        c.update_media_storage_configuration(
            ChannelARN=first, MediaStorageConfiguration={"StreamARN": other, "Status": "ENABLED"}
        )
    assert error(e) == ("ResourceInUseException", 400)


def test_media_storage_unknown_resources(kv):
    c = kv.kinesisvideo
    stream = c.create_stream(StreamName="store", DataRetentionInHours=1)["StreamARN"]
    channel = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    with pytest.raises(ClientError) as e:
        c.update_media_storage_configuration(
            ChannelARN=MISSING_CHANNEL, MediaStorageConfiguration={"StreamARN": stream, "Status": "ENABLED"}
        )
    assert error(e) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        c.update_media_storage_configuration(
            ChannelARN=channel, MediaStorageConfiguration={"StreamARN": MISSING_STREAM, "Status": "ENABLED"}
        )
    assert error(e) == ("ResourceNotFoundException", 404)
    for target in ({"ChannelARN": MISSING_CHANNEL}, {"ChannelName": "nope"}):
        with pytest.raises(ClientError) as e:
            c.describe_media_storage_configuration(**target)
        assert error(e) == ("ResourceNotFoundException", 404)


def test_deleting_the_stream_unmaps_the_channel(kv):
    c = kv.kinesisvideo
    channel = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    stream = c.create_stream(StreamName="store", DataRetentionInHours=1)["StreamARN"]
    c.update_media_storage_configuration(
        ChannelARN=channel, MediaStorageConfiguration={"StreamARN": stream, "Status": "ENABLED"}
    )
    c.delete_stream(StreamARN=stream)
    got = c.describe_media_storage_configuration(ChannelARN=channel)["MediaStorageConfiguration"]
    assert got["Status"] == "DISABLED"


def test_describe_mapped_resource_configuration_errors(kv):
    c = kv.kinesisvideo
    for target in ({"StreamName": "nope"}, {"StreamARN": MISSING_STREAM}):
        with pytest.raises(ClientError) as e:
            c.describe_mapped_resource_configuration(**target)
        assert error(e) == ("ResourceNotFoundException", 404)


# --------------------------------------------------- stream storage configuration
def test_stream_storage_configuration(kv):
    c = kv.kinesisvideo
    arn = c.create_stream(StreamName="tier")["StreamARN"]
    out = c.describe_stream_storage_configuration(StreamName="tier")
    assert out["StreamName"] == "tier" and out["StreamARN"] == arn
    assert out["StreamStorageConfiguration"] == {"DefaultStorageTier": "HOT"}
    v1 = c.describe_stream(StreamARN=arn)["StreamInfo"]["Version"]
    c.update_stream_storage_configuration(
        StreamARN=arn, CurrentVersion=v1, StreamStorageConfiguration={"DefaultStorageTier": "WARM"}
    )
    out = c.describe_stream_storage_configuration(StreamARN=arn)
    assert out["StreamStorageConfiguration"] == {"DefaultStorageTier": "WARM"}
    v2 = c.describe_stream(StreamARN=arn)["StreamInfo"]["Version"]
    assert v2 != v1
    c.update_stream_storage_configuration(
        StreamName="tier", CurrentVersion=v2, StreamStorageConfiguration={"DefaultStorageTier": "HOT"}
    )
    assert c.describe_stream(StreamARN=arn)["StreamInfo"]["Version"] not in (v1, v2)


def test_stream_storage_configuration_version_mismatch(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="tier")
    with pytest.raises(ClientError) as e:
        c.update_stream_storage_configuration(
            StreamName="tier", CurrentVersion="old", StreamStorageConfiguration={"DefaultStorageTier": "WARM"}
        )
    assert error(e) == ("VersionMismatchException", 400)
    out = c.describe_stream_storage_configuration(StreamName="tier")
    assert out["StreamStorageConfiguration"] == {"DefaultStorageTier": "HOT"}


def test_stream_storage_configuration_unknown_and_bad_tier(kv):
    c = unvalidated(kv)
    with pytest.raises(ClientError) as e:
        c.describe_stream_storage_configuration(StreamName="nope")
    assert error(e) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        c.update_stream_storage_configuration(
            StreamARN=MISSING_STREAM, CurrentVersion="v", StreamStorageConfiguration={"DefaultStorageTier": "HOT"}
        )
    assert error(e) == ("ResourceNotFoundException", 404)
    c.create_stream(StreamName="tier")
    v = c.describe_stream(StreamName="tier")["StreamInfo"]["Version"]
    with pytest.raises(ClientError) as e:
        c.update_stream_storage_configuration(
            StreamName="tier", CurrentVersion=v, StreamStorageConfiguration={"DefaultStorageTier": "COLD"}
        )
    assert error(e) == ("InvalidArgumentException", 400)
