"""Content-Encoding is undone within the byte limit, whatever the compression ratio."""

from __future__ import annotations

import gzip
import zlib

import pytest

from ingest.fetch.bounded_decompress import (
    BadContentEncoding,
    BodyTooLarge,
    BoundedDecoder,
    UnsupportedContentEncoding,
    decode_all,
)

TEXT = b"<rss><channel><title>news</title></channel></rss>" * 50


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("coding", [None, "identity", "gzip", "x-gzip", "deflate", "GZip"])
def test_round_trip(coding: str | None) -> None:
    if coding and coding.lower() in ("gzip", "x-gzip"):
        wire = gzip.compress(TEXT)
    elif coding == "deflate":
        wire = zlib.compress(TEXT)
    else:
        wire = TEXT
    decoder = BoundedDecoder(coding, max_bytes=len(TEXT))
    out = b"".join(decoder.feed(c) for c in chunks(wire, 7)) + decoder.finish()
    assert out == TEXT
    assert decoder.wire_bytes == len(wire)


def test_raw_deflate_without_zlib_wrapper() -> None:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    wire = compressor.compress(TEXT) + compressor.flush()
    assert decode_all(wire, "deflate", len(TEXT)) == TEXT


def test_plain_body_over_the_limit() -> None:
    decoder = BoundedDecoder(None, max_bytes=100)
    decoder.feed(b"x" * 100)
    with pytest.raises(BodyTooLarge) as caught:
        decoder.feed(b"x")
    assert caught.value.compressed is False


def test_bomb_is_stopped_with_bounded_output() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros, ~64 KiB on the wire
    limit = 1024 * 1024
    decoder = BoundedDecoder("gzip", max_bytes=limit)
    produced = 0
    with pytest.raises(BodyTooLarge) as caught:
        for piece in chunks(bomb, 64 * 1024):  # one network read's worth at a time
            produced += len(decoder.feed(piece))
    assert caught.value.compressed is True
    assert produced <= limit
    assert decoder.decoded_bytes == limit + 1  # stopped one byte past the limit, not megabytes
    assert caught.value.wire_bytes <= len(bomb)


def test_exactly_the_limit_is_fine() -> None:
    data = b"a" * 5000
    assert decode_all(gzip.compress(data), "gzip", 5000) == data
    with pytest.raises(BodyTooLarge):
        decode_all(gzip.compress(data), "gzip", 4999)


def test_corrupt_and_unsupported_codings() -> None:
    with pytest.raises(BadContentEncoding):
        decode_all(b"\x1f\x8b\x08garbage-garbage", "gzip", 1000)
    with pytest.raises(BadContentEncoding):
        decode_all(b"definitely not deflate", "deflate", 1000)
    with pytest.raises(UnsupportedContentEncoding):
        BoundedDecoder("br", 1000)
    with pytest.raises(UnsupportedContentEncoding):
        BoundedDecoder("gzip, gzip", 1000)


def test_truncated_gzip_keeps_what_decoded() -> None:
    wire = gzip.compress(TEXT)
    out = decode_all(wire[: len(wire) // 2], "gzip", len(TEXT))
    assert TEXT.startswith(out)
    assert out
