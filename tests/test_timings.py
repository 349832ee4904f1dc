"""The `timings` contract (pure): keys, UTC, compatibility with older messages, and hops."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from enrich.worker.loop import decode_article
from ingest.message.article import TIMING_KEYS, Article, Timings
from ingest.message.timing_hops import END_TO_END, HOPS, percentile, span_seconds, summarize
from tests.support.articles import make_article

T = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_timings_keys_are_exactly_the_contract() -> None:
    assert set(Timings.model_fields) == {
        "published", "discovered", "fetched", "extracted", "produced", "consumed", "indexed"}
    dumped = json.loads(make_article(1).to_bytes())["timings"]
    assert set(dumped) == set(TIMING_KEYS)


def test_timings_are_written_in_utc_iso_8601() -> None:
    paris = timezone(timedelta(hours=1))
    timings = Timings(discovered=datetime(2026, 1, 2, 4, 4, 5, tzinfo=paris),
                      fetched=datetime(2026, 1, 2, 3, 4, 6))  # naive: taken as UTC
    dumped = json.loads(timings.model_dump_json())
    assert dumped["discovered"] == "2026-01-02T03:04:05Z"
    assert dumped["fetched"] == "2026-01-02T03:04:06Z"
    assert dumped["indexed"] is None


def test_a_message_from_an_older_producer_without_timings_is_accepted() -> None:
    payload = json.loads(make_article(2).to_bytes())
    del payload["timings"]
    article = decode_article(json.dumps(payload).encode())
    assert article.timings.discovered is None and article.timings.produced is None
    assert article.timings.consumed is not None  # stamped when the worker decoded it


def test_decoding_stamps_consumed_and_keeps_the_producer_stamps() -> None:
    sent = make_article(3).model_copy(update={"timings": Timings(produced=T)})
    article = decode_article(sent.to_bytes())
    assert article.timings.produced == T
    assert article.timings.consumed is not None and article.timings.consumed > T


def test_hops_follow_the_stages_and_skip_unknown_stamps() -> None:
    assert [h.name for h in HOPS] == [
        "published_to_discovered", "discovered_to_fetched", "fetched_to_extracted",
        "extracted_to_produced", "produced_to_consumed", "consumed_to_indexed"]
    timings = Timings(published=T, discovered=T + timedelta(seconds=60),
                      extracted=T + timedelta(seconds=61), produced=T + timedelta(seconds=61.5),
                      indexed=T + timedelta(seconds=63))
    hops = span_seconds(timings, HOPS)
    # fetched is unknown (the page was not fetched): both hops touching it are left out.
    assert hops == {"published_to_discovered": 60.0, "extracted_to_produced": 0.5}
    assert span_seconds(timings, END_TO_END) == {"published_to_searchable": 63.0,
                                                 "discovered_to_searchable": 3.0}


def test_a_publication_date_in_the_future_counts_as_zero() -> None:
    timings = Timings(published=T + timedelta(hours=2), discovered=T)
    assert span_seconds(timings, HOPS) == {"published_to_discovered": 0.0}


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile([7.0], 95) == 7.0
    stats = summarize([3.0, 1.0, 2.0])
    assert (stats.count, stats.p50, stats.max) == (3, 2.0, 3.0)
    assert summarize([]).p50 is None


def test_the_article_model_reads_stored_timings_back() -> None:
    article = make_article(4).model_copy(update={"timings": Timings(indexed=T)})
    again = Article.model_validate(json.loads(article.to_bytes()))
    assert again.timings.indexed == T


def test_a_resumed_alert_delivery_times_from_when_the_alert_was_recorded() -> None:
    from enrich.alerts.delivery import DeliveryJob

    job = DeliveryJob.from_doc({
        "id": "a1", "doc_type": "alert", "rule": "r", "fired_at": "2026-01-02T03:04:00Z",
        "indexed_at": "2026-01-02T03:04:05+00:00", "deliveries": [{"channel": "hook"}]})
    assert job.searchable_at == T


def test_searchable_to_alert_delivered_is_observed_in_seconds() -> None:
    from prometheus_client import REGISTRY

    from ingest.common.freshness_metrics import observe_alert_delivered

    labels = {"span": "searchable_to_alert_delivered"}
    count = REGISTRY.get_sample_value("newswatch_freshness_end_to_end_seconds_count", labels)
    total = REGISTRY.get_sample_value("newswatch_freshness_end_to_end_seconds_sum", labels)
    observe_alert_delivered(T, T + timedelta(seconds=1.5))
    assert REGISTRY.get_sample_value(
        "newswatch_freshness_end_to_end_seconds_count", labels) == (count or 0) + 1
    assert REGISTRY.get_sample_value(
        "newswatch_freshness_end_to_end_seconds_sum", labels) == pytest.approx((total or 0) + 1.5)


def test_an_older_message_gets_its_publication_time_from_published() -> None:
    payload = json.loads(make_article(5).to_bytes())
    del payload["timings"]
    article = decode_article(json.dumps(payload).encode())
    assert article.timings.published == article.published
