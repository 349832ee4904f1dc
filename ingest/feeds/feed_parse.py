"""Turn a fetched feed body into entries (pure: feedparser gets bytes, never a URL).

feedparser's own fetching has no timeout and `parse(str)` opens local paths, so it only ever
sees the bytes we fetched, with the response headers (for the charset) and `content-location`
set to the final URL (to resolve relative links).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from ingest.fetch.body_decoding import utf8_for_feedparser


@dataclass(frozen=True)
class FeedEntry:
    link: str
    title: str
    guid: str | None
    published: datetime | None
    author: str | None
    summary: str | None  # entry HTML as feedparser sanitised it
    content: str | None


@dataclass
class ParsedFeed:
    entries: list[FeedEntry]
    title: str | None
    # feedparser recovered from broken XML ("bozo"): entries may be partial.
    bozo: bool = False
    bozo_reason: str | None = None
    ttl_minutes: int | None = None
    # sy:updatePeriod / sy:updateFrequency as the feed states them (the poll-interval floor).
    update_period: str | None = None
    update_frequency: str | None = None
    version: str | None = None
    skipped: list[str] = field(default_factory=list)
    encoding: str | None = None
    # Charset labels the body contradicted (a mislabelled feed): shown in feed health.
    rejected_labels: list[str] = field(default_factory=list)
    # WebSub discovery from the body: <atom:link rel="hub"> / <link rel="hub"> (in RSS and
    # Atom alike), and the rel="self" URL that names the topic (`ingest.websub.websub_discovery`).
    hub_urls: list[str] = field(default_factory=list)
    self_url: str | None = None


class FeedParseError(Exception):
    pass


def _entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, TypeError):
                continue
    return None


def _entry_content(entry: Any) -> str | None:
    contents = entry.get("content") or []
    values = [c.get("value", "") for c in contents if isinstance(c, dict)]
    joined = "\n".join(v for v in values if v)
    return joined or None


def _text_or_none(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _feed_links(feed_meta: Any, rel: str) -> list[str]:
    """hrefs of the feed-level links with `rel` among their (space-separated) relations."""
    hrefs: list[str] = []
    for link in feed_meta.get("links") or []:
        rels = str(link.get("rel") or "").lower().split()
        href = link.get("href")
        if rel in rels and isinstance(href, str) and href.strip():
            hrefs.append(href.strip())
    return list(dict.fromkeys(hrefs))


def parse_feed(body: bytes, *, url: str, headers: dict[str, str] | None = None) -> ParsedFeed:
    """Parse a feed body. Raises FeedParseError when nothing feed-like could be recovered."""
    utf8, response_headers, decoded = utf8_for_feedparser(body, headers)
    response_headers["content-location"] = url
    try:
        parsed = feedparser.parse(utf8, response_headers=response_headers)
    except Exception as exc:  # feedparser is defensive, but a parser bug must not kill a run
        raise FeedParseError(f"{type(exc).__name__}: {exc}") from exc
    bozo_reason = str(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    feed_meta = parsed.get("feed", {}) or {}
    if not parsed.entries and not parsed.get("version"):
        raise FeedParseError(bozo_reason or "not a feed: no entries and no feed format detected")
    entries: list[FeedEntry] = []
    skipped: list[str] = []
    for raw in parsed.entries:
        link = (raw.get("link") or "").strip()
        if not link.startswith(("http://", "https://")):
            guid = raw.get("id") or ""
            if isinstance(guid, str) and guid.startswith(("http://", "https://")):
                link = guid
            else:
                skipped.append(raw.get("title") or raw.get("id") or "(entry without link)")
                continue
        entries.append(
            FeedEntry(
                link=link,
                title=(raw.get("title") or "").strip(),
                guid=raw.get("id"),
                published=_entry_time(raw),
                author=raw.get("author"),
                summary=raw.get("summary"),
                content=_entry_content(raw),
            )
        )
    ttl = feed_meta.get("ttl")
    return ParsedFeed(
        entries=entries,
        title=feed_meta.get("title"),
        bozo=bool(parsed.get("bozo")),
        bozo_reason=bozo_reason,
        ttl_minutes=int(ttl) if isinstance(ttl, str) and ttl.strip().isdigit() else None,
        update_period=_text_or_none(feed_meta.get("sy_updateperiod")),
        update_frequency=_text_or_none(feed_meta.get("sy_updatefrequency")),
        version=parsed.get("version") or None,
        skipped=skipped,
        encoding=decoded.encoding,
        rejected_labels=list(decoded.rejected_labels),
        hub_urls=_feed_links(feed_meta, "hub"),
        self_url=next(iter(_feed_links(feed_meta, "self")), None),
    )
