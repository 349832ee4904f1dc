"""Operator tools for `news.dlq`: read what was dead-lettered, and put it back in its origin
topic once the cause is fixed (a new taxonomy, a mapping change, a worker bug fixed)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from enrich.dead_letters import DeadLetter
from ingest.settings import Settings


@dataclass(frozen=True)
class StoredDeadLetter:
    dlq_partition: int
    dlq_offset: int
    letter: DeadLetter


def read_dead_letters(settings: Settings, timeout_s: float = 15) -> list[StoredDeadLetter]:
    """Every dead letter currently in the DLQ topic, oldest first (no consumer group used)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                             client_id="newswatch-dlq-reader")
    try:
        partitions = consumer.partitions_for_topic(settings.dlq_topic) or set()
        tps = [TopicPartition(settings.dlq_topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: list[StoredDeadLetter] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(consumer.position(tp) < end[tp] for tp in tps):
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    if record.offset >= end[tp]:
                        continue
                    out.append(StoredDeadLetter(
                        record.partition, record.offset,
                        DeadLetter.model_validate_json(record.value)))
        return sorted(out, key=lambda s: (s.letter.failed_at, s.dlq_offset))
    finally:
        consumer.close()


def replay_dead_letters(
    settings: Settings, letters: Iterable[StoredDeadLetter], *, to_topic: str | None = None
) -> int:
    """Produce each letter's original key and bytes to its origin topic (or `to_topic`)."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                             enable_idempotence=True, client_id="newswatch-dlq-replay")
    count = 0
    try:
        for stored in letters:
            letter = stored.letter
            producer.send(to_topic or letter.topic, key=letter.key, value=letter.value,
                          headers=[("replayed_from", f"{settings.dlq_topic}/"
                                    f"{stored.dlq_partition}/{stored.dlq_offset}".encode())])
            count += 1
        producer.flush(60)
    finally:
        producer.close()
    return count
