"""Delivery guarantees under faults, against the real embedded servers: Elasticsearch taken
away while the worker backs off five times, and a consumer group whose members come and go."""

from __future__ import annotations

import threading
import time

from elasticsearch import Elasticsearch

from enrich.worker.consumer_lag import group_lag
from enrich.worker.enricher import Enricher
from enrich.worker.loop import (
    EnrichWorker,
    WorkerStats,
    leave_group,
    make_consumer,
    make_side_producer,
)
from infra.embedded_stack import StackEndpoints, is_up, start_service, stop_service
from ingest.common.es_client import make_es
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from tests.support.articles import make_article
from tests.support.kafka_tools import produce_articles


def _committed(settings: Settings) -> int:
    return sum(p.committed for p in group_lag(settings))


def _worker(settings: Settings, instance: str, enricher: Enricher) -> EnrichWorker:
    return EnrichWorker(
        settings,
        consumer=make_consumer(settings, instance),
        producer=make_side_producer(settings),
        es=make_es(settings),
        enricher=enricher,
        instance_id=instance,
    )


def _run(worker: EnrichWorker, results: dict[str, WorkerStats], idle: float) -> None:
    try:
        results[worker.instance_id] = worker.run(until_idle_s=idle)
    finally:
        worker.consumer.close(autocommit=False)
        leave_group(worker.settings, worker.instance_id)
        worker.producer.close()


def _count(es: Elasticsearch, alias: str) -> int:
    es.indices.refresh(index=alias)
    return int(es.count(index=alias)["count"])


def test_elasticsearch_outage_pauses_commits_nothing_and_catches_up(
    settings: Settings, embedded_stack: StackEndpoints
) -> None:
    ensure_topics(settings)
    enricher = Enricher.from_settings(settings)
    # The index exists before the outage, as in a running service.
    es = make_es(settings)
    first = [make_article(n) for n in range(10)]
    produce_articles(settings, first)
    results: dict[str, WorkerStats] = {}
    _run(_worker(settings, "outage-0", enricher), results, idle=1)
    assert _count(es, settings.articles_alias) == 10
    committed_before = _committed(settings)
    assert committed_before == 10

    stop_service(embedded_stack, "elasticsearch")
    try:
        more = [make_article(n) for n in range(10, 60)]
        produce_articles(settings, more)
        worker = _worker(settings, "outage-0", enricher)
        thread = threading.Thread(target=_run, args=(worker, results, 3))
        thread.start()
        # Until the worker has met the outage and backed off five times (0.5+1+2+4+8 s of
        # waiting): a deadline on what it did, not a fixed sleep.
        deadline = time.monotonic() + 120
        while len(worker.waiting.waited) < 5 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker.waiting.waited[:5] == [0.5, 1.0, 2.0, 4.0, 8.0]
        assert thread.is_alive(), "the worker gave up instead of waiting"
        assert _committed(settings) == committed_before  # nothing committed meanwhile
    finally:
        start_service(embedded_stack, "elasticsearch")
    deadline = time.monotonic() + 60
    while not is_up(embedded_stack) and time.monotonic() < deadline:
        time.sleep(0.5)
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert results["outage-0"].indexed == 50
    assert _count(es, settings.articles_alias) == 60
    assert _committed(settings) == 60
    es.close()


def test_two_workers_split_partitions_and_one_takes_over_when_the_other_leaves(
    settings: Settings,
) -> None:
    ensure_topics(settings)
    enricher = Enricher.from_settings(settings)
    articles = [make_article(n) for n in range(300)]
    produce_articles(settings, articles[:150])
    a = _worker(settings, "pair-a", enricher)
    b = _worker(settings, "pair-b", enricher)
    results: dict[str, WorkerStats] = {}
    thread_a = threading.Thread(target=_run, args=(a, results, 4))
    thread_b = threading.Thread(target=_run, args=(b, results, 600))
    thread_a.start()
    thread_b.start()
    thread_a.join(timeout=120)  # a goes idle and leaves the group
    assert not thread_a.is_alive()
    produce_articles(settings, articles[150:])
    es = make_es(settings)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and _count(es, settings.articles_alias) < 300:
        time.sleep(0.5)
    b.stop()
    thread_b.join(timeout=60)
    assert _count(es, settings.articles_alias) == 300
    # Everything that arrived after a left went through b.
    assert results["pair-b"].indexed >= 150
    assert results["pair-a"].indexed + results["pair-b"].indexed >= 300
    es.close()
