"""Poll runs against a local fixture site and the real embedded Kafka + Elasticsearch."""

from __future__ import annotations

import json

from flows.demo_site_server import DemoSite
from ingest.common.es_client import make_es
from ingest.common.settings import Settings
from ingest.feeds.feed_state import FeedStateStore
from ingest.feeds.feeds_config import FeedConfig
from ingest.poll.poll_run import poll_once
from tests.support.http_fixture_server import FixtureServer
from tests.support.kafka_tools import read_all


def test_poll_produces_each_new_entry_once(settings: Settings) -> None:
    site = DemoSite().start()
    try:
        feeds = [FeedConfig(name="demo", url=f"{site.base_url}/feed.xml")]  # type: ignore[arg-type]
        first = poll_once(settings, feeds)
        assert first.summary()["articles_produced"] == 4
        records = read_all(settings.kafka_bootstrap, settings.articles_topic)
        assert len(records) == 4
        messages = [json.loads(r.value) for r in records]
        seed = next(m for m in messages if "syria-mediation" in m["url"])
        assert seed["schema_version"] == 1
        assert seed["id"] == records[[m["id"] for m in messages].index(seed["id"])].key.decode()
        assert "Hmeimim airbase" in seed["text"]
        assert "Most read" not in seed["text"]  # boilerplate removed by extraction
        assert seed["published"].startswith("2019-02-21T09:00:00")
        assert seed["extraction"]["source"] == "page"
        assert seed["canonical_url"].endswith("/world/syria-mediation.html")

        second = poll_once(settings, feeds)
        assert second.summary()["articles_produced"] == 0
        assert second.outcomes[0].result in ("unchanged", "not_modified")
        assert len(read_all(settings.kafka_bootstrap, settings.articles_topic)) == 4
    finally:
        site.stop()


def test_seen_entries_survive_a_changed_feed_body(
    settings: Settings, fixture_server: FixtureServer
) -> None:
    item = "<item><title>{t}</title><link>{base}/p{n}</link></item>"
    page = (
        "<html><body><article><p>"
        + "Body text of the article. " * 20
        + "</p></article></body></html>"
    )
    for n in (1, 2):
        fixture_server.add(f"/p{n}", page)

    def feed(items: list[int]) -> str:
        body = "".join(item.format(t=f"T{n}", base=fixture_server.base_url, n=n) for n in items)
        return f"<rss version='2.0'><channel><title>x</title>{body}</channel></rss>"

    fixture_server.add("/f.xml", feed([1]), "application/rss+xml")
    feeds = [FeedConfig(name="f", url=fixture_server.url("/f.xml"))]  # type: ignore[arg-type]
    assert poll_once(settings, feeds).produced == 1
    fixture_server.add("/f.xml", feed([2, 1]), "application/rss+xml")
    assert poll_once(settings, feeds).produced == 1
    assert fixture_server.hits("/p1") == 1  # a seen entry's page is not fetched again


def test_dead_feeds_fail_visibly_and_others_still_flow(
    settings: Settings, fixture_server: FixtureServer
) -> None:
    page = "<html><body><article><p>" + "Some text. " * 40 + "</p></article></body></html>"
    fixture_server.add("/ok.html", page)
    fixture_server.add(
        "/ok.xml",
        f"<rss version='2.0'><channel><title>ok</title><item><title>A</title>"
        f"<link>{fixture_server.url('/ok.html')}</link></item></channel></rss>",
        "application/rss+xml",
    )
    fixture_server.add("/notfeed", "<html><body>not a feed</body></html>")
    feeds = [
        FeedConfig(name="ok", url=fixture_server.url("/ok.xml")),  # type: ignore[arg-type]
        FeedConfig(name="missing", url=fixture_server.url("/missing.xml")),  # type: ignore[arg-type]
        FeedConfig(name="notfeed", url=fixture_server.url("/notfeed")),  # type: ignore[arg-type]
        FeedConfig(name="deadhost", url="http://127.0.0.1:9/feed"),  # type: ignore[arg-type]
    ]
    report = poll_once(settings, feeds)
    by_name = {o.feed: o for o in report.outcomes}
    assert by_name["ok"].produced == 1
    assert by_name["missing"].error_kind == "http_404"
    # The fetcher sniffs an HTML page where a feed was expected: no parsing is attempted.
    assert by_name["notfeed"].error_kind == "not_a_feed"
    assert by_name["deadhost"].result == "error"
    es = make_es(settings)
    try:
        states = FeedStateStore.from_settings(es, settings).load(["missing", "ok", "deadhost"])
    finally:
        es.close()
    assert states["missing"].status == "backoff"
    assert states["missing"].last_error_kind == "http_404"
    assert states["missing"].consecutive_failures == 1
    assert states["ok"].status == "active" and states["ok"].articles_produced == 1
    assert states["deadhost"].last_error


def test_robots_txt_disallowed_pages_are_not_fetched(
    settings: Settings, fixture_server: FixtureServer
) -> None:
    fixture_server.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
    page = "<html><body><article><p>" + "Body text. " * 40 + "</p></article></body></html>"
    fixture_server.add("/private/a.html", page)
    fixture_server.add("/public/b.html", page)
    items = "".join(
        f"<item><title>{name}</title><link>{fixture_server.url(path)}</link>"
        f"<description>Summary of {name} from the feed.</description></item>"
        for name, path in (("A", "/private/a.html"), ("B", "/public/b.html"))
    )
    fixture_server.add("/r.xml", f"<rss version='2.0'><channel><title>r</title>{items}"
                       "</channel></rss>", "application/rss+xml")
    feeds = [FeedConfig(name="r", url=fixture_server.url("/r.xml"))]  # type: ignore[arg-type]
    assert poll_once(settings, feeds).produced == 2
    assert fixture_server.hits("/private/a.html") == 0
    assert fixture_server.hits("/public/b.html") == 1
    by_title = {json.loads(r.value)["title"]: json.loads(r.value)
                for r in read_all(settings.kafka_bootstrap, settings.articles_topic)}
    assert by_title["A"]["extraction"]["source"] == "feed_entry"
    assert "robots" in by_title["A"]["extraction"]["error"]
    assert by_title["A"]["text"] == "Summary of A from the feed."
    assert by_title["B"]["extraction"]["source"] == "page"
