"""robots.txt for article pages: fetched once per site through the same guarded Fetcher, cached,
and read with Protego (Scrapy's parser).

A site's robots.txt is its stated wish about crawlers; news sites often disallow paths (search,
print views, paywalled sections) newswatch must leave alone. RFC 9309 decides the awkward cases:
a 4xx means "no rules" (allow all), while a 5xx, 429 or an unreachable server means "assume
everything is disallowed" until a retry, cached for a shorter time so a recovered site is seen
again soon. Why Protego and not urllib.robotparser: the standard parser applies the first
matching rule in file order and reads `*` and `$` literally, while RFC 9309 and the big crawlers
use the longest match and wildcards — which news sites use for print views and query strings
(`Disallow: /*?print=`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from protego import Protego

from ingest.fetch.http_fetch import Fetcher, FetchError

# RFC 9309 §2.5: parse at least 500 KiB; rules past that may be ignored.
MAX_ROBOTS_BYTES = 500 * 1024
_UNREACHABLE_KINDS = frozenset({"timeout", "connect", "network", "protocol", "dns", "tls"})


@dataclass(frozen=True)
class RobotsVerdict:
    allowed: bool
    reason: str


@dataclass
class _SiteRules:
    parser: Protego | None  # None: a blanket answer, see allow_all
    allow_all: bool
    note: str
    expires_at: float


def product_token(user_agent: str) -> str:
    """The name robots.txt groups are matched on: "newswatch" of "newswatch/0.1 (+https://...)"."""
    return user_agent.split("/")[0].split()[0] if user_agent.strip() else "*"


def robots_url(url: str) -> str:
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.netloc.decode('ascii')}/robots.txt"


def parse_robots(text: str) -> Protego:
    return Protego.parse(text)


class RobotsCache:
    def __init__(
        self,
        fetcher: Fetcher,
        *,
        user_agent: str | None = None,
        ttl_s: float = 24 * 3600,
        unreachable_ttl_s: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetcher = fetcher
        self.agent = product_token(user_agent or fetcher.policy.user_agent)
        self.ttl_s = ttl_s
        self.unreachable_ttl_s = unreachable_ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._sites: dict[str, _SiteRules] = {}
        self._site_locks: dict[str, threading.Lock] = {}

    def verdict(self, url: str) -> RobotsVerdict:
        rules = self._rules_for(robots_url(url))
        if rules.parser is None:
            return RobotsVerdict(rules.allow_all, rules.note)
        if rules.parser.can_fetch(url, self.agent):
            return RobotsVerdict(True, "allowed by robots.txt")
        return RobotsVerdict(False, "disallowed by robots.txt")

    def allowed(self, url: str) -> bool:
        return self.verdict(url).allowed

    def crawl_delay_s(self, url: str) -> float | None:
        """The Crawl-delay the site asks of us, if any (feed it to per-host politeness)."""
        rules = self._rules_for(robots_url(url))
        if rules.parser is None:
            return None
        delay = rules.parser.crawl_delay(self.agent)
        return float(delay) if delay is not None else None

    def _rules_for(self, robots: str) -> _SiteRules:
        with self._lock:
            cached = self._sites.get(robots)
            if cached is not None and cached.expires_at > self._clock():
                return cached
            site_lock = self._site_locks.setdefault(robots, threading.Lock())
        with site_lock:  # one fetch per site even when many threads ask at once
            with self._lock:
                cached = self._sites.get(robots)
                if cached is not None and cached.expires_at > self._clock():
                    return cached
            rules = self._fetch(robots)
            with self._lock:
                self._sites[robots] = rules
            return rules

    def _fetch(self, robots: str) -> _SiteRules:
        now = self._clock()
        try:
            result = self._fetcher.get(robots, accept="text/plain, */*;q=0.5", expect="any")
        except FetchError as exc:
            if exc.kind in _UNREACHABLE_KINDS or (
                exc.kind == "http_status"
                and exc.status is not None
                and (exc.status == 429 or exc.status >= 500)
            ):
                note = f"robots.txt unreachable ({exc.kind}: {exc.message}): assuming disallowed"
                return _SiteRules(None, False, note, now + self.unreachable_ttl_s)
            note = f"no usable robots.txt ({exc.kind}: {exc.message}): no rules"
            return _SiteRules(None, True, note, now + self.ttl_s)
        text = result.body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
        return _SiteRules(parse_robots(text), True, "robots.txt", now + self.ttl_s)
