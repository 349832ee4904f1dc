"""robots.txt: fetched once per site through the guarded fetcher, cached, RFC 9309 edge cases."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from ingest.fetch.http_fetch import Fetcher, FetchPolicy
from ingest.fetch.robots import RobotsCache, parse_robots, product_token, robots_url
from tests.support.http_fixture_server import FixtureServer, Route

ROBOTS = """\
User-agent: *
Disallow: /private/

User-agent: newswatch
Disallow: /no-bots/
Allow: /no-bots/open
Crawl-delay: 3
"""


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    policy = FetchPolicy(
        user_agent="newswatch/0.1 (+https://example.org)",
        allow_private_networks=True,
        read_timeout_s=0.3,
        total_timeout_s=1.0,
    )
    with Fetcher(policy) as f:
        yield f


def test_product_token_and_robots_url() -> None:
    assert product_token("newswatch/0.1 (+https://example.org)") == "newswatch"
    assert product_token("") == "*"
    assert (
        robots_url("https://user:pw@Example.org:8443/a/b?c#d")
        == "https://example.org:8443/robots.txt"
    )


def test_longest_match_wins_regardless_of_order() -> None:
    parser = parse_robots("User-agent: *\nDisallow: /\nAllow: /news/\nDisallow: /news/drafts/\n")
    assert parser.can_fetch("http://x.test/news/today", "newswatch")
    assert not parser.can_fetch("http://x.test/news/drafts/1", "newswatch")
    assert not parser.can_fetch("http://x.test/about", "newswatch")


def test_wildcards_and_end_anchors_as_sites_write_them() -> None:
    parser = parse_robots("User-agent: *\nDisallow: /*?print=\nDisallow: /*.pdf$\n")
    assert not parser.can_fetch("http://x.test/world/story-1?print=1", "newswatch")
    assert parser.can_fetch("http://x.test/world/story-1", "newswatch")
    assert not parser.can_fetch("http://x.test/files/report.pdf", "newswatch")
    assert parser.can_fetch("http://x.test/files/report.pdf.html", "newswatch")


def test_rules_for_our_agent_apply(fixture_server: FixtureServer, fetcher: Fetcher) -> None:
    fixture_server.add("/robots.txt", ROBOTS, "text/plain")
    robots = RobotsCache(fetcher)
    assert robots.agent == "newswatch"
    assert not robots.allowed(fixture_server.url("/no-bots/page"))
    assert robots.allowed(fixture_server.url("/no-bots/open/page"))
    assert robots.allowed(fixture_server.url("/private/page"))  # our own group replaces "*"
    assert robots.verdict(fixture_server.url("/no-bots/x")).reason == "disallowed by robots.txt"
    assert robots.crawl_delay_s(fixture_server.url("/")) == 3.0
    assert RobotsCache(fetcher, user_agent="otherbot/2").allowed(fixture_server.url("/no-bots/x"))
    assert not RobotsCache(fetcher, user_agent="otherbot/2").allowed(
        fixture_server.url("/private/x")
    )
    sent = [h for p, h in fixture_server.requests if p == "/robots.txt"]
    assert sent[0]["user-agent"] == "newswatch/0.1 (+https://example.org)"


def test_fetched_once_then_again_after_the_ttl(
    fixture_server: FixtureServer, fetcher: Fetcher
) -> None:
    fixture_server.add("/robots.txt", ROBOTS, "text/plain")
    clock = FakeClock()
    robots = RobotsCache(fetcher, ttl_s=3600, clock=clock)
    for path in ("/a", "/b", "/no-bots/c", "/d"):
        robots.allowed(fixture_server.url(path))
    assert fixture_server.hits("/robots.txt") == 1
    fixture_server.add("/robots.txt", "User-agent: *\nDisallow: /a\n", "text/plain")
    clock.now = 3599
    assert robots.allowed(fixture_server.url("/a"))
    clock.now = 3601
    assert not robots.allowed(fixture_server.url("/a"))
    assert fixture_server.hits("/robots.txt") == 2


def test_missing_robots_allows_everything(fixture_server: FixtureServer, fetcher: Fetcher) -> None:
    for status in (404, 410, 403):
        fixture_server.add("/robots.txt", "no", "text/plain", status=status)
        verdict = RobotsCache(fetcher).verdict(fixture_server.url("/anything"))
        assert verdict.allowed, status
        assert "no rules" in verdict.reason


def test_server_error_disallows_until_the_short_retry(
    fixture_server: FixtureServer, fetcher: Fetcher
) -> None:
    fixture_server.add("/robots.txt", "oops", "text/plain", status=503)
    clock = FakeClock()
    robots = RobotsCache(fetcher, unreachable_ttl_s=600, clock=clock)
    verdict = robots.verdict(fixture_server.url("/article"))
    assert not verdict.allowed
    assert "unreachable" in verdict.reason
    fixture_server.add("/robots.txt", "User-agent: *\nAllow: /\n", "text/plain")
    clock.now = 300
    assert not robots.allowed(fixture_server.url("/article"))
    clock.now = 601
    assert robots.allowed(fixture_server.url("/article"))


def test_timeout_disallows(fixture_server: FixtureServer, fetcher: Fetcher) -> None:
    def stall(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(1.0)

    fixture_server.routes["/robots.txt"] = Route(handler=stall)
    verdict = RobotsCache(fetcher).verdict(fixture_server.url("/article"))
    assert not verdict.allowed
    assert "timeout" in verdict.reason


def test_redirected_robots_is_followed(fixture_server: FixtureServer, fetcher: Fetcher) -> None:
    fixture_server.add(
        "/robots.txt", "", "text/plain", status=301, headers={"Location": "/real-robots.txt"}
    )
    fixture_server.add("/real-robots.txt", "User-agent: *\nDisallow: /x\n", "text/plain")
    robots = RobotsCache(fetcher)
    assert not robots.allowed(fixture_server.url("/x/1"))
    assert robots.allowed(fixture_server.url("/y/1"))


def test_many_threads_one_fetch(fixture_server: FixtureServer, fetcher: Fetcher) -> None:
    def slow_robots(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(0.1)
        body = ROBOTS.encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    fixture_server.routes["/robots.txt"] = Route(handler=slow_robots)
    robots = RobotsCache(fetcher)
    answers: list[bool] = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(robots.allowed(fixture_server.url("/no-bots/1")))
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert answers == [False] * 8
    assert fixture_server.hits("/robots.txt") == 1
