"""Build the Article message from a feed entry and what extraction made of its page (pure).

Rules, in the order they are applied:
* The feed entry's metadata wins over the extractor's: publishers state the date in the feed,
  while extractors sometimes invent one (a 2013-08-03 article came back as 2013-01-01).
* The body is the extracted page text when it has at least MIN_PAGE_TEXT_CHARS characters;
  otherwise the entry's own content, else its summary. The source used is recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dateutil import parser as date_parser

from ingest.extract.extraction import EXTRACTOR_VERSION, Extracted
from ingest.extract.html_text import html_to_text
from ingest.feeds.feed_parse import FeedEntry
from ingest.message.article import Article, ExtractionInfo, Timings
from ingest.message.canonical_url import article_id, canonicalize_url, source_domain

MIN_PAGE_TEXT_CHARS = 200


def _page_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = date_parser.isoparse(value)
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def build_article(
    *,
    feed_name: str,
    feed_url: str,
    entry: FeedEntry,
    page_url: str | None,
    extracted: Extracted | None,
    error: str | None,
    fetched: datetime,
    language_hint: str | None = None,
    timings: Timings | None = None,
) -> Article:
    """`timings`: the stages the poller stamped (discovered, fetched, extracted); `published`
    is filled in from the date chosen below."""
    url = page_url or entry.link
    canonical = canonicalize_url(entry.link)
    page_text = extracted.text if extracted else ""
    if len(page_text) >= MIN_PAGE_TEXT_CHARS:
        text, source = page_text, "page"
    else:
        fallback = html_to_text(entry.content) or html_to_text(entry.summary)
        # A short page text still beats an empty entry.
        text, source = (fallback, "feed_entry") if len(fallback) > len(page_text) else (
            page_text, "page"
        )
        if error is None and extracted is not None and source == "feed_entry":
            error = f"page text too short ({len(page_text)} chars)"
    published = entry.published
    date_source = "feed" if published else "none"
    if published is None and extracted is not None:
        published = _page_date(extracted.date)
        date_source = "page" if published else "none"
    title = entry.title or (extracted.title if extracted else None) or ""
    return Article(
        id=article_id(entry.link),
        url=url,
        canonical_url=canonical,
        feed=feed_name,
        feed_url=feed_url,
        domain=source_domain(url),
        title=title,
        text=text,
        summary=html_to_text(entry.summary) or None,
        author=entry.author or (extracted.author if extracted else None),
        published=published,
        fetched=fetched,
        language=language_hint or (extracted.language if extracted else None),
        extraction=ExtractionInfo(
            source=source,  # type: ignore[arg-type]
            extractor_version=EXTRACTOR_VERSION,
            text_chars=len(text),
            date_source=date_source,  # type: ignore[arg-type]
            error=error,
            duration_ms=extracted.duration_ms if extracted else None,
        ),
        timings=Timings.model_validate({**(timings or Timings()).model_dump(),
                                        "published": published}),
    )
