"""Polling at scale: 1,000 local feeds in one run, against a private embedded stack.

The feeds live on HOSTS loopback addresses (127.0.1.1, 127.0.1.2, ...; one small server each),
so per-host politeness applies as it would to a thousand real feeds spread over many sites,
instead of one host throttling everything. The run measured is the steady state, after an
untimed first run that registered every feed, stored its validators and saw its entries:

* 50 % honour `If-None-Match` and answer 304;
* 30 % publish one new item since the last run: 200, parse, one article page fetched,
  extracted in the process pool and produced to Kafka;
* 10 % ignore validators and send the same body again (the body hash saves the parse);
* 10 % are slow: 304 after SLOW_S seconds.

Rows: wall time of `poll_once` over the 1,000 feeds (target <= 30 s on 2 cores, issue 3),
HTTP requests per second during it (feeds and article pages), and the same 1,000 feeds all
due at once and shared by two `poll_due` runners under leases (wall time, informative).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.framework import BenchContext, Row, at_most, info, private_stack, run_settings
from ingest.common.es_client import make_es
from ingest.feeds.feed_state import FeedStateStore
from ingest.feeds.feeds_config import FeedConfig
from ingest.message.article import utcnow
from ingest.message.canonical_url import article_id
from ingest.poll.poll_run import poll_due, poll_once, prepare_ingest
from ingest.poll.poller import PollReport

FEEDS = 1000
HOSTS = 50
ITEMS = 10
SLOW_S = 1.0
PAGE = ("<html><head><title>Bench article {n}</title></head><body><article><h1>Bench article "
        "{n}</h1>" + "<p>A paragraph of plausible article text about the region. </p>" * 12
        + "</article></body></html>")
# Page fetches obey robots.txt: a site without one (or one the server fails to send) would be
# "unreachable" and its pages skipped, so every host serves this permissive one.
ROBOTS = b"User-agent: *\nDisallow: /private/\n"


def _kind(feed: int) -> str:
    return {8: "ignores_validators", 9: "slow"}.get(feed % 10,
                                                   "not_modified" if feed % 10 < 5 else "new")


class FeedSite:
    """HOSTS small servers sharing one state: feed /f/N.xml, page /p/N-G.html."""

    def __init__(self) -> None:
        self.generation = 0
        self.requests = 0
        self.page_requests = 0
        self._lock = threading.Lock()
        self._servers = [self._server(f"127.0.1.{h + 1}") for h in range(HOSTS)]
        self._threads = [threading.Thread(target=s.serve_forever, daemon=True)
                         for s in self._servers]

    def _address(self, feed: int) -> str:
        """Runs of ten feeds share a host, so every host serves every kind of feed."""
        host, port = self._servers[(feed // 10) % HOSTS].server_address[:2]
        return f"http://{host!s}:{port}"

    def feed_url(self, feed: int) -> str:
        return f"{self._address(feed)}/f/{feed}.xml"

    def item_urls(self, feed: int, newest: int) -> list[str]:
        return [f"{self._address(feed)}/p/{feed}-{g}.html"
                for g in range(newest - ITEMS + 1, newest + 1)]

    def _feed_body(self, feed: int) -> tuple[bytes, str]:
        newest = self.generation if _kind(feed) == "new" else 0
        items = "".join(f"<item><title>Item {link}</title><link>{link}</link></item>"
                        for link in self.item_urls(feed, newest))
        body = (f"<rss version='2.0'><channel><title>feed {feed}</title>{items}"
                "</channel></rss>").encode()
        return body, f'"{feed}-{newest}"'

    def _server(self, address: str) -> ThreadingHTTPServer:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                with site._lock:
                    site.requests += 1
                kind, _, name = self.path.strip("/").partition("/")
                if kind == "robots.txt":  # asked once per host; rules apply to every page
                    self._send(200, ROBOTS, "text/plain")
                    return
                if kind == "p":
                    with site._lock:
                        site.page_requests += 1
                    self._send(200, PAGE.format(n=name).encode(), "text/html; charset=utf-8")
                    return
                feed = int(name.split(".")[0])
                body, etag = site._feed_body(feed)
                if _kind(feed) == "slow":
                    time.sleep(SLOW_S)
                if _kind(feed) != "ignores_validators" \
                        and self.headers.get("If-None-Match") == etag:
                    self._send(304, b"", None)
                    return
                extra = {} if _kind(feed) == "ignores_validators" else {"ETag": etag}
                self._send(200, body, "application/rss+xml", extra)

            def _send(self, status: int, body: bytes, content_type: str | None,
                      headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        ThreadingHTTPServer.request_queue_size = 128
        server = ThreadingHTTPServer((address, 0), Handler)
        server.daemon_threads = True
        return server

    def __enter__(self) -> FeedSite:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()


def _describe(report: PollReport) -> str:
    results = Counter(o.result for o in report.outcomes)
    return ", ".join(f"{k} {v}" for k, v in sorted(results.items()))


def rows(ctx: BenchContext) -> list[Row]:
    with private_stack(ctx, "polling-stack") as endpoints, FeedSite() as site:
        settings = run_settings(endpoints, ctx, f"p{uuid.uuid4().hex[:8]}")
        feeds = [FeedConfig(name=f"bench-{i:04}", url=site.feed_url(i))  # type: ignore[arg-type]
                 for i in range(FEEDS)]
        # The first run registers every feed and stores its validators; its entries count as
        # seen already, as in a service that has been running (no 10,000 page fetches here).
        prepare_ingest(settings)
        es = make_es(settings)
        try:
            FeedStateStore.from_settings(es, settings).mark_seen(
                ((article_id(url), f"bench-{i:04}", url)
                 for i in range(FEEDS) for url in site.item_urls(i, 0)), when=utcnow())
        finally:
            es.close()
        warm = poll_once(settings, feeds)
        print(f"   first run: {_describe(warm)}, {warm.seconds:.1f} s", flush=True)

        site.generation += 1
        site.requests = site.page_requests = 0
        started = time.perf_counter()
        steady = poll_once(settings, feeds)
        wall = time.perf_counter() - started
        requests, pages = site.requests, site.page_requests
        print(f"   steady run: {_describe(steady)}, {steady.produced} articles, "
              f"{requests} requests ({pages} article pages), {wall:.1f} s", flush=True)
        expected = {"not_modified": 600, "ok": 300, "unchanged": 100}
        complete = dict(Counter(o.result for o in steady.outcomes)) == expected \
            and steady.produced == 300 and pages == 300

        # every feed due at once (a clock a day ahead), two runners sharing them under leases
        site.generation += 1
        ahead = utcnow() + timedelta(days=1)
        reports: list[PollReport] = []

        def runner(name: str) -> None:
            reports.append(poll_due(settings, name, feeds=feeds, clock=lambda: ahead))

        threads = [threading.Thread(target=runner, args=(f"bench-runner-{i}",)) for i in (1, 2)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        shared = time.perf_counter() - started
        polled = Counter(o.feed for r in reports for o in r.outcomes)
        print(f"   two runners: {[len(r.outcomes) for r in reports]} feeds, "
              f"polled twice: {sum(1 for c in polled.values() if c > 1)}, {shared:.1f} s",
              flush=True)

    wall_row = at_most("polling: 1,000 feeds (50% 304, 30% new item, 10% unchanged, 10% "
                       f"slow {SLOW_S:g} s), one poll_once run", "s", 30, wall)
    if not complete:  # a fast run that skipped work is no pass
        wall_row["pass"] = False
        wall_row["name"] += " [outcomes not as expected]"
    shared_row = info("polling: 1,000 due feeds shared by two poll_due runners under leases",
                      "s", shared)
    if sorted(polled.values()) != [1] * FEEDS:  # a feed skipped or polled twice
        shared_row["pass"] = False
        shared_row["name"] += " [a feed was skipped or polled twice]"
    return [
        wall_row,
        info("polling: HTTP requests during that run (feeds + article pages)", "requests/s",
             requests / wall),
        shared_row,
    ]
