"""WebSub discovery (W3C WebSub §4): Link headers first, then the feed's own links; the
topic is the rel=self URL."""

from __future__ import annotations

from ingest.feeds.feed_parse import parse_feed
from ingest.websub.websub_discovery import Discovery, discover, link_header_relations

RSS_WITH_HUB = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title>
<link>https://news.example/</link>
<atom:link rel="hub" href="https://pubsubhubbub.example/"/>
<atom:link rel="self" href="https://news.example/feed/" type="application/rss+xml"/>
<item><title>a</title><link>https://news.example/a</link></item></channel></rss>"""

RSS_PLAIN_LINK_HUB = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<link>https://news.example/</link><link rel="hub" href="/hub"/>
<item><title>a</title><link>https://news.example/a</link></item></channel></rss>"""

ATOM_WITH_HUB = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<link rel="hub" href="http://hub-one.example/"/><link rel="hub" href="https://hub-two.example/"/>
<link rel="self" href="https://blog.example/atom.xml"/><link href="https://blog.example/"/>
<entry><title>a</title><link href="https://blog.example/a"/><id>a</id>
<updated>2024-01-01T00:00:00Z</updated></entry></feed>"""


def _discover(body: bytes, url: str, headers: dict[str, str] | None = None) -> Discovery | None:
    parsed = parse_feed(body, url=url)
    return discover(url=url, headers=headers or {}, body_hubs=parsed.hub_urls,
                    body_self=parsed.self_url)


def test_atom_link_in_rss_names_hub_and_self_topic() -> None:
    found = _discover(RSS_WITH_HUB, "https://news.example/feed?utm=x")
    assert found is not None
    assert found.hub == "https://pubsubhubbub.example/"
    assert found.topic == "https://news.example/feed/"  # rel=self, not the URL fetched
    assert found.source == "feed"


def test_plain_link_element_in_rss_and_relative_hub() -> None:
    found = _discover(RSS_PLAIN_LINK_HUB, "https://news.example/rss")
    assert found is not None
    assert found.hub == "https://news.example/hub"
    assert found.topic == "https://news.example/rss"  # no self link: the URL fetched


def test_atom_feed_hubs_https_first() -> None:
    found = _discover(ATOM_WITH_HUB, "https://blog.example/atom.xml")
    assert found is not None
    assert found.hubs == ("https://hub-two.example/", "http://hub-one.example/")
    assert found.topic == "https://blog.example/atom.xml"


def test_link_headers_win_over_the_body() -> None:
    headers = {"link": '<https://header-hub.example/>; rel="hub", '
                       '</feed.xml>; rel="self"'}
    found = _discover(RSS_WITH_HUB, "https://news.example/feed/", headers)
    assert found is not None
    assert found.source == "link_header"
    assert found.hubs == ("https://header-hub.example/",)
    assert found.topic == "https://news.example/feed.xml"


def test_a_link_with_several_relations_and_several_headers() -> None:
    relations = link_header_relations(
        '<https://h.example/>; rel="hub", <https://x.example/f>; rel="self alternate"',
        "https://x.example/")
    assert relations["hub"] == ["https://h.example/"]
    assert relations["self"] == relations["alternate"] == ["https://x.example/f"]


def test_non_http_hubs_are_ignored_and_no_hub_is_none() -> None:
    headers = {"link": '<ftp://hub.example/>; rel="hub", <javascript:alert(1)>; rel="hub"'}
    assert discover(url="https://x.example/f", headers=headers, body_hubs=["file:///etc/x"],
                    body_self=None) is None
    plain = b"<rss version='2.0'><channel><title>t</title></channel></rss>"
    assert _discover(plain, "https://x.example/f") is None
