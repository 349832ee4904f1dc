"""WebSub discovery (W3C WebSub §4), pure: which hub(s) a fetched feed names, and its topic URL.

The spec's order, stopping at the first match: HTTP `Link` headers first (`rel="hub"`, and
`rel="self"` for the topic), then links embedded in the body (`<atom:link rel="hub">` in Atom
and RSS, `<link rel="hub">`; feedparser reports both as the feed's links, see
`ingest.feeds.feed_parse`). The topic is the rel=self URL, which may differ from the URL that was
fetched (the subscription request MUST use it); a feed that names a hub but no self URL is
subscribed under the URL it was fetched from. Relative references resolve against that URL.
Only http(s) hubs are kept, https first (§8.2: favour HTTPS hubs); whether a hub's address may
be reached at all is decided when it is contacted, by the same guarded sockets as every fetch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin, urlsplit

from requests.utils import parse_header_links

Source = Literal["link_header", "feed"]


@dataclass(frozen=True)
class Discovery:
    hubs: tuple[str, ...]  # usable hub URLs, https first
    topic: str
    source: Source

    @property
    def hub(self) -> str:
        """The hub newswatch subscribes at (the spec lets a subscriber pick one or more)."""
        return self.hubs[0]


def _usable(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _resolved(urls: list[str], base: str) -> list[str]:
    out: list[str] = []
    for url in urls:
        try:
            absolute = urljoin(base, url.strip())
        except ValueError:
            continue
        if _usable(absolute) and absolute not in out:
            out.append(absolute)
    return out


def link_header_relations(value: str | None, base: str) -> dict[str, list[str]]:
    """`Link` header(s) (several headers arrive joined by commas) as rel -> absolute URLs,
    a link with several relations (`rel="hub self"`) counted under each."""
    relations: dict[str, list[str]] = {}
    if not value or not value.strip():
        return relations
    for link in parse_header_links(value):
        url = str(link.get("url") or "").strip()
        if not url:
            continue
        for rel in str(link.get("rel") or "").lower().split():
            relations.setdefault(rel, []).append(url)
    return {rel: _resolved(urls, base) for rel, urls in relations.items()}


def _https_first(hubs: list[str]) -> tuple[str, ...]:
    return tuple(sorted(hubs, key=lambda url: urlsplit(url).scheme != "https"))


def discover(
    *, url: str, headers: dict[str, str], body_hubs: list[str], body_self: str | None
) -> Discovery | None:
    """The hubs and topic a fetched feed advertises, or None when it names no usable hub.
    `url` is where the body came from (after redirects); `headers` are lower-cased."""
    header_links = link_header_relations(headers.get("link"), url)
    body_self_urls = _resolved([body_self] if body_self else [], url)
    if header_links.get("hub"):
        self_urls = header_links.get("self") or body_self_urls
        return Discovery(_https_first(header_links["hub"]),
                         self_urls[0] if self_urls else url, "link_header")
    hubs = _resolved(body_hubs, url)
    if hubs:
        self_urls = body_self_urls or header_links.get("self", [])
        return Discovery(_https_first(hubs), self_urls[0] if self_urls else url, "feed")
    return None
