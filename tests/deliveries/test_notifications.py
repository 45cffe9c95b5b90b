"""Notifications to SNS for persisted fragments tagged AWS_KINESISVIDEO_NOTIFICATION, through moto."""

from __future__ import annotations

import json

import pytest

from kvsmock import put_media
from kvsmock.media.matroska import write_mkv
from kvsmock.media.sample import encode_sample

START = 1_700_000_000


def _media(tags_for):
    encoded = encode_sample(8, 2, 25, 160, 120, "h264", False)
    return write_mkv(encoded.tracks, encoded.packets, fragment_tags=tags_for)


def _queue_for_topic(kv, name):
    sns, sqs = kv.client("sns"), kv.client("sqs")
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, queue_url


def _drain(kv, queue_url):
    sqs, out = kv.client("sqs"), []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return out
        out += [json.loads(m["Body"]) for m in got]
        for m in got:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def _put(kv, name, media):
    return put_media(name, media=media, endpoint_url=kv.endpoint_url, session=kv.session(),
                     timecode_type="RELATIVE", producer_start_timestamp=START)


def test_tagged_fragments_are_notified_once_each(kv):
    topic, queue_url = _queue_for_topic(kv, "kvs-events")
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    arn = kv.kinesisvideo.describe_stream(StreamName="cam")["StreamInfo"]["StreamARN"]
    kv.kinesisvideo.update_notification_configuration(
        StreamName="cam", NotificationConfiguration={"Status": "ENABLED", "DestinationConfig": {"Uri": topic}}
    )

    def tags(i):  # fragments 1 and 3 ask for a notification
        return [("AWS_KINESISVIDEO_NOTIFICATION", ""), ("CAMERA", "front"), ("SEQ", str(i))] if i in (1, 3) else [("SEQ", str(i))]

    acks = _put(kv, "cam", _media(tags))
    persisted = [a for a in acks if a["EventType"] == "PERSISTED"]
    assert len(persisted) == 4
    envelopes = _drain(kv, queue_url)
    assert [e["Subject"] for e in envelopes] == ["Kinesis Video Streams Notification"] * 2
    messages = sorted((json.loads(e["Message"]) for e in envelopes), key=lambda m: m["FragmentNumber"])
    listed = {
        f["FragmentNumber"]: f
        for f in kv.archived_media("cam").list_fragments(StreamName="cam")["Fragments"]
    }
    for message, ack in zip(messages, [persisted[1], persisted[3]]):
        assert message["StreamArn"] == arn
        assert message["FragmentNumber"] == ack["FragmentNumber"]
        assert message["NotificationType"] == "PERSISTED"
        assert message["NotificationPayload"] == {"CAMERA": "front", "SEQ": str(ack["FragmentTimecode"] // 2000)}
        fragment = listed[ack["FragmentNumber"]]
        assert message["FragmentStartProducerTimestamp"] == round(fragment["ProducerTimestamp"].timestamp() * 1000)
        assert message["FragmentStartServerTimestamp"] == round(fragment["ServerTimestamp"].timestamp() * 1000)


@pytest.mark.parametrize("status", ["DISABLED", None])
def test_no_notification_without_an_enabled_configuration(kv, status):
    topic, queue_url = _queue_for_topic(kv, "quiet")
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    if status:
        kv.kinesisvideo.update_notification_configuration(
            StreamName="cam", NotificationConfiguration={"Status": status, "DestinationConfig": {"Uri": topic}}
        )
    _put(kv, "cam", _media(lambda i: [("AWS_KINESISVIDEO_NOTIFICATION", "")]))
    assert _drain(kv, queue_url) == []


def test_a_missing_topic_does_not_break_ingestion(kv):
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    kv.kinesisvideo.update_notification_configuration(
        StreamName="cam",
        NotificationConfiguration={
            "Status": "ENABLED",
            "DestinationConfig": {"Uri": "arn:aws:sns:us-east-1:123456789012:no-such-topic"},
        },
    )
    acks = _put(kv, "cam", _media(lambda i: [("AWS_KINESISVIDEO_NOTIFICATION", "")]))
    assert [a["EventType"] for a in acks if a["EventType"] != "IDLE"] == ["BUFFERING", "RECEIVED", "PERSISTED"] * 4
