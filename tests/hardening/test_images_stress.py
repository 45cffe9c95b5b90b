"""GetImages many times at once: every call answers, under a deadline, with every image made."""

from __future__ import annotations

import concurrent.futures

from kvsmock import put_media, sample_mkv

START = 1_700_000_000
CALLS = 48


def test_get_images_in_parallel_never_hangs(kvs_server):
    kv = kvs_server.kinesisvideo
    kv.create_stream(StreamName="stills", DataRetentionInHours=1)
    put_media("stills", media=sample_mkv(duration_s=6, fragment_s=2, width=640, height=360, start=START),
              endpoint_url=kvs_server.endpoint_url, session=kvs_server.session())

    def call(i: int) -> int:
        client = kvs_server.archived_media("stills", "GET_IMAGES")
        images = client.get_images(
            StreamName="stills",
            ImageSelectorType="PRODUCER_TIMESTAMP",
            StartTimestamp=START + (i % 3) * 0.1,
            EndTimestamp=START + 6,
            SamplingInterval=200 + 100 * (i % 4),  # stops decoding early in some fragments, not in others
            Format="JPEG" if i % 2 else "PNG",
            WidthPixels=160 + i,
        )["Images"]
        made = [image for image in images if "ImageContent" in image]
        missing = [image for image in images if "ImageContent" not in image]
        # Only an instant past the media's last frame (the end, 6 s in) has no image.
        assert all(image.get("Error") == "NO_MEDIA" and image["TimeStamp"].timestamp() >= START + 6
                   for image in missing), missing
        return len(made)

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        futures = [pool.submit(call, i) for i in range(CALLS)]
        counts = [future.result(timeout=240) for future in futures]
    assert len(counts) == CALLS and min(counts) >= 10
