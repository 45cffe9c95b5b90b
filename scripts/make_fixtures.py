"""Regenerate the small sample media in fixtures/ with kvsmock's own generator (PyAV).

Run from the repository root: ``python scripts/make_fixtures.py``. Each file is a
producer-style PutMedia body (one Cluster per fragment, each opening on a keyframe).
Every file names its start explicitly (0: RELATIVE timecodes), so the output never
depends on the time it is made.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from kvsmock.media.matroska import write_mkv
from kvsmock.media.sample import encode_sample, epoch_ms, sample_mkv

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def sdk_style() -> bytes:
    """H.264 + AAC laid out like the C producer SDK: unknown-size clusters, 8-byte sizes,
    absolute timecodes, two metadata tags and the END_OF_FRAGMENT marker after each cluster."""
    media = encode_sample(4.0, 2.0, 25, 320, 240, "h264", True)
    return write_mkv(
        media.tracks,
        media.packets,
        start_ms=epoch_ms(START),
        unknown_size_clusters=True,
        size_width=8,
        fragment_tags=lambda i: [("FRAGMENT_INDEX", str(i)), ("CAMERA", "fixture")],
        end_of_fragment_tags=True,
    )


FILES = {
    "h264_6s.mkv": ("H.264 320x240 25 fps, 6 s, 2 s fragments, video only",
                    lambda: sample_mkv(duration_s=6, fragment_s=2, start=0)),
    "h264_aac_6s.mkv": ("H.264 + AAC (48 kHz mono), 6 s, 2 s fragments",
                        lambda: sample_mkv(duration_s=6, fragment_s=2, audio=True, start=0)),
    "h265_4s.mkv": ("H.265 320x240 25 fps, 4 s, 2 s fragments",
                    lambda: sample_mkv(duration_s=4, fragment_s=2, codec="h265", start=0)),
    "h264_short_fragments.mkv": ("H.264 24 fps, 3 s, 0.5 s fragments",
                                 lambda: sample_mkv(duration_s=3, fragment_s=0.5, fps=24, start=0)),
    "h264_long_fragments.mkv": ("H.264 25 fps, 12 s, 6 s fragments",
                                lambda: sample_mkv(duration_s=12, fragment_s=6, start=0)),
    "h264_absolute.mkv": ("H.264, 4 s, 2 s fragments, absolute timecodes from 2024-01-01T00:00:00Z",
                          lambda: sample_mkv(duration_s=4, fragment_s=2, start=START)),
    "h264_aac_sdk_style.mkv": ("H.264 + AAC, 4 s, 2 s fragments, C-producer-SDK layout (see sdk_style())",
                               sdk_style),
}


def main() -> None:
    FIXTURES.mkdir(exist_ok=True)
    lines = [
        "# fixtures",
        "",
        "Small producer-style MKV bodies made by `scripts/make_fixtures.py` (PyAV + kvsmock.media).",
        "Regenerate with `python scripts/make_fixtures.py`; do not edit by hand.",
        "",
        "| file | bytes | what |",
        "|---|---|---|",
    ]
    for name, (what, build) in FILES.items():
        data = build()
        (FIXTURES / name).write_bytes(data)
        lines.append(f"| {name} | {len(data)} | {what} |")
        print(f"{name:28} {len(data):8} bytes")
    (FIXTURES / "README.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
