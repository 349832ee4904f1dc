"""Kafka producer for Article messages: idempotent, acks=all, compressed, keyed by article id.

Each article is sent as soon as it is built (`send`), so one slow page does not hold back the
feed's others; a poll reports success only after `collect` saw which articles Kafka
acknowledged: only those are then marked as seen, so a crash between produce and ack
re-produces them next run instead of losing them (the id key makes the re-production
overwrite downstream).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.producer.future import FutureRecordMetadata

from ingest.common.settings import Settings
from ingest.message.article import Article, utcnow

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


@dataclass
class Sending:
    """One article handed to the producer: its send future, or why it could not be sent."""

    article: Article
    future: FutureRecordMetadata | None = None
    error: str | None = None


class ArticleProducer:
    def __init__(self, producer: KafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    def send(self, article: Article) -> Sending:
        """Hand one article to the producer now (it goes out within `linger_ms`), stamping
        `timings.produced`; thread-safe. Wait for the ack with `collect`."""
        article = article.model_copy(update={
            "timings": article.timings.model_copy(update={"produced": utcnow()})})
        try:
            future = self._producer.send(
                self._topic, key=article.id.encode("ascii"), value=article.to_bytes(),
                headers=[("schema_version", str(article.schema_version).encode())],
            )
        except KafkaError as exc:
            return Sending(article, error=f"{type(exc).__name__}: {exc}")
        return Sending(article, future)

    def collect(self, sendings: list[Sending], timeout_s: float = 60.0) -> ProduceOutcome:
        """Wait (at most `timeout_s` in all) for Kafka's answers: which ids it acknowledged.
        Only those may be marked seen; the rest are produced again by a later poll."""
        outcome = ProduceOutcome()
        deadline = time.monotonic() + timeout_s
        for sending in sendings:
            article_id = sending.article.id
            if sending.future is None:
                outcome.failed[article_id] = sending.error or "not sent"
                continue
            try:
                sending.future.get(timeout=max(0.0, deadline - time.monotonic()))
                outcome.acked.append(article_id)
            except Exception as exc:  # any failure means "not safely produced"
                outcome.failed[article_id] = f"{type(exc).__name__}: {exc}"
        return outcome

    def send_all(self, articles: list[Article], timeout_s: float = 60.0) -> ProduceOutcome:
        """Send several and report which ids Kafka acknowledged (thread-safe: callers'
        futures are their own)."""
        return self.collect([self.send(a) for a in articles], timeout_s)

    def close(self) -> None:
        self._producer.close(timeout=10)
