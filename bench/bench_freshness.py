"""Freshness: seconds from discovery to searchable, and the whole pipeline's throughput against
extraction alone, on real pages, against a private embedded stack.

Rows:
* steady 20 articles/s and 2 articles/s: a local site publishes real pages (trafilatura-eval
  corpus) at a steady rate for a minute; its feed (newest 100 items) is polled once a second
  by one long-lived poller while one `newswatch worker` process runs. Discovery -> searchable
  per article, p50 and p95 (target p95 <= 2 s at both rates: batching must not make quiet
  hours slow).
* burst: one poll of a feed with 60 new entries while a worker runs: p95 (target <= 2.5 s).
* whole pipeline vs extraction alone: the same pages behind feeds of 50, polled, extracted,
  produced and indexed by a running worker (feeds -> searchable, articles/s), against
  `ExtractorPool(2)` extracting those pages in this process (pages/s): ratio, target >= 0.6x.

"Searchable" is each document's `timings.indexed`: the worker stamps it as it builds the bulk
request, so the bulk's own round trip (a few ms to tens of ms) and the index refresh (up to
`refresh_interval`, 1 s, before a search sees it) come on top. "Discovered" is when the poll
received the feed body. Publication -> discovery is the poll interval's business (1 s here)
and is not in these rows.

Each scenario runs on a server emptied of the previous one's topics and indices (see
bench_pipeline: noida-db's Kafka gets slower the more it keeps), with a fresh worker that has
already indexed one warm-up article, so worker start-up is not counted.
"""

from __future__ import annotations

import email.utils
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from elasticsearch import helpers

from bench.bench_pipeline import _CommitWatch, _forget, _new_run, _pages
from bench.framework import (
    BenchContext,
    Row,
    at_least,
    at_most,
    info,
    private_stack,
    run_settings,
)
from infra.embedded_stack import StackEndpoints
from ingest.common.es_client import make_es
from ingest.common.settings import Settings
from ingest.extract.extraction import ExtractorPool
from ingest.feeds.feeds_config import FeedConfig
from ingest.message.article import Timings, utcnow
from ingest.message.timing_hops import SpanStats, seconds_between, summarize
from ingest.poll.poll_run import _poller, prepare_ingest
from ingest.poll.poller import Poller

STEADY_S = 60.0
POLL_EVERY_S = 1.0
FEED_WINDOW = 300  # items the live feed lists, newest first (15 s of the 20/s stream)
BURST = 60
THROUGHPUT_PAGES = 200
FEED_SIZE = 50
ROUNDS = 2  # extraction alone and the pipeline alternate (A B B A); each keeps its best


@dataclass
class _Site:
    """Real pages under /p/<group>/<n>.html; a live feed publishing at a steady rate; static
    feeds listing given page numbers."""

    pages: list[tuple[str, bytes]]
    base: str = ""
    live: tuple[str, float, float, int] | None = None  # group, start (epoch), rate, count
    static: dict[str, tuple[str, list[int]]] = field(default_factory=dict)

    def page(self, group: str, n: int) -> str:
        return f"{self.base}/p/{group}/{n}.html"

    def publish(self, group: str, rate: float, count: int) -> None:
        self.live = (group, time.time(), rate, count)

    def live_done(self) -> bool:
        assert self.live is not None
        _, start, rate, count = self.live
        return time.time() >= start + (count - 1) / rate

    def _live_feed(self) -> bytes:
        assert self.live is not None
        group, start, rate, count = self.live
        published = min(count, int((time.time() - start) * rate) + 1)
        items = []
        for n in range(published - 1, max(-1, published - 1 - FEED_WINDOW), -1):
            when = datetime.fromtimestamp(start + n / rate, tz=UTC)
            items.append(f"<item><title>{group} {n}</title><link>{self.page(group, n)}</link>"
                         f"<pubDate>{email.utils.format_datetime(when, usegmt=True)}</pubDate>"
                         "</item>")
        return _rss(group, items)

    def _static_feed(self, name: str) -> bytes:
        group, numbers = self.static[name]
        return _rss(name, [f"<item><title>{group} {n}</title><link>{self.page(group, n)}</link>"
                           "</item>" for n in numbers])

    def body(self, path: str) -> tuple[bytes, str] | None:
        parts = path.strip("/").split("/")
        if parts[:1] == ["p"] and len(parts) == 3:
            number = int(parts[2].split(".")[0])
            return self.pages[number % len(self.pages)][1], "text/html"
        if parts == ["live.xml"] and self.live is not None:
            return self._live_feed(), "application/rss+xml"
        if parts[:1] == ["feed"] and len(parts) == 2 and parts[1][:-4] in self.static:
            return self._static_feed(parts[1][:-4]), "application/rss+xml"
        return None


