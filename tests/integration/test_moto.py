"""kvsmock inside moto: plain mock_aws() after `import kvsmock`, moto's other
services beside it, accounts and regions kept apart, moto's reset, and the
mock_kinesisvideo decorator / context manager."""

from __future__ import annotations

import boto3
import moto
import pytest
import requests
from botocore.exceptions import ClientError

import kvsmock
from kvsmock import mock_kinesisvideo

REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(autouse=True)
def _no_profile(monkeypatch):
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "MOTO_ACCOUNT_ID"):
        monkeypatch.delenv(key, raising=False)


def client(service: str = "kinesisvideo", region: str = REGION, **kwargs):
    return boto3.client(service, region_name=region, **{**CREDENTIALS, **kwargs})


def stream_names(c=None) -> list[str]:
    return [s["StreamName"] for s in (c or client()).list_streams()["StreamInfoList"]]


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


# ----------------------------------------------------------- plain mock_aws
def test_plain_mock_aws_serves_kvsmock():
    with moto.mock_aws():
        c = client()
        arn = c.create_stream(StreamName="cam", DataRetentionInHours=1)["StreamARN"]
        info = c.describe_stream(StreamARN=arn)["StreamInfo"]
        assert info["KmsKeyId"] == f"arn:aws:kms:{REGION}:{DEFAULT_ACCOUNT}:alias/aws/kinesisvideo"
        # operations moto's own stub does not have
        c.update_data_retention(
            StreamARN=arn, CurrentVersion=info["Version"], Operation="INCREASE_DATA_RETENTION",
            DataRetentionChangeInHours=5,
        )
        assert c.describe_stream(StreamARN=arn)["StreamInfo"]["DataRetentionInHours"] == 6
        channel = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
        assert c.describe_signaling_channel(ChannelARN=channel)["ChannelInfo"]["ChannelStatus"] == "ACTIVE"
        with pytest.raises(ClientError) as e:
            c.describe_stream(StreamName="missing")
        assert error_code(e) == "ResourceNotFoundException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_s3_and_kms_in_the_same_block():
    with moto.mock_aws():
        s3 = client("s3")
        s3.create_bucket(Bucket="clips")
        s3.put_object(Bucket="clips", Key="cam/1.mp4", Body=b"\x00\x00\x00\x18ftypmp42")
        assert s3.get_object(Bucket="clips", Key="cam/1.mp4")["Body"].read() == b"\x00\x00\x00\x18ftypmp42"

        kms = client("kms")
        key_arn = kms.create_key(Description="video key")["KeyMetadata"]["Arn"]
        assert key_arn.startswith(f"arn:aws:kms:{REGION}:{DEFAULT_ACCOUNT}:key/")
        c = client()
        c.create_stream(StreamName="secret", KmsKeyId=key_arn, DataRetentionInHours=1)
        assert c.describe_stream(StreamName="secret")["StreamInfo"]["KmsKeyId"] == key_arn
        # the key is a real moto key: it encrypts
        blob = kms.encrypt(KeyId=key_arn, Plaintext=b"frame")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"frame"

        c.update_image_generation_configuration(
            StreamName="secret",
            ImageGenerationConfiguration={
                "Status": "ENABLED",
                "ImageSelectorType": "PRODUCER_TIMESTAMP",
                "DestinationConfig": {"Uri": "s3://clips/images", "DestinationRegion": REGION},
                "SamplingInterval": 500,
                "Format": "JPEG",
            },
        )
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["clips"]


def test_sns_topic_as_notification_destination():
    with moto.mock_aws():
        topic = client("sns").create_topic(Name="kvs")["TopicArn"]
        c = client()
        c.create_stream(StreamName="cam", DataRetentionInHours=1)
        config = {"Status": "ENABLED", "DestinationConfig": {"Uri": topic}}
        c.update_notification_configuration(StreamName="cam", NotificationConfiguration=config)
        assert c.describe_notification_configuration(StreamName="cam")["NotificationConfiguration"] == config


