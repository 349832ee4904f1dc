"""End to end and the enrichment worker, on real pages, against a private embedded stack.

Rows:
* pipeline: a few hundred real pages (trafilatura-eval corpus) served by a local HTTP server
  behind local feeds, polled, extracted, produced, enriched and indexed: articles/s end to end.
* worker vs raw bulk: one worker process enriching and indexing N articles, against
  `helpers.bulk` of the very documents that worker wrote, into a fresh index, same server, same
  run. The ratio is what enrichment, clustering and the commit protocol cost on top of indexing.
* worker memory: peak resident set (VmHWM) of that worker process, gazetteers, taxonomy and
  language model loaded.
* two workers vs one: the same N articles through a group of two worker processes against
  one, each timed from start until the group's lag is zero.
Workers run as real `newswatch worker` processes (extraction and enrichment hold the GIL), so
process start-up (~2 s) is inside every worker timing; N is large enough to dominate it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from elasticsearch import helpers

from bench.framework import BenchContext, Row, at_least, at_most, info
from enrich.consumer_lag import group_lag
from infra.embedded_stack import StackEndpoints, free_port, stack_down, stack_up
from ingest.article import Article, utcnow
from ingest.article_producer import make_producer
from ingest.canonical_url import article_id
from ingest.es_client import make_es
from ingest.extraction import ExtractionFailed, ExtractorPool
from ingest.extraction_eval import load_eval_pages, read_page_html
from ingest.feeds_config import FeedConfig
from ingest.kafka_topics import ensure_topics
from ingest.poll_run import poll_once
from ingest.settings import Settings

PIPELINE_PAGES = 300
WORKER_ARTICLES = 6000
FEED_SIZE = 50


def _pages(ctx: BenchContext, count: int) -> list[tuple[str, bytes]]:
    corpus = ctx.corpora / "pages" / "trafilatura-eval"
    pages = load_eval_pages(corpus)
    step = max(1, len(pages) // count)
    return [(p.url, read_page_html(corpus, p)) for p in pages[::step][:count]]


@contextmanager
def _site(pages: list[tuple[str, bytes]]) -> Iterator[str]:
    """Serve pages as /p/N.html behind feeds /feed/K.xml of FEED_SIZE items each."""
    base: list[str] = []

    def feed(k: int) -> bytes:
        items = "".join(
            f"<item><title>page {n}</title><link>{base[0]}/p/{n}.html</link></item>"
            for n in range(k * FEED_SIZE, min(len(pages), (k + 1) * FEED_SIZE))
        )
        return f"<rss version='2.0'><channel><title>f{k}</title>{items}</channel></rss>".encode()

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            kind, _, name = self.path.strip("/").partition("/")
            if kind not in ("p", "feed"):  # robots.txt and anything else: not here
                self.send_error(404)
                return
            number = int(name.split(".")[0])
            body = pages[number][1] if kind == "p" else feed(number)
            self.send_response(200)
            self.send_header("Content-Type", "text/html" if kind == "p" else "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    ThreadingHTTPServer.request_queue_size = 128
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    base.append(f"http://127.0.0.1:{httpd.server_address[1]}")
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield base[0]
    finally:
        httpd.shutdown()


def _settings(endpoints: StackEndpoints, ctx: BenchContext, **extra: str) -> Settings:
    run = uuid.uuid4().hex[:8]
    env = {
        "NEWSWATCH_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
        "NEWSWATCH_ES_URL": endpoints.es_url,
        "NEWSWATCH_DATA_DIR": str(ctx.scratch / "data"),
        "NEWSWATCH_CONFIG_DIR": str(ctx.repo / "config"),
        "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true",
        "NEWSWATCH_ARTICLES_TOPIC": f"b{run}.articles",
        "NEWSWATCH_ALERTS_TOPIC": f"b{run}.alerts",
        "NEWSWATCH_DLQ_TOPIC": f"b{run}.dlq",
        "NEWSWATCH_ARTICLES_ALIAS": f"b{run}-articles",
        "NEWSWATCH_FEEDS_INDEX": f"b{run}-feeds",
        "NEWSWATCH_CONSUMER_GROUP": f"b{run}",
        "NEWSWATCH_LOG_LEVEL": "WARNING",
        **extra,
    }
    os.environ.update(env)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def _articles(texts: list[tuple[str, str]], count: int) -> list[Article]:
    now = utcnow()
    out = []
    for n in range(count):
        title, text = texts[n % len(texts)]
        url = f"https://bench.example/{n}"
        out.append(Article(id=article_id(url), url=url, canonical_url=url, feed="bench",
                           domain="bench.example", title=title, text=text, fetched=now))
    return out


@dataclass(frozen=True)
class GroupRun:
    total_s: float  # from starting the processes until everything is committed
    steady_rate: float  # articles/s from the group's first commit to its last
    peaks_kb: list[int]  # peak resident set per worker process

    def rate(self, count: int) -> float:
        return count / self.total_s


def _run_workers(settings: Settings, count: int, expected: int) -> GroupRun:
    """Run `count` worker processes until the group has committed `expected` records.

    Start-up (imports, joining the group: ~2 s) is a one-off cost of a long-running service,
    so the steady rate is taken between the first commit the group makes and the last one."""
    env = dict(os.environ)
    started = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, "-m", "flows.cli", "worker", "--until-idle", "2",
                          "--index", str(i)],
                         env={**env, "NEWSWATCH_WORKER_INSTANCE": f"bench-{i}"})
        for i in range(count)
    ]
    peaks = [0] * count
    first: tuple[float, int] | None = None
    elapsed = steady = float("nan")
    try:
        while time.perf_counter() - started < 600:
            for i, proc in enumerate(procs):
                peaks[i] = max(peaks[i], _vm_hwm_kb(proc.pid))
            committed = sum(p.committed for p in group_lag(settings))
            now = time.perf_counter()
            if first is None and committed > 0:
                first = (now, committed)
            if committed >= expected:
                elapsed = now - started
                if first is not None and now > first[0]:
                    steady = (committed - first[1]) / (now - first[0])
                break
            time.sleep(0.2)
    finally:
        for proc in procs:
            proc.wait(timeout=120)
    return GroupRun(elapsed, steady, peaks)


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def rows(ctx: BenchContext) -> list[Row]:
    endpoints = StackEndpoints(ctx.scratch / "stack", "127.0.0.1", free_port(), "127.0.0.1",
                               free_port())
    stack_up(endpoints)
    try:
        return _measure(ctx, endpoints)
    finally:
        stack_down(endpoints)


def _measure(ctx: BenchContext, endpoints: StackEndpoints) -> list[Row]:
    out: list[Row] = []
    pages = _pages(ctx, PIPELINE_PAGES)

    # --- end to end ---------------------------------------------------------------------
    settings = _settings(endpoints, ctx)
    with _site(pages) as base:
        feeds = [FeedConfig(name=f"f{k}", url=f"{base}/feed/{k}.xml")  # type: ignore[arg-type]
                 for k in range((len(pages) + FEED_SIZE - 1) // FEED_SIZE)]
        started = time.perf_counter()
        produced = poll_once(settings, feeds).produced
        poll_s = time.perf_counter() - started
        done_s = _run_workers(settings, 1, produced).total_s
    out.append(info(f"pipeline: poll+extract+produce {produced} real pages", "articles/s",
                    produced / poll_s))
    out.append(info("pipeline: feeds to searchable, end to end (incl. worker start)",
                    "articles/s", produced / (poll_s + done_s)))

    # --- one worker vs raw bulk of the same documents -----------------------------------
    with ExtractorPool(2) as pool:
        extracted = [r for r in pool.map(pages) if not isinstance(r, ExtractionFailed)]
    texts = [(e.title or "untitled", e.text) for e in extracted if len(e.text) > 200]
    articles = _articles(texts, WORKER_ARTICLES)
    settings = _settings(endpoints, ctx)
    ensure_topics(settings)
    _produce(settings, articles)
    one = _run_workers(settings, 1, len(articles))

    es = make_es(settings)
    try:
        es.indices.refresh(index=settings.articles_alias)  # the worker never forces one
        docs = [hit["_source"] for hit in helpers.scan(es, index=settings.articles_alias)]
        if len(docs) != len(articles):
            raise RuntimeError(f"worker stored {len(docs)} of {len(articles)} articles")
        target = f"raw-{uuid.uuid4().hex[:8]}"
        es.indices.create(index=target, settings={"number_of_shards": 1,
                                                  "number_of_replicas": 0})
        started = time.perf_counter()
        helpers.bulk(es, ({"_index": target, "_id": d["id"], "_source": d} for d in docs),
                     chunk_size=200)
        raw_rate = len(docs) / (time.perf_counter() - started)
    finally:
        es.close()
    out.append(info("worker: enrich+index, one process, steady", "articles/s", one.steady_rate))
    out.append(info("worker: enrich+index, one process, start-up included", "articles/s",
                    one.rate(len(articles))))
    out.append(info("raw helpers.bulk of the same documents", "docs/s", raw_rate))
    out.append(at_least("worker vs raw bulk (enrich+index / bulk)", "x", 0.8,
                        one.steady_rate / raw_rate))
    out.append(at_most("worker peak resident memory", "MB", 250, max(one.peaks_kb) / 1024))

    # --- two workers vs one -------------------------------------------------------------
    settings = _settings(endpoints, ctx)
    ensure_topics(settings)
    _produce(settings, articles)
    two = _run_workers(settings, 2, len(articles))
    out.append(at_least("two worker processes vs one, steady", "x", 1.7,
                        two.steady_rate / one.steady_rate))
    out.append(info("two worker processes vs one, start-up included", "x",
                    one.total_s / two.total_s))
    return out


def _produce(settings: Settings, articles: list[Article]) -> None:
    """Through the poller's own producer, so the worker reads batches as the pipeline writes
    them (gzip-compressed: a third of the bytes to fetch and hold)."""
    producer = make_producer(settings, client_id="newswatch-bench")
    try:
        for article in articles:
            producer.send(settings.articles_topic, key=article.id.encode(),
                          value=article.to_bytes())
        producer.flush(120)
    finally:
        producer.close()