def _rss(title: str, items: list[str]) -> bytes:
    return (f"<rss version='2.0'><channel><title>{title}</title>{''.join(items)}"
            "</channel></rss>").encode()


@contextmanager
def _serve(site: _Site) -> Iterator[_Site]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            found = site.body(self.path)
            if found is None:  # robots.txt and anything else: not here
                self.send_error(404)
                return
            body, kind = found
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    ThreadingHTTPServer.request_queue_size = 128
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    site.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield site
    finally:
        httpd.shutdown()


@dataclass
class _Scenario:
    """One run: its settings, a long-lived poller and a running worker that already indexed
    the warm-up article."""

    settings: Settings
    poller: Poller
    watch: _CommitWatch
    expected: int = 1  # records the group must have committed (the warm-up one so far)

    def wait_indexed(self, more: int, timeout_s: float = 180.0) -> None:
        self.expected += more
        deadline = time.monotonic() + timeout_s
        while self.watch.committed() < self.expected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.watch.committed()} of {self.expected} "
                                   "records committed")
            time.sleep(0.1)


@contextmanager
def _scenario(endpoints: StackEndpoints, ctx: BenchContext, site: _Site,
              name: str) -> Iterator[_Scenario]:
    run = _new_run()
    settings = run_settings(endpoints, ctx, run)
    prepare_ingest(settings)
    worker = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "worker", "--until-idle", "600"],
        env={**os.environ, "NEWSWATCH_WORKER_INSTANCE": f"bench-{run}"})
    es = make_es(settings)
    watch = _CommitWatch(settings)
    try:
        with _poller(settings, es, utcnow) as poller:
            scenario = _Scenario(settings, poller, watch)
            site.static[f"warm-{name}"] = (f"warm-{name}", [0])
            poller.poll([_feed(site, f"warm-{name}")])
            scenario.wait_indexed(0)
            yield scenario
    finally:
        watch.close()
        es.close()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=120)
        _forget(settings, run)


def _feed(site: _Site, name: str) -> FeedConfig:
    return FeedConfig(name=name, url=f"{site.base}/feed/{name}.xml")  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Latency:
    total: SpanStats  # discovered -> indexed
    poll_side: SpanStats  # discovered -> produced: page fetch, extraction queue, extraction
    stream_side: SpanStats  # produced -> indexed: Kafka, the worker's batch, enrichment

    @classmethod
    def of(cls, stamps: list[Timings]) -> _Latency:
        def span(start: str, end: str) -> SpanStats:
            values = (seconds_between(getattr(t, start), getattr(t, end)) for t in stamps)
            return summarize(v for v in values if v is not None)
        return cls(span("discovered", "indexed"), span("discovered", "produced"),
                   span("produced", "indexed"))


def _latencies(settings: Settings, group: str, expected: int) -> _Latency:
    """The timings of the stored articles whose title starts with `group`."""
    es = make_es(settings)
    try:
        es.indices.refresh(index=settings.articles_alias)
        stamps = [
            Timings.model_validate(hit["_source"].get("timings") or {})
            for hit in helpers.scan(es, index=settings.articles_alias,
                                    query={"_source": ["title", "timings"]})
            if str(hit["_source"].get("title", "")).startswith(f"{group} ")
        ]
    finally:
        es.close()
    latency = _Latency.of(stamps)
    if latency.total.count != expected:
        raise RuntimeError(f"{group}: {latency.total.count} of {expected} articles stored "
                           "with timings")
    return latency


def _steady(endpoints: StackEndpoints, ctx: BenchContext, site: _Site,
            rate: float) -> tuple[_Latency, int]:
    """Latencies of what the polls produced, and how many published items they missed (an
    item falls off the feed's window when polls fall that far behind: overload)."""
    group = f"live{rate:g}"
    count = int(rate * STEADY_S)
    with _scenario(endpoints, ctx, site, group) as run:
        site.publish(group, rate, count)
        live = FeedConfig(name=group, url=f"{site.base}/live.xml")  # type: ignore[arg-type]
        produced = 0
        while True:
            started = time.monotonic()
            done = site.live_done()  # the last item was out before this poll began
            produced += run.poller.poll([live]).produced
            if done:
                break
            time.sleep(max(0.0, POLL_EVERY_S - (time.monotonic() - started)))
        run.wait_indexed(produced)
        return _latencies(run.settings, group, produced), count - produced


