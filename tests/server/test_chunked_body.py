"""The chunked-body decoder: the same data however the bytes are cut, the end found, bad framing refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvsmock.server.chunked_body import MAX_SIZE_LINE, ChunkedBody, ChunkedBodyError


def chunked(parts: list[bytes], trailers: bytes = b"") -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n" + trailers + b"\r\n"


def decode(wire: bytes, cuts: list[int]) -> tuple[bytes, bool]:
    """Feed ``wire`` cut at ``cuts``: the data and whether the body ended."""
    body, data, last = ChunkedBody(), [], 0
    for cut in sorted(set(cuts)) + [len(wire)]:
        data += body.feed(wire[last:cut])
        last = cut
    return b"".join(data), body.done


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=6), st.lists(st.integers(0, 2000), max_size=20))
def test_the_same_data_however_the_bytes_are_cut(parts, cuts):
    wire = chunked(parts, b"X-Trailer: 1\r\n")
    assert decode(wire, [c for c in cuts if c <= len(wire)]) == (b"".join(parts), True)


def test_data_comes_out_before_its_chunk_is_whole():
    body = ChunkedBody()
    assert body.feed(b"a;ext=1\r\nabc") == [b"abc"]
    assert body.feed(b"defg") == [b"defg"]
    assert body.feed(b"hij\r\n") == [b"hij"]
    assert not body.done
    assert body.feed(b"0\r\n\r\nNEXT") == [] and body.done


def test_bytes_after_the_end_are_not_data():
    body = ChunkedBody()
    assert body.feed(chunked([b"x"]) + b"GET / HTTP/1.1\r\n") == [b"x"]
    assert body.done


def test_a_close_in_the_trailers_ends_the_body_one_elsewhere_cuts_it():
    in_trailers = ChunkedBody()
    in_trailers.feed(b"1\r\nx\r\n0\r\nX-Trailer: 1")
    assert in_trailers.ends_at_close() and in_trailers.done
    in_data = ChunkedBody()
    in_data.feed(b"5\r\nab")
    assert not in_data.ends_at_close() and not in_data.done


@pytest.mark.parametrize("line", [b"zz\r\n", b"-1\r\n", b"0x10\r\n", b"\r\n", b"1 2\r\n"])
def test_a_size_that_is_not_hexadecimal_is_refused_after_the_data_before_it(line):
    body = ChunkedBody()
    assert body.feed(b"2\r\nok\r\n" + line + b"more") == [b"ok"]
    assert isinstance(body.error, ChunkedBodyError) and not body.done
    assert body.feed(b"1\r\nx\r\n") == []  # nothing after it is data


def test_a_size_line_too_long_is_refused_before_it_ends():
    body = ChunkedBody()
    body.feed(b"1;" + b"e" * (MAX_SIZE_LINE - 4) + b"\r")  # one byte short of the limit with its LF: taken so far
    assert body.error is None
    body.feed(b"ee")
    assert isinstance(body.error, ChunkedBodyError)