# ------------------------------------------------------------ accounts, regions
def test_moto_account_id_env_var(monkeypatch):
    with moto.mock_aws():
        default_arn = client().create_stream(StreamName="shared-name")["StreamARN"]
        assert f":{DEFAULT_ACCOUNT}:stream/shared-name/" in default_arn

        monkeypatch.setenv("MOTO_ACCOUNT_ID", "111111111111")
        other = client()
        assert stream_names(other) == []
        # the same name is free in the other account
        arn = other.create_stream(StreamName="shared-name")["StreamARN"]
        assert arn.startswith("arn:aws:kinesisvideo:us-east-1:111111111111:stream/shared-name/")
        info = other.describe_stream(StreamName="shared-name")["StreamInfo"]
        assert info["KmsKeyId"] == "arn:aws:kms:us-east-1:111111111111:alias/aws/kinesisvideo"
        with pytest.raises(ClientError) as e:
            other.describe_stream(StreamARN=default_arn)
        assert error_code(e) == "ResourceNotFoundException"

        monkeypatch.delenv("MOTO_ACCOUNT_ID")
        assert client().describe_stream(StreamName="shared-name")["StreamInfo"]["StreamARN"] == default_arn


def test_assumed_role_credentials_act_in_their_account():
    with moto.mock_aws():
        creds = client("sts").assume_role(
            RoleArn="arn:aws:iam::222222222222:role/video-admin", RoleSessionName="tests"
        )["Credentials"]
        assumed = boto3.client(
            "kinesisvideo",
            region_name=REGION,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        arn = assumed.create_stream(StreamName="theirs")["StreamARN"]
        assert arn.startswith("arn:aws:kinesisvideo:us-east-1:222222222222:stream/theirs/")
        channel = assumed.create_signaling_channel(ChannelName="their-channel")["ChannelARN"]
        assert ":222222222222:channel/their-channel/" in channel
        assert stream_names(assumed) == ["theirs"]
        mine = client()
        assert stream_names(mine) == []
        assert mine.list_signaling_channels()["ChannelInfoList"] == []
        with pytest.raises(ClientError) as e:
            mine.describe_stream(StreamARN=arn)
        assert error_code(e) == "ResourceNotFoundException"


def test_regions_are_kept_apart():
    with moto.mock_aws():
        east, west = client(region="us-east-1"), client(region="eu-west-1")
        east_arn = east.create_stream(StreamName="cam")["StreamARN"]
        west_arn = west.create_stream(StreamName="cam")["StreamARN"]
        assert ":us-east-1:" in east_arn and ":eu-west-1:" in west_arn
        west.create_stream(StreamName="west-only")
        assert stream_names(east) == ["cam"]
        assert stream_names(west) == ["cam", "west-only"]
        with pytest.raises(ClientError) as e:
            east.describe_stream(StreamARN=west_arn)
        assert error_code(e) == "ResourceNotFoundException"
        assert west.describe_stream(StreamName="cam")["StreamInfo"]["KmsKeyId"].startswith("arn:aws:kms:eu-west-1:")


# ------------------------------------------------------------------- reset
def test_leaving_mock_aws_resets_kvs_state():
    with moto.mock_aws():
        client().create_stream(StreamName="cam")
        client().create_signaling_channel(ChannelName="ch")
    with moto.mock_aws():
        c = client()
        assert stream_names(c) == []
        assert c.list_signaling_channels()["ChannelInfoList"] == []
        c.create_stream(StreamName="cam")  # the name is free again


def test_moto_api_reset_inside_the_mock():
    with moto.mock_aws():
        c = client()
        c.create_stream(StreamName="cam")
        client(region="eu-west-1").create_stream(StreamName="cam")
        client("s3").create_bucket(Bucket="bucket-b")
        r = requests.post("http://motoapi.amazonaws.com/moto-api/reset")
        assert r.status_code == 200
        assert stream_names(c) == []
        assert stream_names(client(region="eu-west-1")) == []
        assert client("s3").list_buckets()["Buckets"] == []
        c.create_stream(StreamName="cam")
        assert stream_names(c) == ["cam"]


def test_kvsmock_backend_is_what_moto_uses():
    import moto.backends

    assert moto.backends.get_backend("kinesisvideo") is kvsmock.api.moto_glue.kinesisvideo_backends
    assert isinstance(
        moto.backends.get_backend("kinesisvideo")[DEFAULT_ACCOUNT][REGION], kvsmock.api.moto_glue.KinesisVideoBackend
    )


# ------------------------------------------------------------ mock_kinesisvideo
@mock_kinesisvideo
def _decorated_bare():
    c = client()
    c.create_stream(StreamName="once")
    return stream_names(c)


@mock_kinesisvideo()
def _decorated_called(name):
    c = client()
    c.create_stream(StreamName=name)
    return stream_names(c)


def test_function_decorator_starts_fresh_each_call():
    assert _decorated_bare() == ["once"]
    assert _decorated_bare() == ["once"]  # no ResourceInUseException: fresh state


def test_called_decorator_starts_fresh_each_call():
    assert _decorated_called("a") == ["a"]
    assert _decorated_called("b") == ["b"]


def test_context_manager_starts_fresh():
    for _ in range(2):
        with mock_kinesisvideo():
            c = client()
            assert stream_names(c) == []
            c.create_stream(StreamName="cm")
            assert stream_names(c) == ["cm"]


def test_mock_kinesisvideo_mocks_other_services_too():
    with mock_kinesisvideo():
        client("s3").create_bucket(Bucket="side-by-side")
        assert [b["Name"] for b in client("s3").list_buckets()["Buckets"]] == ["side-by-side"]
        client().create_stream(StreamName="cam")
        assert stream_names() == ["cam"]


@mock_kinesisvideo
class TestClassDecorator:
    def test_first_method(self):
        c = client()
        assert stream_names(c) == []
        c.create_stream(StreamName="per-method")
        assert stream_names(c) == ["per-method"]

    def test_second_method(self):
        c = client()
        assert stream_names(c) == []
        c.create_stream(StreamName="per-method")
        assert stream_names(c) == ["per-method"]



def test_streamed_bodies_in_process():
    """A generator body reaches kvsmock's PutMedia piece by piece; other services still get it joined."""
    from kvsmock import put_media, sample_mkv
    from kvsmock.api import moto_glue

    seen = []

    def pieces(data: bytes):
        for i in range(0, len(data), 4096):
            seen.append(i)
            yield data[i : i + 4096]

    media = sample_mkv(duration_s=2, fragment_s=1)
    with mock_kinesisvideo():
        kv = boto3.client("kinesisvideo", region_name="us-east-1")
        kv.create_stream(StreamName="cam", DataRetentionInHours=1)
        acks = put_media("cam", media=pieces(media), region_name="us-east-1")
        assert [a["EventType"] for a in acks] == ["BUFFERING", "RECEIVED", "PERSISTED"] * 2
        assert len(seen) == -(-len(media) // 4096)
        assert moto_glue._HANDED_OFF == {}  # nothing left behind

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="kvsmock-bodies")
        url = s3.generate_presigned_url("put_object", Params={"Bucket": "kvsmock-bodies", "Key": "k"})
        assert requests.put(url, data=(part for part in [b"abc", b"def"])).status_code == 200
        assert s3.get_object(Bucket="kvsmock-bodies", Key="k")["Body"].read() == b"abcdef"


def test_an_account_is_looked_up_without_moto_lock_once_it_exists(monkeypatch):
    """The KMS and KVS backends PutMedia asks for at every fragment: the same ones moto holds, found without its lock."""
    import moto.core.base_backend as base_backend
    from moto.kms.models import kms_backends

    from kvsmock.api.moto_glue import regions_of

    with mock_kinesisvideo():
        created = regions_of(kms_backends, "210987654321")  # a new account: made as moto makes it
        assert created is kms_backends["210987654321"]
        region = created["eu-west-1"]

        class Refused:
            def __enter__(self):
                raise AssertionError("moto's backend lock was taken")

            def __exit__(self, *exc):
                return False

        with monkeypatch.context() as patch:  # moto's own reset, when the mock ends, takes the lock
            patch.setattr(base_backend, "backend_lock", Refused())
            assert regions_of(kms_backends, "210987654321") is created
            assert regions_of(kms_backends, "210987654321")["eu-west-1"] is region
