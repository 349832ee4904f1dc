"""`newswatch freshness`: p50/p95/max per span from stored documents, on the real embedded
Elasticsearch, and the aggregation request a full Elasticsearch answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from enrich.alerts.alert_store import AlertStore
from enrich.index.article_index import ArticleIndex
from enrich.search.freshness_report import (
    SPANS,
    AggregationUnsupported,
    aggregation_body,
    freshness_report,
    parse_aggregations,
)
from flows.cli.freshness import format_seconds
from ingest.common.es_client import make_es
from ingest.common.settings import Settings
from ingest.message.article import Timings, iso_utc, utcnow
from ingest.message.timing_hops import SEARCHABLE_TO_ALERT
from tests.support.articles import make_article
from tests.support.cli import invoke


def test_each_span_is_a_filtered_percentiles_and_max_of_one_script() -> None:
    body = aggregation_body()
    assert list(body) == [s.name for s in SPANS]
    span = body["discovered_to_searchable"]
    assert span["filter"]["bool"]["filter"] == [{"exists": {"field": "timings.discovered"}},
                                                {"exists": {"field": "timings.indexed"}}]
    script = span["aggs"]["pct"]["percentiles"]["script"]
    assert script["params"] == {"start": "timings.discovered", "end": "timings.indexed"}
    assert span["aggs"]["max"]["max"]["script"] == script
    assert span["aggs"]["pct"]["percentiles"]["percents"] == [50, 95]


def _answer(**buckets: dict[str, Any]) -> dict[str, Any]:
    empty = {"doc_count": 0, "pct": {"values": {"50.0": None, "95.0": None}},
             "max": {"value": None}}
    return {s.name: buckets.get(s.name, empty) for s in SPANS}


def test_an_elasticsearch_answer_is_read_in_seconds() -> None:
    # The shape Elasticsearch 8 answers: percentiles keyed "50.0", values in milliseconds.
    stats = parse_aggregations(_answer(discovered_to_searchable={
        "doc_count": 40, "pct": {"values": {"50.0": 850.0, "95.0": 1900.0}},
        "max": {"value": 2400.0}}))
    found = stats["discovered_to_searchable"]
    assert (found.count, found.p50, found.p95, found.max) == (40, 0.85, 1.9, 2.4)
    assert stats["published_to_discovered"].count == 0
    assert stats["published_to_discovered"].p50 is None


def test_matched_documents_without_values_mean_the_server_cannot_aggregate() -> None:
    with pytest.raises(AggregationUnsupported):
        parse_aggregations(_answer(consumed_to_indexed={
            "doc_count": 3, "pct": {"values": {}}, "max": {"value": None}}))


def test_seconds_are_printed_for_people() -> None:
    assert [format_seconds(v) for v in (None, 0.4567, 12.34, 75, 7300, 200_000)] == [
        "-", "0.46s", "12.3s", "1m15s", "2h01m", "2d07h"]


@pytest.fixture
def es(settings: Settings) -> Iterator[Elasticsearch]:
    client = make_es(settings)
    yield client
    client.close()


def _store(es: Elasticsearch, settings: Settings) -> None:
    """Ten articles discovered 1..10 s before they were indexed, one outside the window,
    and an alert delivered 3 s after it was recorded."""
    index = ArticleIndex(es, settings.articles_alias)
    index.ensure()
    now = utcnow()
    docs = []
    for n in range(1, 11):
        indexed = now - timedelta(minutes=5)
        timings = Timings(published=indexed - timedelta(hours=1),
                          discovered=indexed - timedelta(seconds=n), indexed=indexed)
        docs.append(make_article(n).model_copy(update={"timings": timings}).model_dump(
            mode="json"))
    old = now - timedelta(days=3)
    docs.append(make_article(99).model_copy(update={"timings": Timings(
        discovered=old - timedelta(hours=5), indexed=old)}).model_dump(mode="json"))
    outcome = index.write(docs, refresh=True, fresh=False)
    assert len(outcome.indexed) == 11
    alerts = AlertStore(es, settings.alerts_index)
    alerts.ensure()
    recorded = now - timedelta(minutes=4)
    alerts.create_many([{
        "doc_type": "alert", "id": "a1", "rule": "r", "fired_at": iso_utc(recorded),
        "indexed_at": iso_utc(recorded), "deliveries": [
            {"channel": "hook", "status": "delivered", "attempts": 1,
             "delivered_at": iso_utc(recorded + timedelta(seconds=3))},
            {"channel": "mail", "status": "retrying", "attempts": 1}]}])
    alerts.refresh()


def test_the_report_covers_the_window_only(es: Elasticsearch, settings: Settings) -> None:
    _store(es, settings)
    now = utcnow()
    report = freshness_report(es, settings.articles_alias, settings.alerts_index,
                              since=now - timedelta(hours=1), until=now)
    assert report.documents == 10
    found = report.spans["discovered_to_searchable"]
    assert found.count == 10
    assert found.p50 == pytest.approx(5.5) and found.max == pytest.approx(10.0)
    assert found.p95 == pytest.approx(9.55, abs=0.5)  # exact here, a TDigest estimate on ES
    assert report.spans["published_to_searchable"].p50 == pytest.approx(3600.0)
    assert report.spans["fetched_to_extracted"].count == 0  # never stamped
    delivered = report.spans[SEARCHABLE_TO_ALERT]
    assert (delivered.count, delivered.max) == (1, pytest.approx(3.0))


def test_a_window_with_nothing_indexed_reports_zero(settings: Settings, es: Elasticsearch) -> None:
    now = utcnow()
    report = freshness_report(es, settings.articles_alias, settings.alerts_index,
                              since=now - timedelta(hours=1), until=now)
    assert report.documents == 0
    assert all(s.count == 0 for s in report.spans.values())


def test_newswatch_freshness_prints_the_spans(es: Elasticsearch, settings: Settings) -> None:
    _store(es, settings)
    code, out = invoke("freshness", "--since", "1h", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["documents"] == 10
    assert report["spans"]["discovered_to_searchable"]["max_s"] == 10.0
    code, out = invoke("freshness", "--since", "7d")
    assert code == 0
    assert out.startswith("11 articles indexed")
    line = next(line for line in out.splitlines() if line.startswith("discovered_to_searchable"))
    assert line.split()[1:] == ["11", "6.00s", "2h30m", "5h00m"]


def test_newswatch_stats_freshness_prints_the_same(es: Elasticsearch, settings: Settings) -> None:
    _store(es, settings)
    code, out = invoke("stats", "--freshness", "--since", "24h", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["documents"] == 10
    assert report["spans"]["discovered_to_searchable"]["p50_s"] == 5.5
    assert report["spans"][SEARCHABLE_TO_ALERT]["count"] == 1
