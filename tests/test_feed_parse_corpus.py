"""Every real-world and feedparser test feed goes through the parsing path without an
unhandled exception; recoverable entries come out with absolute links."""

from pathlib import Path

import pytest

from ingest.feeds.feed_parse import FeedParseError, parse_feed
from tests.conftest import CORPORA

FEEDS = CORPORA / "feeds"


def _files() -> list[Path]:
    return sorted(
        p for p in FEEDS.rglob("*")
        if p.is_file() and p.name not in ("LICENSE", "LICENSE-MIT", "COMMIT")
    )


def test_corpus_is_there() -> None:
    assert len(_files()) == 2128


def test_every_corpus_feed_parses_or_fails_cleanly() -> None:
    parsed = failed = entries = skipped = 0
    for path in _files():
        try:
            feed = parse_feed(path.read_bytes(), url=f"https://example.org/{path.name}")
        except FeedParseError:
            failed += 1
            continue
        parsed += 1
        entries += len(feed.entries)
        skipped += len(feed.skipped)
        for entry in feed.entries:
            assert entry.link.startswith(("http://", "https://")), path
    # Only files with nothing feed-like in them fail (feedparser itself raises on none).
    assert failed < 20
    assert parsed + failed == 2128
    # Entries without any link cannot become articles: they are counted, not silently lost.
    assert entries > 300 and skipped > 0


def test_every_real_world_news_feed_yields_entries() -> None:
    empty = []
    for path in sorted((FEEDS / "realworld").rglob("*")):
        if not path.is_file() or path.name.startswith(("LICENSE", "COMMIT")):
            continue
        try:
            feed = parse_feed(path.read_bytes(), url="https://example.org/feed")
        except FeedParseError:
            empty.append(path.name)
            continue
        if not feed.entries:
            empty.append(path.name)
    # rss_2.0_invalid_1.xml is the truncated Reuters error page of the corpus README.
    assert set(empty) <= {"rss_2.0_invalid_1.xml"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("danmactough_node-feedparser/iconv.xml", "Оренбург"),  # windows-1251
        ("rbren_rss-parser/encoding.rss", "Notícias"),  # ISO-8859-1
        ("rbren_rss-parser/uolNoticias.rss", "ç"),  # windows-1252
    ],
)
def test_real_world_feeds_in_legacy_encodings_decode(path: str, expected: str) -> None:
    feed = parse_feed((FEEDS / "realworld" / path).read_bytes(), url="https://example.org/feed")
    assert feed.entries
    text = (feed.title or "") + " ".join(e.title for e in feed.entries)
    assert "\ufffd" not in text
    assert expected.lower() in text.lower()


def test_html_page_is_not_a_feed() -> None:
    with pytest.raises(FeedParseError):
        parse_feed(b"<html><body><p>hello</p></body></html>", url="https://e.org/")
