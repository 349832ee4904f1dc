"""Decide whether a response is worth reading, from what the caller expects to get.

A feed link that now serves a PDF, an article link that points at a video, a feed URL that
answers with the site's HTML home page: each must end with a reason the feed's health can show,
not as garbage handed to feedparser or trafilatura. The declared type is judged before the body
is downloaded; the first bytes are judged after, because servers mislabel often. Feeds are
judged leniently (many real feeds are served as text/html or text/plain), pages strictly. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Expect = Literal["feed", "html", "any"]

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Declared types that say nothing, so the body decides.
UNINFORMATIVE_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_BINARY_PREFIXES = ("image/", "audio/", "video/", "font/", "model/")
_NOT_A_FEED_TYPES = frozenset(
    {
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-7z-compressed",
        "application/x-rar-compressed",
        "application/msword",
        "application/wasm",
        "application/javascript",
        "text/javascript",
        "text/css",
        "application/json",
        "application/feed+json",  # JSON Feed: feedparser does not read it
    }
)
_MAGIC = (
    (b"%PDF-", "PDF"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x89PNG", "PNG image"),
    (b"GIF8", "GIF image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"\x1f\x8b", "gzip data"),
    (b"OggS", "Ogg media"),
    (b"ID3", "MP3 audio"),
    (b"RIFF", "RIFF media"),
    (b"\x00asm", "WebAssembly"),
)
_LEADING_NOISE = re.compile(rb"^(?:\xef\xbb\xbf)?(?:\s+|<\?xml[^>]*\?>|<!--.*?-->)*", re.DOTALL)
_HTML_START = re.compile(rb"<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE)


@dataclass(frozen=True)
class Refusal:
    kind: Literal["unsupported_content_type", "not_a_feed"]
    reason: str


def media_type(content_type_header: str | None) -> str:
    return (content_type_header or "").split(";")[0].strip().lower()


def refuse_declared(expect: Expect, content_type_header: str | None) -> Refusal | None:
    """Judge the Content-Type header alone, before any body byte is read."""
    declared = media_type(content_type_header)
    if expect == "any" or declared in UNINFORMATIVE_TYPES:
        return None
    if expect == "html":
        if declared in HTML_TYPES:
            return None
        return Refusal("unsupported_content_type", f"expected HTML, server declared {declared}")
    if (
        declared.startswith(_BINARY_PREFIXES)
        or declared in _NOT_A_FEED_TYPES
        or (declared.startswith("application/vnd.") and not declared.endswith("+xml"))
    ):
        return Refusal("unsupported_content_type", f"expected a feed, server declared {declared}")
    return None


def _binary_kind(prefix: bytes) -> str | None:
    for magic, name in _MAGIC:
        if prefix.startswith(magic):
            return name
    if prefix[4:8] == b"ftyp":
        return "MP4 media"
    return None


def looks_like_html_document(prefix: bytes) -> bool:
    """True when the body opens as an HTML document (doctype or <html>), after BOM and comments."""
    head = prefix[:4096]
    skipped = _LEADING_NOISE.match(head)
    rest = head[skipped.end() if skipped else 0 :]
    return _HTML_START.match(rest) is not None


def refuse_body(expect: Expect, content_type_header: str | None, prefix: bytes) -> Refusal | None:
    """Judge the first bytes of the (decoded) body against what was expected."""
    if expect == "any":
        return None
    declared = media_type(content_type_header) or "no content type"
    binary = _binary_kind(prefix[:16])
    if binary is not None:
        wanted = "HTML" if expect == "html" else "a feed"
        return Refusal(
            "unsupported_content_type", f"expected {wanted}, body is {binary} ({declared})"
        )
    if expect == "html" and b"\x00" in prefix[:1024]:
        return Refusal("unsupported_content_type", f"expected HTML, body is binary ({declared})")
    if expect == "feed" and looks_like_html_document(prefix):
        return Refusal("not_a_feed", f"expected a feed, body is an HTML page ({declared})")
    return None
