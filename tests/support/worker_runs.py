"""A worker built the way `run_worker` builds one, but with a test's own enricher or consumer,
and its Kafka clients and Elasticsearch client closed however the test ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from enrich.worker.enricher import Enricher
from enrich.worker.loop import EnrichWorker, make_consumer, make_side_producer
from ingest.common.es_client import make_es
from ingest.common.settings import Settings


@contextmanager
def built_worker(
    settings: Settings, *, enricher: Enricher | None = None,
    wrap_consumer: Callable[[Any], Any] | None = None,
) -> Iterator[EnrichWorker]:
    instance = settings.worker_instance or "w"
    consumer = make_consumer(settings, instance)
    producer = make_side_producer(settings)
    es = make_es(settings)
    worker = EnrichWorker(
        settings,
        consumer=wrap_consumer(consumer) if wrap_consumer else consumer,
        producer=producer,
        es=es,
        enricher=enricher or Enricher.from_settings(settings),
        instance_id=instance,
    )
    try:
        yield worker
    finally:
        consumer.close(autocommit=False)
        producer.close()
        es.close()
