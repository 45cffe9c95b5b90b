"""Image generation: persisted fragments tagged AWS_KINESISVIDEO_IMAGE_GENERATION get images in moto's S3."""

from __future__ import annotations

import io
import re

import av
import pytest

from kvsmock import put_media
from kvsmock.media.matroska import write_mkv
from kvsmock.media.sample import encode_sample

START = 1_700_000_000
BUCKET = "kvs-images"


def _media(tags_for, fragment_s=2):
    encoded = encode_sample(6, fragment_s, 25, 160, 120, "h264", False)
    return write_mkv(encoded.tracks, encoded.packets, fragment_tags=tags_for)


def _configure(kv, name="cam", **overrides):
    config = {
        "Status": "ENABLED",
        "ImageSelectorType": "PRODUCER_TIMESTAMP",
        "DestinationConfig": {"Uri": f"s3://{BUCKET}/thumbs", "DestinationRegion": "us-east-1"},
        "SamplingInterval": 1000,
        "Format": "JPEG",
        "FormatConfig": {"JPEGQuality": "90"},
        "WidthPixels": 80,
        "HeightPixels": 60,
    }
    for key, value in overrides.items():  # None leaves a member out
        if value is None:
            config.pop(key)
        else:
            config[key] = value
    kv.kinesisvideo.update_image_generation_configuration(StreamName=name, ImageGenerationConfiguration=config)


def _put(kv, name, media):
    return put_media(name, media=media, endpoint_url=kv.endpoint_url, session=kv.session(),
                     timecode_type="RELATIVE", producer_start_timestamp=START)


def _objects(kv):
    s3 = kv.client("s3")
    listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"]) for o in listed}


def test_tagged_fragments_get_their_images(kv):
    kv.client("s3").create_bucket(Bucket=BUCKET)
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    _configure(kv)

    def tags(i):  # only the middle fragment asks for images, with a prefix and a custom tag
        if i == 1:
            return [("AWS_KINESISVIDEO_IMAGE_GENERATION", ""), ("AWS_KINESISVIDEO_IMAGE_PREFIX", "door"), ("SITE", "north")]
        return [("SITE", "north")]

    acks = _put(kv, "cam", _media(tags))
    tagged = [a for a in acks if a["EventType"] == "PERSISTED"][1]
    objects = _objects(kv)
    # a 2 s fragment sampled every second: two images
    assert len(objects) == 2
    times = []
    for key, obj in objects.items():
        match = re.fullmatch(r"thumbs/door_123456789012_cam_(\d{13})_[0-9a-f-]{36}\.jpg", key)
        assert match, key
        times.append(int(match.group(1)))
        assert obj["ContentType"] == "image/jpeg"
        meta = obj["Metadata"]
        assert meta["aws_kinesisvideo_fragment_number"] == tagged["FragmentNumber"]
        assert meta["aws_kinesisvideo_producer_timestamp"] == str((START + 2) * 1000)
        assert meta["site"] == "north" or meta.get("SITE") == "north"
        with av.open(io.BytesIO(obj["Body"].read())) as image:
            frame = next(image.decode(video=0))
            assert (frame.width, frame.height) == (80, 60)
    assert sorted(times) == [(START + 2) * 1000, (START + 3) * 1000]


def test_png_and_server_timestamps(kv):
    kv.client("s3").create_bucket(Bucket=BUCKET)
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    _configure(kv, ImageSelectorType="SERVER_TIMESTAMP", Format="PNG", SamplingInterval=2000, FormatConfig=None,
               WidthPixels=None, DestinationConfig={"Uri": f"s3://{BUCKET}", "DestinationRegion": "us-east-1"})
    _put(kv, "cam", _media(lambda i: [("AWS_KINESISVIDEO_IMAGE_GENERATION", "")]))
    listed = kv.archived_media("cam").list_fragments(StreamName="cam")["Fragments"]
    server_ms = sorted(round(f["ServerTimestamp"].timestamp() * 1000) for f in listed)
    objects = _objects(kv)
    assert len(objects) == 3  # one image per 2 s fragment
    keys = sorted(objects)
    assert all(re.fullmatch(r"_123456789012_cam_\d{13}_[0-9a-f-]{36}\.png", k) for k in keys), keys
    assert sorted(int(k.split("_")[3]) for k in keys) == server_ms
    for obj in objects.values():
        body = obj["Body"].read()
        assert body.startswith(b"\x89PNG\r\n\x1a\n")
        with av.open(io.BytesIO(body)) as image:  # height 60 alone keeps the 160x120 aspect ratio
            frame = next(image.decode(video=0))
            assert (frame.width, frame.height) == (80, 60)


@pytest.mark.parametrize("problem", ["no-bucket", "wrong-region", "disabled", "not-tagged"])
def test_nothing_written_and_ingestion_unharmed(kv, problem):
    if problem == "wrong-region":
        kv.client("s3", region_name="eu-west-1").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
    elif problem != "no-bucket":
        kv.client("s3").create_bucket(Bucket=BUCKET)
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    _configure(kv, **({"Status": "DISABLED"} if problem == "disabled" else {}))
    tags = (lambda i: [("SITE", "x")]) if problem == "not-tagged" else (lambda i: [("AWS_KINESISVIDEO_IMAGE_GENERATION", "")])
    acks = _put(kv, "cam", _media(tags))
    assert [a["EventType"] for a in acks if a["EventType"] != "IDLE"] == ["BUFFERING", "RECEIVED", "PERSISTED"] * 3
    if problem != "no-bucket":
        assert _objects(kv) == {}
