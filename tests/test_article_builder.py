from datetime import UTC, datetime

from ingest.extract.extraction import Extracted
from ingest.feeds.feed_parse import FeedEntry
from ingest.message.article import Article
from ingest.message.article_builder import MIN_PAGE_TEXT_CHARS, build_article

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


def entry(**kw: object) -> FeedEntry:
    base: dict[str, object] = dict(
        link="https://news.example/a?utm_source=rss", title="Feed title", guid="g1",
        published=datetime(2024, 4, 30, 8, tzinfo=UTC), author=None,
        summary="<p>Short <b>summary</b> of the story.</p>", content=None,
    )
    base.update(kw)
    return FeedEntry(**base)  # type: ignore[arg-type]


def extracted(text: str, date: str | None = "2013-01-01") -> Extracted:
    return Extracted(title="Page title", text=text, author="Page Author", date=date,
                     sitename=None, description=None, language="en", duration_ms=3.0)


def build(e: FeedEntry, x: Extracted | None, error: str | None = None) -> Article:
    return build_article(feed_name="f", feed_url="https://news.example/feed", entry=e,
                         page_url="https://www.news.example/a", extracted=x, error=error,
                         fetched=NOW)


def test_feed_metadata_wins_over_extractor() -> None:
    article = build(entry(), extracted("x" * MIN_PAGE_TEXT_CHARS))
    assert article.title == "Feed title"
    assert article.published == datetime(2024, 4, 30, 8, tzinfo=UTC)
    assert article.extraction.date_source == "feed"
    assert article.extraction.source == "page"
    assert article.author == "Page Author"  # the feed had none


def test_page_date_used_only_when_feed_has_none() -> None:
    article = build(entry(published=None), extracted("y" * 500, date="2013-08-03"))
    assert article.published == datetime(2013, 8, 3, tzinfo=UTC)
    assert article.extraction.date_source == "page"


def test_short_extraction_falls_back_to_entry_and_says_so() -> None:
    article = build(entry(content="<p>" + "Full entry body. " * 20 + "</p>"), extracted("tiny"))
    assert article.extraction.source == "feed_entry"
    assert article.text.startswith("Full entry body.")
    assert "too short" in (article.extraction.error or "")


def test_failed_page_keeps_the_error_and_uses_summary() -> None:
    article = build(entry(), None, error="timeout: read timed out")
    assert article.text == "Short summary of the story."
    assert article.extraction.source == "feed_entry"
    assert article.extraction.error == "timeout: read timed out"


def test_id_comes_from_the_canonical_entry_link() -> None:
    article = build(entry(), extracted("z" * 300))
    assert article.canonical_url == "https://news.example/a"
    assert article.domain == "news.example"
    again = build(entry(link="https://NEWS.example/a#x"), extracted("z" * 300))
    assert again.id == article.id


def test_message_round_trips_as_versioned_json() -> None:
    article = build(entry(), extracted("w" * 300))
    raw = article.to_bytes()
    assert b'"schema_version":1' in raw
    assert Article.from_bytes(raw) == article
