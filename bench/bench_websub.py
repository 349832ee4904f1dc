"""WebSub: a hub's delivery until the article is searchable, and until its alert reaches a
local webhook, on a private embedded stack.

Set up, untimed: a fixture site serving real pages of the trafilatura evaluation corpus; the
WebSub callback as `newswatch serve` runs it (callback server, delivery workers, a poller with
one extraction process); one real `newswatch worker` process whose alert rule fires on every
delivered story and sends it to a webhook receiver in this process; a subscription on record
as verified (the handshake itself is tested in tests/test_websub_integration.py, not timed).
One delivery is made and awaited first, so the worker has joined its group and every
connection is warm.

Measured: DELIVERIES deliveries, GAP_S apart, each what a hub sends when the publisher adds a
story: the whole feed (the new item first, the earlier ones still listed, so seen-entries
dedup does its work), signed with the subscription's secret. For each, from just before the
hub's POST until (a) a search for the article's id finds it, (b) the webhook received its
alert; both sampled every POLL_S. p50 and p95 over the deliveries.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from elasticsearch import Elasticsearch

from bench.framework import BenchContext, Row, at_most, info, private_stack, run_settings
from enrich.alerts.webhook_receiver import WebhookReceiver
from infra.embedded_stack import StackEndpoints
from ingest.common.es_client import make_es
from ingest.common.settings import Settings
from ingest.extract.extraction_eval import load_eval_pages, read_page_html
from ingest.feeds.feeds_config import FeedConfig
from ingest.fetch.http_fetch import FetchPolicy
from ingest.message.canonical_url import article_id
from ingest.poll.poll_run import open_poller, prepare_ingest
from ingest.websub.websub_callback import CallbackServer, callback_path
from ingest.websub.websub_hub_client import HubClient
from ingest.websub.websub_policy import WebSubPolicy
from ingest.websub.websub_service import WebSubService
from ingest.websub.websub_signature import sign
from ingest.websub.websub_state import Subscription, SubscriptionStore

DELIVERIES = 20
GAP_S = 1.5
POLL_S = 0.05
FEED_ITEMS = 10  # items in each delivered body
FEED = "pushed"
SECRET = "bench-secret"
TOKEN = "bench-token"


def _pages(ctx: BenchContext, count: int) -> list[bytes]:
    corpus = ctx.corpora / "pages" / "trafilatura-eval"
    pages = load_eval_pages(corpus)
    step = max(1, len(pages) // count)
    return [read_page_html(corpus, p) for p in pages[::step][:count]]


@contextmanager
def _site(pages: list[bytes]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            name = self.path.strip("/")
            if not name.startswith("p/"):
                self.send_error(404)  # robots.txt: none, everything allowed
                return
            body = pages[int(name[2:].split(".")[0])]
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def _config(ctx: BenchContext, webhook: str) -> Path:
    config = ctx.scratch / "config"
    shutil.copytree(ctx.repo / "config", config, dirs_exist_ok=True)
    (config / "alerts.yaml").write_text(
        "channels:\n"
        f"  - {{name: bench-hook, type: webhook, url: \"{webhook}\"}}\n"
        "rules:\n"
        "  - {name: bench-idlib, any: [Idlib], channels: [bench-hook]}\n", encoding="utf-8")
    return config


def _feed(base: str, newest: int) -> bytes:
    items = "".join(
        f"<item><title>Idlib report {n}</title><link>{base}/p/{n}.html</link></item>"
        for n in range(newest, max(-1, newest - FEED_ITEMS), -1))
    return (f"<rss version='2.0'><channel><title>pushed</title>{items}</channel></rss>"
            ).encode()


def _p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def rows(ctx: BenchContext) -> list[Row]:
    with private_stack(ctx) as endpoints:
        return _measure(ctx, endpoints)


def _measure(ctx: BenchContext, endpoints: StackEndpoints) -> list[Row]:
    receiver = WebhookReceiver(None).start()
    pages = _pages(ctx, DELIVERIES + 1)
    settings = run_settings(endpoints, ctx, f"w{uuid.uuid4().hex[:8]}",
                            _config(ctx, receiver.url()))
    prepare_ingest(settings)
    es = make_es(settings)
    searchable: list[float] = []
    alerted: list[float] = []
    worker: subprocess.Popen[bytes] | None = None
    try:
        with _site(pages) as base, open_poller(
                settings.model_copy(update={"extract_processes": 1}), es) as poller, \
                HubClient(FetchPolicy.from_settings(settings)) as hubs:
            topic = f"{base}/feed.xml"
            feeds = {FEED: FeedConfig(name=FEED, url=topic)}  # type: ignore[arg-type]
            store = SubscriptionStore.from_settings(es, settings)
            service = WebSubService(store=store, policy=WebSubPolicy.from_settings(settings),
                                    hubs=hubs, poller=poller, feeds=lambda: feeds,
                                    callback_base=None).start_deliveries()
            server = CallbackServer(service, bind="127.0.0.1", port=0,
                                    max_body_bytes=settings.max_body_bytes).start()
            callback = f"http://127.0.0.1:{server.port}{callback_path(FEED, TOKEN)}"
            store.save(Subscription(feed=FEED, hub="http://hub.invalid/", topic=topic,
                                    discovery_source="feed", callback_token=TOKEN,
                                    secret=SECRET, status="active"))
            worker = subprocess.Popen([sys.executable, "-m", "flows.cli", "worker"],
                                      env=dict(os.environ))
            try:
                with httpx.Client(timeout=30) as hub:
                    for n in range(DELIVERIES + 1):
                        times = _deliver(hub, callback, base, n, es, settings, receiver)
                        if n > 0:  # delivery 0 warms up (the worker joins its group)
                            searchable.append(times[0])
                            alerted.append(times[1])
                        time.sleep(GAP_S)
            finally:
                server.stop()
                service.stop()
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
        receiver.stop()
        es.close()
    return [
        info("websub: hub delivery to searchable, p50", "s", _p(searchable, 50)),
        at_most("websub: hub delivery to searchable, p95", "s", 3.0, _p(searchable, 95)),
        info("websub: hub delivery to alert at a local webhook, p50", "s", _p(alerted, 50)),
        at_most("websub: hub delivery to alert at a local webhook, p95", "s", 4.0,
                _p(alerted, 95)),
    ]


def _deliver(hub: httpx.Client, callback: str, base: str, n: int, es: Elasticsearch,
             settings: Settings, receiver: WebhookReceiver) -> tuple[float, float]:
    """One signed delivery; seconds until searchable and until alerted."""
    body = _feed(base, n)
    wanted = article_id(f"{base}/p/{n}.html")
    title = f"Idlib report {n}"
    started = time.perf_counter()
    answer = hub.post(callback, content=body, headers={
        "Content-Type": "application/rss+xml", "X-Hub-Signature": sign(body, SECRET)})
    if answer.status_code != 202:
        raise RuntimeError(f"delivery {n} answered {answer.status_code}")
    found_s = alert_s = None
    deadline = started + (120 if n == 0 else 60)
    while (found_s is None or alert_s is None) and time.perf_counter() < deadline:
        if found_s is None:
            hits = es.search(index=settings.articles_alias,
                             query={"ids": {"values": [wanted]}}, size=0,
                             ignore_unavailable=True)  # the worker creates it
            if hits["hits"]["total"]["value"] > 0:
                found_s = time.perf_counter() - started
        if alert_s is None and any(title.encode() in r.body for r in list(receiver.received)):
            alert_s = time.perf_counter() - started
        time.sleep(POLL_S)
    if found_s is None or alert_s is None:
        raise RuntimeError(f"delivery {n}: searchable after {found_s}, alerted after {alert_s}")
    return found_s, alert_s
