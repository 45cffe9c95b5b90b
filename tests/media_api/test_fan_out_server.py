"""Live GetMedia in the server: a reader over plain HTTP (sent by its stream's fan-out) and one over HTTPS
(which sends for itself) get the same fragments, byte for byte but for the MILLIS_BEHIND_NOW tag."""

from __future__ import annotations

import requests

from helpers.live_reader import LiveReader
from helpers.producers import RawPutMedia, fragment_media, has_ack, split_at_clusters
from kvsmock.media.matroska import tags


def tail(url: str, stream: str, verify: str | bool = True) -> LiveReader:
    """A live GetMedia(EARLIEST) reader of ``stream``."""
    return LiveReader(requests.post(f"{url}/getMedia", json={"StreamName": stream, "StartSelector": {
        "StartSelectorType": "EARLIEST"}}, stream=True, timeout=30, verify=verify))


def test_plain_and_https_readers_tailing_one_stream_get_the_same_fragments(kvs_server):
    assert kvs_server.ca_file, "the server runs HTTPS on its port too"
    kvs_server.kinesisvideo.create_stream(StreamName="fan", DataRetentionInHours=1)
    header, clusters = split_at_clusters(fragment_media(4))
    producer = RawPutMedia(kvs_server.port, "fan")
    try:
        producer.send(header + clusters[0])
        producer.read_until(has_ack("PERSISTED", 0))
        readers = [tail(kvs_server.endpoint_url, "fan"),
                   tail(f"https://127.0.0.1:{kvs_server.port}", "fan", verify=kvs_server.ca_file)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.wait_for(1, 20)  # caught up: what comes next is sent live
        for index, cluster in enumerate(clusters[1:], start=1):
            producer.send(cluster)
            producer.read_until(has_ack("PERSISTED", index * 1000))
            for reader in readers:
                reader.wait_for(index + 1, 20)
        producer.finish()
    finally:
        producer.close()
    for reader in readers:
        reader.join(20)
    plain, tls = (reader.fragments for reader in readers)
    assert len(plain) == len(tls) == 4
    for a, b in zip(plain, tls):
        assert a.frames == b.frames and a.frames
        assert {k: v for k, v in a.tags.items() if k != tags.MILLIS_BEHIND_NOW} == {
            k: v for k, v in b.tags.items() if k != tags.MILLIS_BEHIND_NOW}
