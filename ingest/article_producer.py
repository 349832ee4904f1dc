"""Kafka producer for Article messages: idempotent, acks=all, compressed, keyed by article id.

A poll run reports success only after `flush()` confirmed which articles Kafka acknowledged:
only those are then marked as seen, so a crash between produce and ack re-produces them next
run instead of losing them (the id key makes the re-production overwrite downstream).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from kafka import KafkaProducer
from kafka.errors import KafkaError

from ingest.article import Article
from ingest.settings import Settings

log = logging.getLogger(__name__)


def make_producer(settings: Settings, *, client_id: str = "newswatch-ingest") -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        compression_type="gzip",
        linger_ms=20,
        retries=5,
        max_in_flight_requests_per_connection=5,
        request_timeout_ms=30000,
        max_block_ms=30000,
    )


@dataclass
class ProduceOutcome:
    acked: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class ArticleProducer:
    def __init__(self, producer: KafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    def send_all(self, articles: list[Article], timeout_s: float = 60.0) -> ProduceOutcome:
        """Send, flush, and report which ids Kafka acknowledged (thread-safe: callers' futures
        are their own, a concurrent flush only makes ours finish sooner)."""
        outcome = ProduceOutcome()
        futures = []
        for article in articles:
            try:
                futures.append((article.id, self._producer.send(
                    self._topic, key=article.id.encode("ascii"), value=article.to_bytes(),
                    headers=[("schema_version", str(article.schema_version).encode())],
                )))
            except KafkaError as exc:
                outcome.failed[article.id] = f"{type(exc).__name__}: {exc}"
        if not futures:
            return outcome
        try:
            self._producer.flush(timeout=timeout_s)
        except KafkaError as exc:
            log.error("producer flush failed", extra={"error": str(exc)})
        for article_id, future in futures:
            try:
                future.get(timeout=0)
                outcome.acked.append(article_id)
            except Exception as exc:  # any failure means "not safely produced"
                outcome.failed[article_id] = f"{type(exc).__name__}: {exc}"
        return outcome

    def close(self) -> None:
        self._producer.close(timeout=10)
