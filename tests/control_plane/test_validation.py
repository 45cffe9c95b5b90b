"""kvsmock's own input validation, past botocore's client-side checks: boto3
with parameter_validation=False, and raw JSON bodies over `requests`.

Every malformed request must get a 400 with the service's error type
(InvalidArgumentException for model violations, SerializationException for
bodies that are not the right JSON) — never a 500."""

from __future__ import annotations

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"
SIGNED = {
    "Authorization": (
        f"AWS4-HMAC-SHA256 Credential=testing/20240101/{REGION}/kinesisvideo/aws4_request, "
        "SignedHeaders=host, Signature=0"
    )
}


def error(excinfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def unvalidated(kv):
    return kv.client("kinesisvideo", config=Config(parameter_validation=False))


def post(kv, path: str, body, *, headers=None) -> requests.Response:
    """A raw POST to a control-plane path, in-process (moto intercepts requests) or to the server."""
    base = kv.endpoint_url or f"https://kinesisvideo.{REGION}.amazonaws.com"
    data = body if isinstance(body, (bytes, str)) else None
    return requests.post(
        base + path,
        data=data,
        json=None if data is not None else body,
        headers={"Content-Type": "application/json", **SIGNED, **(headers or {})},
        timeout=10,
    )


def assert_error(r: requests.Response, code: str, status: int = 400) -> str:
    assert r.status_code == status, r.text
    assert r.headers["x-amzn-ErrorType"] == code
    assert r.headers.get("x-amzn-RequestId")
    payload = r.json()
    assert set(payload) == {"Message"}
    return payload["Message"]


# ------------------------------------------------------ through boto3, unvalidated
CREATE_STREAM_CASES = [
    ({"StreamName": "bad name!"}, "streamName"),
    ({"StreamName": "x/y"}, "regular expression"),
    ({"StreamName": "a" * 257}, "less than or equal to 256"),
    ({"StreamName": ""}, "greater than or equal to 1"),
    ({"StreamName": "ok", "DeviceName": "d" * 129}, "deviceName"),
    ({"StreamName": "ok", "MediaType": "h264"}, "mediaType"),
    ({"StreamName": "ok", "KmsKeyId": "k" * 2049}, "kmsKeyId"),
    ({"StreamName": "ok", "DataRetentionInHours": -1}, "greater than or equal to 0"),
    ({"StreamName": "ok", "StreamStorageConfiguration": {"DefaultStorageTier": "COLD"}}, "enum value set"),
    ({"StreamName": "ok", "StreamStorageConfiguration": {}}, "streamStorageConfiguration.defaultStorageTier"),
    ({"StreamName": "ok", "Tags": {}}, "tags"),
    ({"StreamName": "ok", "Tags": {"bad#key": "v"}}, "tags.key"),
    ({"StreamName": "ok", "Tags": {"k" * 129: "v"}}, "tags.key"),
    ({"StreamName": "ok", "Tags": {"k": "v" * 257}}, "tags.k.value"),
    ({}, "Value null at 'streamName'"),
]


def test_create_stream_bad_input(kv):
    c = unvalidated(kv)
    for kwargs, fragment in CREATE_STREAM_CASES:
        with pytest.raises(ClientError) as e:
            c.create_stream(**kwargs)
        assert error(e) == ("InvalidArgumentException", 400), kwargs
        msg = e.value.response["Error"]["Message"]
        assert "validation error" in msg and fragment in msg, (kwargs, msg)
    assert c.list_streams()["StreamInfoList"] == []


def test_several_violations_are_counted(kv):
    with pytest.raises(ClientError) as e:
        unvalidated(kv).create_stream(StreamName="bad name", DeviceName="d" * 129, MediaType="nope")
    msg = e.value.response["Error"]["Message"]
    assert msg.startswith("3 validation errors detected: ")


VIOLATIONS = [
    ("get_data_endpoint", {"StreamName": "s", "APIName": "GET_EVERYTHING"}),
    ("get_data_endpoint", {"StreamName": "s"}),
    ("describe_stream", {"StreamName": "s" * 300}),
    ("describe_stream", {"StreamARN": "arn:aws:s3:::bucket"}),
    ("update_stream", {"StreamName": "s"}),
    ("update_stream", {"StreamName": "s", "CurrentVersion": "not-alnum!"}),
    ("update_stream", {"StreamName": "s", "CurrentVersion": "v" * 65}),
    ("update_data_retention", {"StreamName": "s", "CurrentVersion": "v", "Operation": "INCREASE_DATA_RETENTION"}),
    ("delete_stream", {}),
    ("delete_stream", {"StreamARN": "not-an-arn"}),
    ("list_streams", {"StreamNameCondition": {"ComparisonOperator": "ENDS_WITH", "ComparisonValue": "x"}}),
    ("list_streams", {"StreamNameCondition": {"ComparisonValue": ""}}),
    ("list_streams", {"NextToken": "has spaces!"}),
    ("tag_stream", {"StreamName": "s"}),
    ("untag_stream", {"StreamName": "s", "TagKeyList": []}),
    ("untag_stream", {"StreamName": "s", "TagKeyList": [f"k{i}" for i in range(51)]}),
    ("create_signaling_channel", {"ChannelName": "c", "ChannelType": "P2P"}),
    ("create_signaling_channel", {"ChannelName": "c h"}),
    ("update_signaling_channel", {"ChannelARN": "arn:aws:kinesisvideo:us-east-1:1:channel/c/1"}),
    ("get_signaling_channel_endpoint", {}),
    (
        "get_signaling_channel_endpoint",
        {
            "ChannelARN": "arn:aws:kinesisvideo:us-east-1:1:channel/c/1",
            "SingleMasterChannelEndpointConfiguration": {"Protocols": [], "Role": "MASTER"},
        },
    ),
    ("tag_resource", {"ResourceARN": "arn:aws:kinesisvideo:us-east-1:1:channel/c/1", "Tags": [{"Key": "k"}]}),
    ("list_tags_for_resource", {}),
    ("update_media_storage_configuration", {"ChannelARN": "arn:aws:kinesisvideo:us-east-1:1:channel/c/1"}),
    ("update_stream_storage_configuration", {"StreamName": "s", "CurrentVersion": "v"}),
    ("list_edge_agent_configurations", {}),
    ("list_edge_agent_configurations", {"HubDeviceArn": "arn:aws:iot:us-east-1:1:policy/p"}),
    ("describe_mapped_resource_configuration", {"StreamName": "s", "MaxResults": 0}),
]


def test_model_violations_everywhere(kv):
    c = unvalidated(kv)
    for operation, kwargs in VIOLATIONS:
        with pytest.raises(ClientError) as e:
            getattr(c, operation)(**kwargs)
        assert error(e) == ("InvalidArgumentException", 400), (operation, kwargs)
        assert "validation error" in e.value.response["Error"]["Message"], (operation, kwargs)


# ------------------------------------------------------------- raw JSON bodies
def test_raw_request_succeeds(kv):
    r = post(kv, "/createStream", {"StreamName": "raw", "DataRetentionInHours": 2})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    arn = r.json()["StreamARN"]
    r = post(kv, "/describeStream", {"StreamARN": arn})
    assert r.status_code == 200
    info = r.json()["StreamInfo"]
    assert info["StreamName"] == "raw" and info["DataRetentionInHours"] == 2
    assert isinstance(info["CreationTime"], float)
    # boto3 sees the same stream
    assert kv.kinesisvideo.describe_stream(StreamName="raw")["StreamInfo"]["StreamARN"] == arn


def test_raw_error_envelope(kv):
    r = post(kv, "/describeStream", {"StreamName": "missing"})
    assert assert_error(r, "ResourceNotFoundException", 404) == "The requested stream is not found or not active."


NOT_JSON = [
    b"not json",
    b"{\"StreamName\": \"x\"",
    b"{\"StreamName\": \"x\"} trailing",
    b"[1, 2]",
    b"null",
    b"\"a string\"",
    b"42",
    b"\xff\xfe\xfa",
    b"[" * 100_000,
    b"{\"a\":" * 100_000,
]


def test_non_json_bodies(kv):
    for body in NOT_JSON:
        assert_error(post(kv, "/createStream", body), "SerializationException")


WRONG_TYPES = [
    {"StreamName": 5},
    {"StreamName": ["a"]},
    {"StreamName": {"a": 1}},
    {"StreamName": "ok", "DataRetentionInHours": "ten"},
    {"StreamName": "ok", "DataRetentionInHours": 1.5},
    {"StreamName": "ok", "DataRetentionInHours": True},
    {"StreamName": "ok", "Tags": [{"Key": "k", "Value": "v"}]},
    {"StreamName": "ok", "Tags": {"k": 1}},
    {"StreamName": "ok", "StreamStorageConfiguration": "HOT"},
]


def test_wrong_json_types(kv):
    for body in WRONG_TYPES:
        assert_error(post(kv, "/createStream", body), "SerializationException")
    assert kv.kinesisvideo.list_streams()["StreamInfoList"] == []


def test_non_finite_numbers(kv):
    for literal in (b"1e999", b"NaN", b"-Infinity"):
        body = b'{"StreamName": "ok", "DataRetentionInHours": ' + literal + b"}"
        r = post(kv, "/createStream", body)
        assert r.status_code == 400, literal
        assert r.headers["x-amzn-ErrorType"] in ("SerializationException", "InvalidArgumentException")


def test_huge_numbers(kv):
    r = post(kv, "/createStream", {"StreamName": "ok", "DataRetentionInHours": 10**40})
    assert_error(r, "InvalidArgumentException")
    r = post(kv, "/listStreams", {"MaxResults": 10**40})
    assert_error(r, "InvalidArgumentException")
    r = post(kv, "/listStreams", {"MaxResults": -(10**40)})
    assert_error(r, "InvalidArgumentException")


def test_null_members(kv):
    r = post(kv, "/createStream", {"StreamName": None})
    assert "Value null at 'streamName'" in assert_error(r, "InvalidArgumentException")
    r = post(kv, "/createStream", {"StreamName": "ok", "Tags": {"k": None}})
    assert_error(r, "InvalidArgumentException")
    r = post(kv, "/untagStream", {"StreamName": "ok", "TagKeyList": [None]})
    assert_error(r, "InvalidArgumentException")
    # optional members given as null count as absent
    r = post(kv, "/createStream", {"StreamName": "ok", "MediaType": None, "Tags": None})
    assert r.status_code == 200


def test_empty_body_is_an_empty_request(kv):
    r = post(kv, "/listStreams", b"")
    assert r.status_code == 200 and r.json() == {"StreamInfoList": []}
    r = post(kv, "/createStream", b"")
    assert "streamName" in assert_error(r, "InvalidArgumentException")


def test_unknown_members_are_ignored(kv):
    r = post(kv, "/createStream", {"StreamName": "ok", "Colour": "blue"})
    assert r.status_code == 200


def test_unknown_operation(kv):
    r = post(kv, "/frobnicateStream", {})
    assert r.status_code == 404
    assert r.headers["x-amzn-ErrorType"] == "UnknownOperationException"


def test_get_on_an_operation_path(kv):
    base = kv.endpoint_url or f"https://kinesisvideo.{REGION}.amazonaws.com"
    r = requests.get(base + "/createStream", headers=SIGNED, timeout=10)
    assert 400 <= r.status_code < 500
    assert r.headers["x-amzn-ErrorType"] == "UnknownOperationException"


def test_region_comes_from_the_signature(kv):
    eu = {
        "Authorization": (
            "AWS4-HMAC-SHA256 Credential=testing/20240101/eu-west-1/kinesisvideo/aws4_request, "
            "SignedHeaders=host, Signature=0"
        )
    }
    r = post(kv, "/createStream", {"StreamName": "eu"}, headers=eu)
    assert r.status_code == 200
    assert ":eu-west-1:" in r.json()["StreamARN"]
    assert kv.client("kinesisvideo", region_name="eu-west-1").list_streams()["StreamInfoList"][0]["StreamName"] == "eu"
    assert kv.kinesisvideo.list_streams()["StreamInfoList"] == []


def test_integral_floats_are_integers(kv):
    """Some SDKs send 2.0 for an integer: accepted as 2, never a 500."""
    r = post(kv, "/createStream", {"StreamName": "f", "DataRetentionInHours": 2.0})
    assert r.status_code == 200, r.text
    assert kv.kinesisvideo.describe_stream(StreamName="f")["StreamInfo"]["DataRetentionInHours"] == 2
    r = post(kv, "/describeStream", {"StreamName": "f"})
    assert r.json()["StreamInfo"]["DataRetentionInHours"] == 2
    assert isinstance(r.json()["StreamInfo"]["DataRetentionInHours"], int)
    post(kv, "/createStream", {"StreamName": "g"})
    r = post(kv, "/listStreams", {"MaxResults": 1.0})
    assert r.status_code == 200, r.text
    assert [s["StreamName"] for s in r.json()["StreamInfoList"]] == ["f"] and r.json()["NextToken"]
    for path, body in [
        ("/listSignalingChannels", {"MaxResults": 5.0}),
        ("/listEdgeAgentConfigurations", {"HubDeviceArn": "arn:aws:iot:us-east-1:123456789012:thing/h", "MaxResults": 3.0}),
        ("/describeMappedResourceConfiguration", {"StreamName": "f", "MaxResults": 1.0}),
        ("/createSignalingChannel", {"ChannelName": "c", "SingleMasterConfiguration": {"MessageTtlSeconds": 30.0}}),
    ]:
        r = post(kv, path, body)
        assert r.status_code == 200, (path, r.text)
    r = post(kv, "/listStreams", {"MaxResults": 1.5})
    assert_error(r, "SerializationException")
