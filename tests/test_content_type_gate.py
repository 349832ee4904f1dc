"""What counts as a feed or a page: lenient for feeds (servers mislabel them), strict for pages."""

from __future__ import annotations

import pytest

from ingest.fetch.content_type_gate import (
    looks_like_html_document,
    media_type,
    refuse_body,
    refuse_declared,
)

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>'
HTML = b"<!DOCTYPE html><html><head></head><body></body></html>"


def test_media_type() -> None:
    assert media_type("Text/HTML; charset=utf-8") == "text/html"
    assert media_type(None) == ""


@pytest.mark.parametrize(
    "declared",
    [
        "application/rss+xml",
        "application/atom+xml",
        "application/xml",
        "text/xml",
        "text/html",
        "text/plain",
        "application/octet-stream",
        None,
        "application/vnd.google-earth.kml+xml",
    ],
)
def test_feeds_accept_what_real_feeds_are_served_as(declared: str | None) -> None:
    assert refuse_declared("feed", declared) is None


@pytest.mark.parametrize(
    "declared",
    [
        "application/pdf",
        "image/png",
        "video/mp4",
        "audio/mpeg",
        "application/zip",
        "application/json",
        "application/feed+json",
        "application/vnd.ms-excel",
    ],
)
def test_feeds_refuse_binary_and_unparseable_types(declared: str) -> None:
    refusal = refuse_declared("feed", declared)
    assert refusal is not None
    assert refusal.kind == "unsupported_content_type"
    assert declared in refusal.reason


@pytest.mark.parametrize("declared", ["text/html; charset=utf-8", "application/xhtml+xml", None])
def test_pages_accept_html(declared: str | None) -> None:
    assert refuse_declared("html", declared) is None


@pytest.mark.parametrize("declared", ["application/pdf", "text/plain", "image/jpeg", "text/xml"])
def test_pages_refuse_everything_else(declared: str) -> None:
    refusal = refuse_declared("html", declared)
    assert refusal is not None and refusal.kind == "unsupported_content_type"


def test_any_accepts_anything() -> None:
    assert refuse_declared("any", "application/pdf") is None
    assert refuse_body("any", "text/html", b"%PDF-1.4") is None


def test_binary_bodies_are_caught_whatever_the_label() -> None:
    for prefix, name in [
        (b"%PDF-1.7", "PDF"),
        (b"\x89PNG\r\n", "PNG"),
        (b"PK\x03\x04", "ZIP"),
        (b"\x00\x00\x00\x18ftypmp42", "MP4"),
    ]:
        refusal = refuse_body("html", "text/html", prefix)
        assert refusal is not None and name in refusal.reason
        assert refuse_body("feed", "application/rss+xml", prefix) is not None


def test_html_page_is_not_a_feed_but_a_feed_is() -> None:
    refusal = refuse_body("feed", "text/html", b"\xef\xbb\xbf\n<!-- cms -->\n" + HTML)
    assert refusal is not None and refusal.kind == "not_a_feed"
    assert refuse_body("feed", "text/html", RSS) is None
    assert refuse_body("html", "text/html", HTML) is None


def test_html_detection() -> None:
    assert looks_like_html_document(b"  <HTML lang='en'>")
    assert looks_like_html_document(b'<?xml version="1.0"?>\n<!DOCTYPE html>')
    assert not looks_like_html_document(RSS)
    assert not looks_like_html_document(b"<htmlfeed>")
    assert not looks_like_html_document(b'<feed xmlns="http://www.w3.org/2005/Atom">')


def test_binary_body_where_html_expected_with_no_label() -> None:
    refusal = refuse_body("html", None, b"\x01\x02\x00\x00 binary")
    assert refusal is not None and refusal.kind == "unsupported_content_type"
