"""Poll feeds: conditional GET, parse, keep only unseen entries, fetch and extract their pages,
produce Articles to Kafka, then record what happened in the feed state.

Order matters for "nothing lost, nothing twice": an entry is marked seen only after Kafka
acknowledged its article, and the feed's validators (ETag, body hash) are saved only after
that too, so a crash at any point makes the next run redo the work rather than skip it.
A failing feed is recorded and reported; it never stops the run. How an outcome changes the
feed's status is `ingest.feeds.feed_health`; when the feed is due next,
`ingest.feeds.feed_schedule`.

Each article is produced as soon as its page is extracted (not when the feed's last page is),
and stamps its `timings` on the way (discovered, fetched, extracted, produced). A poll takes at
most `max_entries_per_feed` new entries, newest first; the rest wait for the next polls
(`ingest.poll.entry_backlog`), counted and logged, never dropped.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from ingest.common import freshness_metrics
from ingest.extract.extraction import Extracted, ExtractionFailed, ExtractorPool
from ingest.extract.extraction_drift_store import DriftRecorder
from ingest.feeds.feed_health import (
    HealthPolicy,
    describe_change,
    record_failure,
    record_not_modified,
    record_success,
)
from ingest.feeds.feed_leases import Claim
from ingest.feeds.feed_parse import FeedEntry, FeedParseError, ParsedFeed, parse_feed
from ingest.feeds.feed_schedule import (
    Floor,
    PublishingStats,
    SchedulePolicy,
    next_interval,
    publishing_stats,
    requested_floor,
)
from ingest.feeds.feed_state import DocVersion, FeedState, FeedStateStore, StaleVersion
from ingest.feeds.feeds_config import FeedConfig
from ingest.feeds.lease_renewal import LeaseKeeper
from ingest.fetch.http_fetch import Fetcher, FetchError, FetchResult
from ingest.fetch.robots import RobotsCache
from ingest.message.article import Article, Timings, utcnow
from ingest.message.article_builder import build_article
from ingest.message.article_producer import ArticleProducer, Sending
from ingest.message.canonical_url import article_id, source_domain
from ingest.poll import metrics
from ingest.poll.entry_backlog import select_entries

log = logging.getLogger(__name__)
T = TypeVar("T")


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
    deferred: int = 0  # new entries past the per-poll bound, left for the next polls


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
            "deferred": sum(o.deferred for o in self.outcomes),
            "seconds": round(self.seconds, 2),
        }


def _error_kind(exc: FetchError) -> str:
    if exc.kind == "http_status" and exc.status is not None:
        return f"http_{exc.status}"
    return exc.kind


def _stored_floor(state: FeedState) -> Floor | None:
    if state.floor_s is None:
        return None
    return Floor(state.floor_s, state.floor_source or "stored")


def _higher_floor(first: Floor | None, second: Floor | None) -> Floor | None:
    present = [f for f in (first, second) if f is not None]
    return max(present, key=lambda f: f.seconds, default=None)


class PushHook(Protocol):
    """What WebSub needs from polling (`ingest.websub.websub_poll_hook`): every fetched feed body,
    to
    find the hub it advertises and notice entries a hub failed to push, and a say in the next
    interval, so a pushed feed is polled rarely and a feed whose push failed normally."""

    def after_poll(self, feed: FeedConfig, fetched: FetchResult, parsed: ParsedFeed,
                   outcome: FeedOutcome, now: datetime) -> None: ...

    def interval(self, feed_name: str, interval_s: int) -> int: ...


@dataclass(frozen=True)
class _Job:
    feed: FeedConfig
    state: FeedState | None  # None: never polled
    version: DocVersion | None  # None: write unconditionally (no lease held)


class Poller:
    def __init__(
        self,
        *,
        fetcher: Fetcher,
        store: FeedStateStore,
        producer: ArticleProducer,
        extractor: ExtractorPool,
        schedule: SchedulePolicy | None = None,
        health: HealthPolicy | None = None,
        max_entries_per_feed: int = 200,
        concurrency: int = 8,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        robots: RobotsCache | None = None,
        drift: DriftRecorder | None = None,
        leases: LeaseKeeper | None = None,
        push: PushHook | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.push = push
        self.leases = leases
        self.robots = robots
        self.drift = drift
        self.store = store
        self.producer = producer
        self.extractor = extractor
        self.schedule = schedule or SchedulePolicy()
        self.health = health or HealthPolicy()
        self.max_entries = max_entries_per_feed
        self.concurrency = concurrency
        self.clock = clock
        self.rng = rng or random.Random()

    def poll(self, feeds: list[FeedConfig]) -> PollReport:
        """Poll every feed in `feeds` now, due or not, holding no lease (`poll --once`)."""
        states = self.store.load(f.name for f in feeds)
        return self._run(_draining([_Job(f, states.get(f.name), None) for f in feeds]))

    def poll_claimed(self, claimed: list[tuple[FeedConfig, Claim]]) -> PollReport:
        """Poll feeds this runner leased; each final write releases the lease, and is refused
        if the lease was lost meanwhile (see ingest.feeds.feed_leases)."""
        return self.poll_claiming(_draining(claimed))

    def poll_claiming(
        self, claim: Callable[[int], list[tuple[FeedConfig, Claim]]]
    ) -> PollReport:
        """Poll leased feeds, asking `claim(n)` for up to n more whenever the pool runs low,
        until it returns none. Claiming as threads free up (not batch after batch) means a
        feed that takes its whole timeout holds one thread, not a batch's worth of them, and
        a feed's lease starts shortly before it is polled."""
        def jobs(wanted: int) -> list[_Job]:
            claimed = claim(wanted)
            if self.leases is not None:
                for _, held in claimed:
                    self.leases.hold(held)
            return [_Job(f, c.state, c.version) for f, c in claimed]

        return self._run(jobs)

    def _run(self, next_jobs: Callable[[int], list[_Job]]) -> PollReport:
        started = time.monotonic()
        report = PollReport()
        outcomes: list[tuple[int, FeedOutcome]] = []
        in_flight: dict[Future[FeedOutcome], int] = {}
        submitted = 0
        exhausted = False
        # Two pools: feeds wait on their pages, so pages must not queue behind feeds.
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="feed") as feed_pool, \
                ThreadPoolExecutor(self.concurrency, thread_name_prefix="page") as page_pool:
            while True:
                # Refill when fewer jobs than threads remain, to twice the threads: every
                # thread stays busy, and jobs are fetched (claimed) in chunks, not one by one.
                if not exhausted and len(in_flight) <= self.concurrency:
                    jobs = next_jobs(2 * self.concurrency - len(in_flight))
                    exhausted = not jobs
                    for job in jobs:
                        in_flight[feed_pool.submit(self._poll_guarded, job, page_pool)] = \
                            submitted
                        submitted += 1
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                outcomes.extend((in_flight.pop(f), f.result()) for f in done)
        report.outcomes = [outcome for _, outcome in sorted(outcomes, key=lambda o: o[0])]
        report.seconds = time.monotonic() - started
        return report

    def _poll_guarded(self, job: _Job, pages: ThreadPoolExecutor) -> FeedOutcome:
        feed = job.feed
        try:
            with metrics.FEED_POLL_SECONDS.time():
                return self.poll_feed(feed, job.state, pages, version=job.version)
        except Exception as exc:  # a bug in one feed's path must not end the run
            log.exception("feed poll crashed", extra={"feed": feed.name, "url": str(feed.url)})
            metrics.FEED_ERRORS.labels("internal").inc()
            state = self._initial_state(feed, job.state)
            try:
                self._fail(state, state, feed, self.clock(), "internal", repr(exc), None,
                           version=job.version)
            except Exception:  # recording failed too: the lease expires by itself
                log.exception("feed state not recorded", extra={"feed": feed.name})
            return FeedOutcome(feed.name, str(feed.url), "error", "internal", repr(exc))
        finally:
            if self.leases is not None and job.version is not None:
                self.leases.discard(feed.name)  # released already unless the write failed

    def _initial_state(self, feed: FeedConfig, state: FeedState | None) -> FeedState:
        configured = str(feed.url)
        if state is None:
            return FeedState.new(feed.name, configured)
        if state.configured_url != configured:
            log.info("feed URL changed in config, starting afresh",
                     extra={"feed": feed.name, "from": state.configured_url, "to": configured})
            return state.rebased(configured)
        return state

    def poll_feed(
        self,
        feed: FeedConfig,
        state: FeedState | None,
        pages: ThreadPoolExecutor,
        *,
        version: DocVersion | None = None,
    ) -> FeedOutcome:
        before = self._initial_state(feed, state)
        state = before
        now = self.clock()
        url = state.url
        try:
            fetched = self.fetcher.get(
                url, etag=state.etag, last_modified=state.last_modified, expect="feed"
            )
        except FetchError as exc:
            return self._fail(before, state, feed, now, _error_kind(exc), exc.message,
                              exc.retry_after_s, version=version)
        discovered = utcnow()  # wall time, whatever `clock` the schedule runs on

        if fetched.permanent_redirect:
            state = state.model_copy(update={"url": fetched.permanent_redirect})
        header_floor = requested_floor(cache_control=fetched.headers.get("cache-control"))
        if fetched.not_modified:
            return self._unchanged(before, state, feed, now, "not_modified", header_floor,
                                   version)
        body_hash = hashlib.sha256(fetched.body).hexdigest()
        if body_hash == state.body_hash:
            return self._unchanged(before, state, feed, now, "unchanged", header_floor, version)
        try:
            parsed = parse_feed(fetched.body, url=fetched.url, headers=fetched.headers)
        except FeedParseError as exc:
            return self._fail(before, state, feed, now, "parse_error", str(exc), None,
                              version=version)
        if parsed.bozo:
            log.warning("feed is malformed, entries recovered",
                        extra={"feed": feed.name, "url": url, "reason": parsed.bozo_reason,
                               "entries": len(parsed.entries)})

        outcome = self._ingest_entries(feed, url, parsed.entries, pages, now, discovered)
        deferred = outcome.deferred
        if outcome.produce_failed:
            # Keep the old validators: the next run must see these entries again.
            return self._fail(before, state, feed, now, "produce_failed",
                              f"{outcome.produce_failed} articles not acknowledged", None,
                              outcome, version=version)
        if self.push is not None:
            self.push.after_poll(feed, fetched, parsed, outcome, now)
        stats = publishing_stats((e.published for e in parsed.entries), now)
        floor = _higher_floor(
            requested_floor(ttl_minutes=parsed.ttl_minutes, update_period=parsed.update_period,
                            update_frequency=parsed.update_frequency),
            header_floor,
        )
        # With a backlog the validators are forgotten: the same body must be parsed again.
        state = state.model_copy(update={
            "etag": None if deferred else fetched.headers.get("etag"),
            "last_modified": None if deferred else fetched.headers.get("last-modified"),
            "body_hash": None if deferred else body_hash,
            "backlog": deferred,
            "entries_deferred": state.entries_deferred + deferred,
            "newest_entry_at": max((d for d in (stats.newest_entry_at, state.newest_entry_at)
                                    if d is not None), default=None),
            "publish_gap_s": stats.gap_s if stats.gap_s is not None else state.publish_gap_s,
            "floor_s": floor.seconds if floor else None,
            "floor_source": floor.source if floor else None,
        })
        interval = self._push_interval(feed.name, next_interval(
            self.schedule, self._stats_of(state), now, floor))
        if deferred:  # drain soon: at the shortest interval the feed allows, pushed or not
            interval = min(interval, max(self.schedule.min_interval_s,
                                         int(floor.seconds) if floor else 0))
        self._save(before, record_success(state, now=now, interval_s=interval,
                                          entries=outcome.entries, produced=outcome.produced),
                   version)
        metrics.FEEDS_POLLED.labels("ok").inc()
        log.info("feed polled", extra={"feed": feed.name, "url": url, "entries": outcome.entries,
                                        "new": outcome.new_entries, "produced": outcome.produced,
                                        "deferred": deferred, "interval_s": interval})
        return outcome

    def _ingest_entries(
        self, feed: FeedConfig, url: str, entries_in_feed: list[FeedEntry],
        pages: ThreadPoolExecutor, now: datetime, discovered: datetime,
    ) -> FeedOutcome:
        """What a feed body's entries become, whoever brought the body (a poll or a WebSub
        delivery): unseen entries only (at most `max_entries`, newest first; the outcome
        counts the others as deferred), their pages fetched and extracted, each article
        produced as soon as it is extracted, and each marked seen once Kafka acknowledged
        it. So a pushed article and a polled one are the same document, produced once.
        `discovered`: when the body arrived."""
        entries = _unique_entries(entries_in_feed)
        already = self.store.seen(article_id(e.link) for e in entries)
        chosen = select_entries(entries, already, self.max_entries,
                                key=lambda e: article_id(e.link))
        new, deferred = chosen.take, len(chosen.deferred)
        metrics.ENTRIES_SEEN.labels("new").inc(len(new))
        metrics.ENTRIES_SEEN.labels("seen").inc(len(entries) - len(new) - deferred)
        metrics.ENTRIES_SEEN.labels("deferred").inc(deferred)
        if deferred:
            log.info("more new entries than one poll takes: the oldest wait for the next polls",
                     extra={"feed": feed.name, "url": url, "taken": len(new),
                            "deferred": deferred, "bound": self.max_entries})

        # Each page thread produces its article as soon as it is extracted; only the acks are
        # awaited together, since entries are marked seen once Kafka has them all.
        sendings = [pages.submit(self._produce_entry, feed, e, now, discovered) for e in new]
        sent = [future.result() for future in sendings]
        articles = [s.article for s in sent]
        outcome = FeedOutcome(feed.name, url, "ok", entries=len(entries), new_entries=len(new),
                              deferred=deferred)
        outcome.from_feed_entry = sum(1 for a in articles if a.extraction.source == "feed_entry")
        produced = self.producer.collect(sent)
        outcome.produced = len(produced.acked)
        outcome.produce_failed = len(produced.failed)
        metrics.ARTICLES_PRODUCED.inc(len(produced.acked))
        metrics.PRODUCE_ERRORS.inc(len(produced.failed))
        acked = set(produced.acked)
        for article in articles:
            if article.id in acked:
                freshness_metrics.observe_produced(article.timings)
        self.store.mark_seen(
            ((a.id, feed.name, a.url) for a in articles if a.id in acked), when=now
        )
        for article_id_, error in produced.failed.items():
            log.error("article not acknowledged by Kafka",
                      extra={"feed": feed.name, "article_id": article_id_, "error": error})
        return outcome

    def ingest_pushed(
        self, feed: FeedConfig, body: bytes, *, topic: str, headers: dict[str, str],
        pages: ThreadPoolExecutor,
    ) -> FeedOutcome:
        """A feed body a WebSub hub delivered for `feed`: parsed and ingested exactly as a
        polled body. The feed's poll state (validators, interval, health) is the poll's own
        and stays untouched; the caller records the delivery with the subscription."""
        now = self.clock()
        discovered = utcnow()
        try:
            parsed = parse_feed(body, url=topic, headers=headers)
        except FeedParseError as exc:
            return FeedOutcome(feed.name, topic, "error", "parse_error", str(exc))
        outcome = self._ingest_entries(feed, topic, parsed.entries, pages, now, discovered)
        if outcome.produce_failed:
            outcome.result, outcome.error_kind = "error", "produce_failed"
            outcome.error = f"{outcome.produce_failed} articles not acknowledged"
        return outcome

    def _push_interval(self, feed_name: str, interval_s: int) -> int:
        return interval_s if self.push is None else self.push.interval(feed_name, interval_s)

    @staticmethod
    def _stats_of(state: FeedState) -> PublishingStats:
        return PublishingStats(state.newest_entry_at, state.publish_gap_s)

    def _unchanged(
        self, before: FeedState, state: FeedState, feed: FeedConfig, now: datetime,
        result: str, header_floor: Floor | None, version: DocVersion | None,
    ) -> FeedOutcome:
        """304 or the same body again: nothing to parse; the silence still moves the interval."""
        metrics.FEEDS_POLLED.labels(result).inc()
        floor = _stored_floor(state)
        if header_floor is not None:
            floor = header_floor if floor is None or floor.source == header_floor.source \
                else _higher_floor(floor, header_floor)
            state = state.model_copy(update={"floor_s": floor.seconds if floor else None,
                                             "floor_source": floor.source if floor else None})
        interval = self._push_interval(feed.name, next_interval(
            self.schedule, self._stats_of(state), now, floor))
        self._save(before, record_not_modified(state, now=now, interval_s=interval,
                                               outcome=result), version)
        return FeedOutcome(feed.name, state.url, result)

    def _save(self, before: FeedState, after: FeedState, version: DocVersion | None) -> None:
        """Write the outcome (releasing this runner's lease) and log any change of status or
        URL with its reason: a feed never changes state silently."""
        if version is not None:
            after = after.without_lease()
        reason = describe_change(before, after)
        if reason is not None:
            level = logging.INFO if after.status == "active" else logging.WARNING
            log.log(level, "feed state changed: %s", reason, extra={
                "feed": after.name, "url": after.url, "from_status": before.status,
                "to_status": after.status, "reason": reason})
        try:
            if version is not None and self.leases is not None:
                version = self.leases.release(after.name, version)
            self.store.save(after, version=version)
        except StaleVersion:
            log.warning("feed lease lost before the outcome was written; the state another "
                        "runner wrote is kept", extra={"feed": after.name})

    def _fail(
        self, before: FeedState, state: FeedState, feed: FeedConfig, now: datetime, kind: str,
        message: str, retry_after_s: float | None, outcome: FeedOutcome | None = None,
        *, version: DocVersion | None = None,
    ) -> FeedOutcome:
        metrics.FEEDS_POLLED.labels("error").inc()
        metrics.FEED_ERRORS.labels(kind).inc()
        new_state = record_failure(
            state, now=now, kind=kind, message=message,
            interval_s=state.interval_s or self.schedule.default_interval_s,
            retry_after_s=retry_after_s, rng=self.rng, policy=self.health,
        )
        self._save(before, new_state, version)
        log.warning("feed poll failed", extra={"feed": feed.name, "url": state.url,
                                                "kind": kind, "error": message,
                                                "status": new_state.status,
                                                "failures": new_state.consecutive_failures})
        if outcome is None:
            outcome = FeedOutcome(feed.name, state.url, "error")
        outcome.result, outcome.error_kind, outcome.error = "error", kind, message
        return outcome

    def _produce_entry(
        self, feed: FeedConfig, entry: FeedEntry, now: datetime, discovered: datetime
    ) -> Sending:
        """In a page thread: fetch, extract, build and send one article at once."""
        page, extracted, error, fetched_at = self._fetch_and_extract(feed, entry)
        timings = Timings(discovered=discovered, fetched=fetched_at, extracted=utcnow())
        return self.producer.send(self._article(feed, entry, (page, extracted, error), now,
                                                timings))

    def _fetch_and_extract(
        self, feed: FeedConfig, entry: FeedEntry
    ) -> tuple[FetchResult | None, Extracted | None, str | None, datetime | None]:
        """The page, what extraction made of it, why not, and when the page was read."""
        if self.robots is not None:
            verdict = self.robots.verdict(entry.link)
            if not verdict.allowed:
                metrics.PAGES_FETCHED.labels("robots_disallowed").inc()
                log.info("page not fetched, using feed entry",
                         extra={"feed": feed.name, "url": entry.link, "kind": "robots",
                                "error": verdict.reason})
                return None, None, f"robots: {verdict.reason}", None
        try:
            page = self.fetcher.get(entry.link, expect="html")
        except FetchError as exc:
            metrics.PAGES_FETCHED.labels(_error_kind(exc)).inc()
            log.info("page not fetched, using feed entry",
                     extra={"feed": feed.name, "url": entry.link, "kind": exc.kind,
                            "error": str(exc)})
            return None, None, str(exc), None
        fetched_at = utcnow()
        metrics.PAGES_FETCHED.labels("ok").inc()
        future: Future[Extracted | ExtractionFailed] = self.extractor.submit(page.url, page.body)
        try:
            result = future.result()
        except Exception as exc:  # the pool itself broke: report the page, keep going
            return page, None, f"extraction crashed: {exc!r}", fetched_at
        if isinstance(result, ExtractionFailed):
            log.info("extraction failed, using feed entry",
                     extra={"feed": feed.name, "url": page.url, "error": str(result)})
            self._observe_drift(page.url, None)
            return page, None, f"extraction failed: {result}", fetched_at
        metrics.EXTRACT_SECONDS.observe(result.duration_ms / 1000)
        self._observe_drift(page.url, len(result.text))
        return page, result, None, fetched_at

    def _observe_drift(self, url: str, text_chars: int | None) -> None:
        if self.drift is not None:
            self.drift.observe(source_domain(url), text_chars)

    def _article(
        self, feed: FeedConfig,
        entry: FeedEntry,
        fetched: tuple[FetchResult | None, Extracted | None, str | None],
        now: datetime,
        timings: Timings | None = None,
    ) -> Article:
        page, extracted, error = fetched
        article = build_article(
            feed_name=feed.name, feed_url=str(feed.url), entry=entry,
            page_url=page.url if page else None, extracted=extracted, error=error,
            fetched=now, language_hint=feed.language, timings=timings,
        )
        metrics.ARTICLES_EXTRACTED.labels(article.extraction.source).inc()
        return article


def _draining(items: list[T]) -> Callable[[int], list[T]]:
    """A `next_jobs` over a fixed list: up to n items per call, then empty lists."""
    queue = list(items)

    def take(count: int) -> list[T]:
        taken, queue[:] = queue[:count], queue[count:]
        return taken
    return take


def _unique_entries(entries: list[FeedEntry]) -> list[FeedEntry]:
    """Feeds repeat items (illegally nested, updated twice): one entry per article id."""
    seen: dict[str, FeedEntry] = {}
    for entry in entries:
        seen.setdefault(article_id(entry.link), entry)
    return list(seen.values())
