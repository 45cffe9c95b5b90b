"""Archived media: ListFragments and GetMediaForFragmentList.

Both draw on the stream's fragment buckets (spec 5.3, :mod:`kvsmock.service.quotas`):
ListFragments MaxResults metadata points, GetMediaForFragmentList one media
point per fragment asked for.
"""

from __future__ import annotations

from typing import Any, Callable

from ..errors import InvalidArgumentException, ResourceNotFoundException
from ..service.backend import KinesisVideoService
from ..service.fragments import StoredFragment
from ..service.pagination import page_of
from ..service.quotas import charge_fragments
from .control_plane import page_members
from .get_media import StoppedByError, media_chunks
from .request import ApiRequest, ApiResponse

DEFAULT_LIST_FRAGMENTS = 1000


def _persisted(fragment: StoredFragment) -> bool:
    return fragment.persisted


def list_fragments(backend: KinesisVideoService, req: ApiRequest, params: dict[str, Any]) -> dict[str, Any]:
    stream = backend.find_stream(params)
    selector = params.get("FragmentSelector")
    accept: Callable[[StoredFragment], bool]
    within: tuple[float, float, bool] | None = None
    if selector is None:
        accept = _persisted
    else:  # applied again on later pages: the token only marks where the last one ended
        ts_range = selector["TimestampRange"]
        start, end = float(ts_range["StartTimestamp"]), float(ts_range["EndTimestamp"])
        if end < start:
            raise InvalidArgumentException("EndTimestamp must not be earlier than StartTimestamp.")
        producer = selector["FragmentSelectorType"] == "PRODUCER_TIMESTAMP"
        within = (start, end, producer)

        def accept(f: StoredFragment) -> bool:
            return f.persisted and start <= (f.producer_timestamp if producer else f.server_timestamp) <= end

    max_results = params.get("MaxResults", DEFAULT_LIST_FRAGMENTS)
    charge_fragments(backend, stream, metadata=int(max_results), operation="ListFragments")
    page = page_of(
        lambda after, count: stream.store.scan(after, count, accept, within),
        lambda f: f.number, max_results, params.get("NextToken"), "fragments",
    )
    return page_members("Fragments", page, lambda f: f.list_entry())


def get_media_for_fragment_list(
    backend: KinesisVideoService, req: ApiRequest, params: dict[str, Any]
) -> ApiResponse:
    stream = backend.find_stream(params)
    charge_fragments(backend, stream, media=len(params["Fragments"]), operation="GetMediaForFragmentList")
    chosen = []
    for number in params["Fragments"]:
        fragment = stream.store.by_number(number)
        if fragment is None or not fragment.persisted:  # never stored, or its retention has ended
            raise ResourceNotFoundException(f"The fragment {number} is not found in the stream {stream.name}.")
        chosen.append(fragment)

    def pieces():
        try:
            for chunk in media_chunks(stream, chosen):
                yield from chunk
        except StoppedByError:  # the error chunk (a KMS key that cannot be used) ends the output
            return

    headers = {"Content-Type": "video/webm", "x-amzn-RequestId": req.request_id}
    return ApiResponse(200, headers, pieces() if req.streaming else b"".join(pieces()))


