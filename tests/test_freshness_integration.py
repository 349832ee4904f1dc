"""Freshness on the real embedded Kafka + Elasticsearch: every stage stamps `timings`, each
article is produced as soon as it is extracted, and a feed longer than the per-poll bound is
drained over the next polls instead of losing its tail."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from prometheus_client import REGISTRY

from enrich.worker.loop import run_worker
from ingest.common.es_client import make_es
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from ingest.feeds.feed_state import FeedStateStore
from ingest.feeds.feeds_config import FeedConfig
from ingest.message.article import TIMING_KEYS
from ingest.poll.poll_run import poll_once
from tests.support.articles import make_article
from tests.support.http_fixture_server import ARTICLE_PAGE, FixtureServer, delayed
from tests.support.kafka_tools import produce, read_all


def _count(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(f"{metric}_count", labels) or 0.0


def _when(value: str) -> datetime:
    assert value.endswith("Z"), value  # ISO 8601 in UTC
    return datetime.fromisoformat(value)


def _feed(server: FixtureServer, numbers: list[int]) -> str:
    items = "".join(
        f"<item><title>Story {n}</title><link>{server.base_url}/p{n}</link>"
        f"<pubDate>Mon, 05 Jan 2026 {n % 24:02d}:00:00 GMT</pubDate></item>"
        for n in numbers)
    return f"<rss version='2.0'><channel><title>f</title>{items}</channel></rss>"


def _stored(settings: Settings) -> dict[str, dict[str, Any]]:
    es = make_es(settings)
    try:
        es.indices.refresh(index=settings.articles_alias)
        hits = es.search(index=settings.articles_alias, size=1000)["hits"]["hits"]
        return {h["_source"]["url"]: h["_source"] for h in hits}
    finally:
        es.close()


def test_every_stage_stamps_its_time_in_the_message_and_the_document(
    settings: Settings, fixture_server: FixtureServer
) -> None:
    for n in (1, 2):
        fixture_server.add(f"/p{n}", ARTICLE_PAGE)
    fixture_server.add("/f.xml", _feed(fixture_server, [1, 2]), "application/rss+xml")
    feeds = [FeedConfig(name="f", url=fixture_server.url("/f.xml"))]  # type: ignore[arg-type]
    hop, end_to_end = "newswatch_freshness_hop_seconds", "newswatch_freshness_end_to_end_seconds"
    before = {name: _count(hop, hop=name) for name in ("fetched_to_extracted",
                                                       "consumed_to_indexed")}
    searchable_before = _count(end_to_end, span="discovered_to_searchable")
    assert poll_once(settings, feeds).produced == 2
    assert _count(hop, hop="fetched_to_extracted") == before["fetched_to_extracted"] + 2

    for record in read_all(settings.kafka_bootstrap, settings.articles_topic):
        timings = json.loads(record.value)["timings"]
        assert set(timings) == set(TIMING_KEYS)
        assert timings["consumed"] is None and timings["indexed"] is None
        stages = [_when(timings[k]) for k in ("discovered", "fetched", "extracted", "produced")]
        assert stages == sorted(stages)
        assert _when(timings["published"]) < stages[0]

    assert run_worker(settings, until_idle_s=1).indexed == 2
    assert _count(hop, hop="consumed_to_indexed") == before["consumed_to_indexed"] + 2
    assert _count(end_to_end, span="discovered_to_searchable") == searchable_before + 2
    docs = _stored(settings)
    assert len(docs) == 2
    for doc in docs.values():
        stamps = [_when(doc["timings"][k]) for k in TIMING_KEYS]
        assert stamps == sorted(stamps)  # published <= discovered <= ... <= indexed
    es = make_es(settings)
    try:
        mapping = es.indices.get_mapping(index=settings.articles_alias)
    finally:
        es.close()
    (properties,) = [m["mappings"]["properties"] for m in mapping.values()]
    assert {k: v["type"] for k, v in properties["timings"]["properties"].items()} == {
        k: "date" for k in TIMING_KEYS}


def test_a_message_without_timings_from_an_older_producer_is_indexed(settings: Settings) -> None:
    ensure_topics(settings)
    payload = json.loads(make_article(7).to_bytes())
    del payload["timings"]
    produce(settings.kafka_bootstrap, settings.articles_topic,
            [(payload["id"].encode(), json.dumps(payload).encode())])
    stats = run_worker(settings, until_idle_s=1)
    assert stats.indexed == 1 and stats.dead_lettered == 0
    (doc,) = _stored(settings).values()
    assert doc["timings"]["discovered"] is None and doc["timings"]["produced"] is None
    assert _when(doc["timings"]["consumed"]) <= _when(doc["timings"]["indexed"])


def test_an_article_is_produced_before_a_slower_page_of_its_feed_is_read(
    settings: Settings, fixture_server: FixtureServer
) -> None:
    fixture_server.add("/p1", ARTICLE_PAGE)
    fixture_server.routes["/p2"] = delayed(ARTICLE_PAGE.encode(), 2.0, "text/html")
    fixture_server.add("/f.xml", _feed(fixture_server, [1, 2]), "application/rss+xml")
    feeds = [FeedConfig(name="f", url=fixture_server.url("/f.xml"))]  # type: ignore[arg-type]
    assert poll_once(settings, feeds).produced == 2
    by_url = {json.loads(r.value)["url"]: json.loads(r.value)["timings"]
              for r in read_all(settings.kafka_bootstrap, settings.articles_topic)}
    fast, slow = by_url[fixture_server.url("/p1")], by_url[fixture_server.url("/p2")]
    # Before: both were produced together once the slow page was extracted.
    assert _when(fast["produced"]) < _when(slow["fetched"])


def test_a_feed_longer_than_the_bound_is_drained_over_the_next_polls(
    settings: Settings, fixture_server: FixtureServer, store: FeedStateStore
) -> None:
    bounded = settings.model_copy(update={"max_entries_per_feed": 3})
    numbers = list(range(1, 8))  # 7 entries, 3 per poll
    for n in numbers:
        fixture_server.add(f"/p{n}", ARTICLE_PAGE)
    fixture_server.add("/f.xml", _feed(fixture_server, numbers), "application/rss+xml",
                       headers={"ETag": '"v1"'})
    feeds = [FeedConfig(name="long", url=fixture_server.url("/f.xml"))]  # type: ignore[arg-type]

    def produced_urls() -> list[str]:
        records = read_all(settings.kafka_bootstrap, settings.articles_topic)
        return [json.loads(r.value)["url"] for r in records]

    first = poll_once(bounded, feeds).outcomes[0]
    assert (first.produced, first.deferred) == (3, 4)
    # Newest first: entries 7, 6, 5 (by pubDate).
    assert sorted(produced_urls()) == sorted(fixture_server.url(f"/p{n}") for n in (5, 6, 7))
    state = store.load(["long"])["long"]
    assert state.backlog == 4 and state.entries_deferred == 4
    assert state.etag is None and state.body_hash is None  # the same body is parsed again

    second = poll_once(bounded, feeds).outcomes[0]
    assert (second.result, second.produced, second.deferred) == ("ok", 3, 1)
    third = poll_once(bounded, feeds).outcomes[0]
    assert (third.result, third.produced, third.deferred) == ("ok", 1, 0)
    assert sorted(produced_urls()) == sorted(fixture_server.url(f"/p{n}") for n in numbers)
    state = store.load(["long"])["long"]
    assert state.backlog == 0 and state.entries_deferred == 4 + 1 and state.etag == '"v1"'

    fourth = poll_once(bounded, feeds).outcomes[0]
    assert fourth.result in ("unchanged", "not_modified") and fourth.produced == 0
    assert len(produced_urls()) == 7
