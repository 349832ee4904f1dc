"""Poll feeds: conditional GET, parse, keep only unseen entries, fetch and extract their pages,
produce Articles to Kafka, then record what happened in the feed state.

Order matters for "nothing lost, nothing twice": an entry is marked seen only after Kafka
acknowledged its article, and the feed's validators (ETag, body hash) are saved only after
that too, so a crash at any point makes the next run redo the work rather than skip it.
A failing feed is recorded and reported; it never stops the run.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingest import metrics
from ingest.article import Article, utcnow
from ingest.article_builder import build_article
from ingest.article_producer import ArticleProducer
from ingest.canonical_url import article_id
from ingest.extraction import Extracted, ExtractionFailed, ExtractorPool
from ingest.feed_health import record_failure, record_not_modified, record_success
from ingest.feed_parse import FeedEntry, FeedParseError, parse_feed
from ingest.feed_state import FeedState, FeedStateStore
from ingest.feeds_config import FeedConfig
from ingest.http_fetch import Fetcher, FetchError, FetchResult

log = logging.getLogger(__name__)


@dataclass
class FeedOutcome:
    feed: str
    url: str
    result: str  # ok | not_modified | unchanged | error
    error_kind: str | None = None
    error: str | None = None
    entries: int = 0
    new_entries: int = 0
    produced: int = 0
    produce_failed: int = 0
    from_feed_entry: int = 0


@dataclass
class PollReport:
    outcomes: list[FeedOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def produced(self) -> int:
        return sum(o.produced for o in self.outcomes)

    @property
    def failed_feeds(self) -> list[FeedOutcome]:
        return [o for o in self.outcomes if o.result == "error"]

    def summary(self) -> dict[str, Any]:
        by_result: dict[str, int] = {}
        for outcome in self.outcomes:
            by_result[outcome.result] = by_result.get(outcome.result, 0) + 1
        return {
            "feeds": len(self.outcomes),
            "by_result": by_result,
            "new_entries": sum(o.new_entries for o in self.outcomes),
            "articles_produced": self.produced,
            "produce_failed": sum(o.produce_failed for o in self.outcomes),
            "seconds": round(self.seconds, 2),
        }


def _error_kind(exc: FetchError) -> str:
    if exc.kind == "http_status" and exc.status is not None:
        return f"http_{exc.status}"
    return exc.kind


class Poller:
    def __init__(
        self,
        *,
        fetcher: Fetcher,
        store: FeedStateStore,
        producer: ArticleProducer,
        extractor: ExtractorPool,
        interval_s: int,
        max_entries_per_feed: int = 200,
        concurrency: int = 8,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.fetcher = fetcher
        self.store = store
        self.producer = producer
        self.extractor = extractor
        self.interval_s = interval_s
        self.max_entries = max_entries_per_feed
        self.concurrency = concurrency
        self.clock = clock

    def poll(self, feeds: list[FeedConfig]) -> PollReport:
        started = time.monotonic()
        states = self.store.load(f.name for f in feeds)
        report = PollReport()
        # Two pools: feeds wait on their pages, so pages must not queue behind feeds.
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="feed") as feed_pool, \
                ThreadPoolExecutor(self.concurrency, thread_name_prefix="page") as page_pool:
            futures = [
                feed_pool.submit(self._poll_guarded, feed, states.get(feed.name), page_pool)
                for feed in feeds
            ]
            report.outcomes = [f.result() for f in futures]
        report.seconds = time.monotonic() - started
        return report

    def _poll_guarded(
        self, feed: FeedConfig, state: FeedState | None, pages: ThreadPoolExecutor
    ) -> FeedOutcome:
        try:
            with metrics.FEED_POLL_SECONDS.time():
                return self.poll_feed(feed, state, pages)
        except Exception as exc:  # a bug in one feed's path must not end the run
            log.exception("feed poll crashed", extra={"feed": feed.name, "url": str(feed.url)})
            metrics.FEED_ERRORS.labels("internal").inc()
            return FeedOutcome(feed.name, str(feed.url), "error", "internal", repr(exc))

    def poll_feed(
        self, feed: FeedConfig, state: FeedState | None, pages: ThreadPoolExecutor
    ) -> FeedOutcome:
        configured = str(feed.url)
        if state is None or state.configured_url != configured:
            state = FeedState(name=feed.name, url=configured, configured_url=configured)
        now = self.clock()
        url = state.url
        try:
            fetched = self.fetcher.get(
                url, etag=state.etag, last_modified=state.last_modified,
                accept="application/rss+xml, application/atom+xml, application/xml;q=0.9, "
                "text/xml;q=0.9, */*;q=0.5",
            )
        except FetchError as exc:
            return self._fail(state, feed, now, _error_kind(exc), str(exc), exc.retry_after_s)

        if fetched.permanent_redirect:
            log.info("feed moved permanently", extra={"feed": feed.name, "from": url,
                                                       "to": fetched.permanent_redirect})
            state = state.model_copy(update={"url": fetched.permanent_redirect})
        if fetched.not_modified:
            metrics.FEEDS_POLLED.labels("not_modified").inc()
            self.store.save(record_not_modified(state, now=now, interval_s=self.interval_s))
            return FeedOutcome(feed.name, url, "not_modified")
        body_hash = hashlib.sha256(fetched.body).hexdigest()
        if body_hash == state.body_hash:
            metrics.FEEDS_POLLED.labels("unchanged").inc()
            self.store.save(record_not_modified(state, now=now, interval_s=self.interval_s))
            return FeedOutcome(feed.name, url, "unchanged")
        try:
            parsed = parse_feed(fetched.body, url=fetched.url, headers=fetched.headers)
        except FeedParseError as exc:
            return self._fail(state, feed, now, "parse_error", str(exc), None)
        if parsed.bozo:
            log.warning("feed is malformed, entries recovered",
                        extra={"feed": feed.name, "url": url, "reason": parsed.bozo_reason,
                               "entries": len(parsed.entries)})

        entries = _unique_entries(parsed.entries)[: self.max_entries]
        already = self.store.seen(article_id(e.link) for e in entries)
        new = [e for e in entries if article_id(e.link) not in already]
        metrics.ENTRIES_SEEN.labels("new").inc(len(new))
        metrics.ENTRIES_SEEN.labels("seen").inc(len(entries) - len(new))

        page_futures = [(e, pages.submit(self._fetch_and_extract, feed, e)) for e in new]
        articles = [self._article(feed, e, fut.result(), now) for e, fut in page_futures]
        outcome = FeedOutcome(feed.name, url, "ok", entries=len(entries), new_entries=len(new))
        outcome.from_feed_entry = sum(1 for a in articles if a.extraction.source == "feed_entry")
        produced = self.producer.send_all(articles)
        outcome.produced = len(produced.acked)
        outcome.produce_failed = len(produced.failed)
        metrics.ARTICLES_PRODUCED.inc(len(produced.acked))
        metrics.PRODUCE_ERRORS.inc(len(produced.failed))
        acked = set(produced.acked)
        self.store.mark_seen(
            ((a.id, feed.name, a.url) for a in articles if a.id in acked), when=now
        )
        if produced.failed:
            # Keep the old validators: the next run must see these entries again.
            for article_id_, error in produced.failed.items():
                log.error("article not acknowledged by Kafka",
                          extra={"feed": feed.name, "article_id": article_id_, "error": error})
            return self._fail(state, feed, now, "produce_failed",
                              f"{len(produced.failed)} articles not acknowledged", None, outcome)
        state = state.model_copy(update={
            "etag": fetched.headers.get("etag"),
            "last_modified": fetched.headers.get("last-modified"),
            "body_hash": body_hash,
        })
        self.store.save(record_success(state, now=now, interval_s=self.interval_s,
                                       entries=len(entries), produced=outcome.produced))
        metrics.FEEDS_POLLED.labels("ok").inc()
        log.info("feed polled", extra={"feed": feed.name, "url": url, "entries": len(entries),
                                        "new": len(new), "produced": outcome.produced})
        return outcome

    def _fail(
        self, state: FeedState, feed: FeedConfig, now: datetime, kind: str, message: str,
        retry_after_s: float | None, outcome: FeedOutcome | None = None,
    ) -> FeedOutcome:
        metrics.FEEDS_POLLED.labels("error").inc()
        metrics.FEED_ERRORS.labels(kind).inc()
        new_state = record_failure(state, now=now, kind=kind, message=message,
                                   interval_s=self.interval_s, retry_after_s=retry_after_s)
        self.store.save(new_state)
        log.warning("feed poll failed", extra={"feed": feed.name, "url": state.url,
                                                "kind": kind, "error": message,
                                                "status": new_state.status,
                                                "failures": new_state.consecutive_failures})
        if outcome is None:
            outcome = FeedOutcome(feed.name, state.url, "error")
        outcome.result, outcome.error_kind, outcome.error = "error", kind, message
        return outcome

    def _fetch_and_extract(
        self, feed: FeedConfig, entry: FeedEntry
    ) -> tuple[FetchResult | None, Extracted | None, str | None]:
        try:
            page = self.fetcher.get(entry.link, accept="text/html,application/xhtml+xml")
        except FetchError as exc:
            metrics.PAGES_FETCHED.labels(_error_kind(exc)).inc()
            log.info("page not fetched, using feed entry",
                     extra={"feed": feed.name, "url": entry.link, "kind": exc.kind,
                            "error": str(exc)})
            return None, None, str(exc)
        metrics.PAGES_FETCHED.labels("ok").inc()
        future: Future[Extracted | ExtractionFailed] = self.extractor.submit(page.url, page.body)
        try:
            result = future.result()
        except Exception as exc:  # the pool itself broke: report the page, keep going
            return page, None, f"extraction crashed: {exc!r}"
        if isinstance(result, ExtractionFailed):
            log.info("extraction failed, using feed entry",
                     extra={"feed": feed.name, "url": page.url, "error": str(result)})
            return page, None, f"extraction failed: {result}"
        metrics.EXTRACT_SECONDS.observe(result.duration_ms / 1000)
        return page, result, None

    def _article(
        self, feed: FeedConfig,
        entry: FeedEntry,
        fetched: tuple[FetchResult | None, Extracted | None, str | None],
        now: datetime,
    ) -> Article:
        page, extracted, error = fetched
        article = build_article(
            feed_name=feed.name, feed_url=str(feed.url), entry=entry,
            page_url=page.url if page else None, extracted=extracted, error=error,
            fetched=now, language_hint=feed.language,
        )
        metrics.ARTICLES_EXTRACTED.labels(article.extraction.source).inc()
        return article


def _unique_entries(entries: list[FeedEntry]) -> list[FeedEntry]:
    """Feeds repeat items (illegally nested, updated twice): one entry per article id."""
    seen: dict[str, FeedEntry] = {}
    for entry in entries:
        seen.setdefault(article_id(entry.link), entry)
    return list(seen.values())
