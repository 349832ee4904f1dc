"""Undo a response's Content-Encoding without ever holding more than `max_bytes` of output.

A gzip bomb turns 50 KB on the wire into gigabytes; decoders that inflate a whole network chunk
at once (httpx's do) allocate ~1000x the chunk before anyone can count. Here every inflate call
is capped at the bytes still allowed, so memory stays within the limit however the body was
built. Pure: bytes in, bytes out, errors for the caller to label.
"""

from __future__ import annotations

import zlib

# What the fetcher advertises in Accept-Encoding: only codings decoded here, with a bound.
SUPPORTED_CODINGS = ("gzip", "deflate")


class BodyTooLarge(Exception):
    """Output passed the limit. `compressed` tells a bomb from a merely big body."""

    def __init__(self, limit: int, *, compressed: bool, wire_bytes: int) -> None:
        self.limit = limit
        self.compressed = compressed
        self.wire_bytes = wire_bytes
        if compressed:
            message = f"decoded body exceeds {limit} bytes after {wire_bytes} compressed bytes"
        else:
            message = f"body exceeds {limit} bytes"
        super().__init__(message)


class UnsupportedContentEncoding(Exception):
    pass


class BadContentEncoding(Exception):
    """The body does not decode with the coding the server named."""


def _codings(content_encoding: str | None) -> list[str]:
    if not content_encoding:
        return []
    names = [part.strip().lower() for part in content_encoding.split(",")]
    return [n for n in names if n and n != "identity"]


class BoundedDecoder:
    """Feed wire chunks in, get decoded chunks out; raises BodyTooLarge past `max_bytes`."""

    def __init__(self, content_encoding: str | None, max_bytes: int) -> None:
        codings = _codings(content_encoding)
        if len(codings) > 1:
            # Stacked codings would need a bound per stage; no real feed or page uses them.
            raise UnsupportedContentEncoding(f"stacked content codings: {content_encoding}")
        coding = codings[0] if codings else None
        if coding == "x-gzip":
            coding = "gzip"
        if coding is not None and coding not in SUPPORTED_CODINGS:
            raise UnsupportedContentEncoding(f"content coding {coding!r} was not asked for")
        self.coding = coding
        self.max_bytes = max_bytes
        self.wire_bytes = 0
        self.decoded_bytes = 0
        self._inflater: zlib._Decompress | None = None
        self._raw_deflate_tried = False
        if coding == "gzip":
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self._inflater = zlib.decompressobj()

    def _count(self, chunk: bytes) -> bytes:
        self.decoded_bytes += len(chunk)
        if self.decoded_bytes > self.max_bytes:
            raise BodyTooLarge(
                self.max_bytes, compressed=self.coding is not None, wire_bytes=self.wire_bytes
            )
        return chunk

    def _inflate(self, data: bytes) -> bytes:
        assert self._inflater is not None
        out: list[bytes] = []
        pending = data
        while pending and not self._inflater.eof:
            room = self.max_bytes - self.decoded_bytes + 1  # one byte over proves the overflow
            try:
                piece = self._inflater.decompress(pending, room)
            except zlib.error as exc:
                if self.coding == "deflate" and not self._raw_deflate_tried and not out:
                    # "deflate" is meant to be zlib-wrapped; some servers send raw deflate.
                    self._raw_deflate_tried = True
                    self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise BadContentEncoding(f"{self.coding} body does not decode: {exc}") from exc
            self._raw_deflate_tried = True
            out.append(self._count(piece))
            pending = self._inflater.unconsumed_tail
        return b"".join(out)

    def feed(self, chunk: bytes) -> bytes:
        self.wire_bytes += len(chunk)
        if self._inflater is None:
            return self._count(chunk)
        return self._inflate(chunk)

    def finish(self) -> bytes:
        """Flush what the inflater still holds. A truncated stream keeps what decoded so far."""
        if self._inflater is None or self._inflater.eof:
            return b""
        try:
            return self._count(self._inflater.flush())
        except zlib.error as exc:
            raise BadContentEncoding(f"{self.coding} body does not decode: {exc}") from exc


def decode_all(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """One-shot form, for tests and callers that already hold the wire bytes."""
    decoder = BoundedDecoder(content_encoding, max_bytes)
    return decoder.feed(body) + decoder.finish()
