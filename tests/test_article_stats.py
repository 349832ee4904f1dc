"""`newswatch stats` on the embedded Elasticsearch: per day, topic, language, source, top places
and actors as aggregations over a window (enrich/search/article_stats.py, flows/cli/stats.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from enrich.search.article_stats import parse_stats, stats_request
from enrich.worker.loop import run_worker
from flows.cli.stats import parse_since
from ingest.common.es_client import make_es
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from tests.support.articles import T0, make_article
from tests.support.cli import invoke
from tests.support.kafka_tools import produce_articles


def _index(settings: Settings) -> None:
    articles = [
        make_article(1, title="Shelling near Saraqib in Idlib province"),
        make_article(2, title="Idlib talks resume in Moscow"),
        make_article(3).model_copy(update={"published": T0 + timedelta(days=2)}),
        make_article(4, title="Переговоры по Сирии в Москве",
                     text="В Сирии продолжаются переговоры, сообщили в Москве.").model_copy(
            update={"language": "ru", "feed": "ria", "published": T0 + timedelta(days=2)}),
        make_article(5).model_copy(update={"published": T0 - timedelta(days=30)}),  # outside
    ]
    ensure_topics(settings)
    produce_articles(settings, articles)
    assert run_worker(settings, until_idle_s=1).indexed == len(articles)
    with make_es(settings) as es:
        es.indices.refresh(index=settings.articles_alias)


def test_stats_over_a_window(settings: Settings) -> None:
    _index(settings)
    code, output = invoke("stats", "--since", "2024-02-28", "--until", "2024-03-05", "--json")
    assert code == 0, output
    stats = json.loads(output.strip().splitlines()[-1])
    assert stats["total"] == 4
    per_day = {c["key"]: c["count"] for c in stats["per_day"]}
    assert per_day["2024-03-01"] == 2 and per_day["2024-03-02"] == 0
    assert per_day["2024-03-03"] == 2
    assert {c["key"]: c["count"] for c in stats["languages"]} == {"en": 3, "ru": 1}
    assert {c["key"]: c["count"] for c in stats["sources"]} == {"synthetic": 3, "ria": 1}
    topics = {c["key"]: c["count"] for c in stats["topics"]}
    assert topics["idlib"] == 2 and topics["syria"] == 3 and topics["(none)"] == 1
    places = [c["key"] for c in stats["places"]]
    assert places[0] == "syria" and "idlib" in places and "moscow" in places

    code, output = invoke("stats", "--since", "2024-02-28", "--until", "2024-03-05",
                          "--topic", "idlib")
    assert code == 0
    assert "2 articles since 2024-02-28" in output and "topic idlib" in output
    assert "per day" in output and "  2024-03-01        2  " in output
    assert "top places" in output and "per language" in output


def test_bad_options_are_refused(settings: Settings) -> None:
    code, output = invoke("stats", "--topic", "idlb")
    assert code == 2 and "unknown topic 'idlb'; known: syria, idlib, iran" in output
    code, output = invoke("stats", "--since", "last week")
    assert code == 2 and "give a span like 30d" in output


def test_request_and_parsing_without_a_server() -> None:
    now = datetime(2024, 3, 31, 12, tzinfo=UTC)
    assert parse_since("30d", now) == datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert parse_since("24h", now) == datetime(2024, 3, 30, 12, tzinfo=UTC)
    body = stats_request(topic="iran", top=5)
    assert body["size"] == 0 and body["query"]["bool"]["filter"] == [
        {"term": {"topics": "iran"}}]
    assert body["aggs"]["places"]["terms"]["size"] == 5
    parsed = parse_stats({"hits": {"total": {"value": 3}}, "aggregations": {
        "languages": {"buckets": [{"key": "en", "doc_count": 2}]},
        "no_language": {"doc_count": 1}}})
    assert [(c.key, c.count) for c in parsed.languages] == [("en", 2), ("(unknown)", 1)]