def _burst(endpoints: StackEndpoints, ctx: BenchContext, site: _Site) -> _Latency:
    with _scenario(endpoints, ctx, site, "burst") as run:
        site.static["burst"] = ("burst", list(range(BURST)))
        run.poller.poll([_feed(site, "burst")])
        run.wait_indexed(BURST)
        return _latencies(run.settings, "burst", BURST)


def _pipeline_rate(endpoints: StackEndpoints, ctx: BenchContext, site: _Site,
                   round_no: int) -> float:
    """Feeds -> searchable, articles/s: poll of the feeds until the worker committed all."""
    group = f"tp{round_no}"
    names = []
    for k in range(0, THROUGHPUT_PAGES, FEED_SIZE):
        name = f"{group}-{k // FEED_SIZE}"
        site.static[name] = (group, list(range(k, min(THROUGHPUT_PAGES, k + FEED_SIZE))))
        names.append(name)
    with _scenario(endpoints, ctx, site, group) as run:
        started = time.perf_counter()
        produced = run.poller.poll([_feed(site, n) for n in names]).produced
        run.wait_indexed(produced)
        elapsed = time.perf_counter() - started
    if produced != THROUGHPUT_PAGES:
        raise RuntimeError(f"pipeline produced {produced} of {THROUGHPUT_PAGES}")
    return produced / elapsed


def _sides(label: str, latency: _Latency) -> list[Row]:
    """Where the time went: before the message was produced, and after."""
    return [info(f"{label}: discovery -> produced (fetch, extraction), p95", "s",
                 latency.poll_side.p95),
            info(f"{label}: produced -> searchable (Kafka, worker), p95", "s",
                 latency.stream_side.p95)]


def _extraction_rate(pool: ExtractorPool, pages: list[tuple[str, bytes]]) -> float:
    started = time.perf_counter()
    done = sum(1 for _ in pool.map(pages))
    return done / (time.perf_counter() - started)


def rows(ctx: BenchContext) -> list[Row]:
    with private_stack(ctx) as endpoints:
        return _measure(ctx, endpoints)


def _measure(ctx: BenchContext, endpoints: StackEndpoints) -> list[Row]:
    pages = _pages(ctx, THROUGHPUT_PAGES)
    out: list[Row] = []
    with _serve(_Site(pages)) as site:
        for rate in (20.0, 2.0):
            steady, missed = _steady(endpoints, ctx, site, rate)
            label = f"steady {rate:g} articles/s for {STEADY_S:.0f} s, discovery -> searchable"
            out.append(info(f"{label}, p50", "s", steady.total.p50))
            out.append(at_most(f"{label}, p95", "s", 2.0, steady.total.p95))
            out.extend(_sides(f"steady {rate:g}/s", steady))
            out.append(info(f"steady {rate:g}/s: published items the polls missed (fell off "
                            f"the feed's {FEED_WINDOW})", "articles", missed))
        burst = _burst(endpoints, ctx, site)
        label = f"burst of {BURST} entries in one poll, discovery -> searchable"
        out.append(info(f"{label}, p50", "s", burst.total.p50))
        out.append(at_most(f"{label}, p95", "s", 2.5, burst.total.p95))
        out.extend(_sides("burst", burst))

        pipeline: list[float] = []
        extraction: list[float] = []
        with ExtractorPool(2) as pool:
            _extraction_rate(pool, pages[:20])  # warm: imports in the worker processes
            for round_no in range(ROUNDS):  # A B B A
                order = ("x", "p") if round_no % 2 == 0 else ("p", "x")
                for mode in order:
                    if mode == "x":
                        extraction.append(_extraction_rate(pool, pages))
                    else:
                        pipeline.append(_pipeline_rate(endpoints, ctx, site, round_no))
    best_pipeline, best_extraction = max(pipeline), max(extraction)
    out.append(info(f"whole pipeline, feeds -> searchable, {THROUGHPUT_PAGES} real pages",
                    "articles/s", best_pipeline))
    out.append(info("extraction alone, 2 processes, same pages", "pages/s", best_extraction))
    out.append(at_least("whole pipeline vs two-process extraction alone", "x", 0.6,
                        best_pipeline / best_extraction))
    return out
