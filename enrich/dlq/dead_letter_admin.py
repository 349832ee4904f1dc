"""Operator tools for `news.dlq`: read what was dead-lettered, and put it back in its origin
topic once the cause is fixed (a new taxonomy, a mapping change, a worker bug fixed).

The DLQ keeps its letters until they are replayed, and longer (`dlq_retention_ms`, forever by
default): a Kafka topic cannot drop one record. So each acknowledged replay leaves a receipt in
`news.dlq.replays`, and listing and replaying leave receipted letters out unless asked."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from pydantic import ValidationError

from enrich.dlq.dead_letters import DeadLetter, ReplayReceipt
from ingest.common.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredDeadLetter:
    dlq_partition: int
    dlq_offset: int
    letter: DeadLetter
    replay: ReplayReceipt | None = None  # the last acknowledged replay, if any


def _read_topic(consumer: KafkaConsumer, topic: str, timeout_s: float) -> list[Any]:
    """Every record in `topic` up to its end offsets now, from the beginning."""
    partitions = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    if not tps:
        return []
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    end = consumer.end_offsets(tps)
    out: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(consumer.position(tp) < end[tp] for tp in tps):
        for tp, records in consumer.poll(timeout_ms=500).items():
            out.extend(r for r in records if r.offset < end[tp])
    return out


def _receipts(records: Iterable[Any], topic: str) -> dict[tuple[int, int], ReplayReceipt]:
    """The latest receipt of each letter; a receipt that does not parse is reported, skipped."""
    found: dict[tuple[int, int], ReplayReceipt] = {}
    for record in records:
        try:
            receipt = ReplayReceipt.model_validate_json(record.value)
        except ValidationError as exc:
            log.warning("unreadable replay receipt skipped", extra={
                "topic": topic, "partition": record.partition, "offset": record.offset,
                "error": str(exc)[:300]})
            continue
        found[(receipt.dlq_partition, receipt.dlq_offset)] = receipt
    return found


def read_dead_letters(settings: Settings, timeout_s: float = 15) -> list[StoredDeadLetter]:
    """Every dead letter currently in the DLQ topic with its last replay, oldest first (no
    consumer group used)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                             client_id="newswatch-dlq-reader")
    try:
        letters = _read_topic(consumer, settings.dlq_topic, timeout_s)
        receipts = _receipts(_read_topic(consumer, settings.dlq_replays_topic, timeout_s),
                             settings.dlq_replays_topic)
    finally:
        consumer.close()
    out = [
        StoredDeadLetter(record.partition, record.offset,
                         DeadLetter.model_validate_json(record.value),
                         receipts.get((record.partition, record.offset)))
        for record in letters
    ]
    return sorted(out, key=lambda s: (s.letter.failed_at, s.dlq_offset))


def replay_dead_letters(
    settings: Settings, letters: Iterable[StoredDeadLetter], *, to_topic: str | None = None
) -> int:
    """Produce each letter's original key and bytes to its origin topic (or `to_topic`), and
    receipt those Kafka acknowledged; returns how many. A letter whose replay failed is logged
    and stays unreceipted, like one replayed just before a crash: replayed again next time,
    which idempotent indexing absorbs."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all",
                             enable_idempotence=True, client_id="newswatch-dlq-replay")
    sent: list[tuple[StoredDeadLetter, str, Any]] = []
    try:
        for stored in letters:
            letter = stored.letter
            target = to_topic or letter.topic
            future = producer.send(
                target, key=letter.key, value=letter.value,
                headers=[("replayed_from", f"{settings.dlq_topic}/"
                          f"{stored.dlq_partition}/{stored.dlq_offset}".encode())])
            sent.append((stored, target, future))
        producer.flush(60)
        now = datetime.now(UTC)
        receipts = []
        for stored, target, future in sent:
            if not future.succeeded():
                log.error("dead letter not replayed", extra={
                    "topic": target, "dlq_partition": stored.dlq_partition,
                    "dlq_offset": stored.dlq_offset, "error": repr(future.exception)})
                continue
            receipt = ReplayReceipt(dlq_partition=stored.dlq_partition,
                                    dlq_offset=stored.dlq_offset, replayed_at=now,
                                    to_topic=target)
            receipts.append(producer.send(settings.dlq_replays_topic, key=receipt.letter_key,
                                          value=receipt.to_bytes()))
        producer.flush(60)
    finally:
        producer.close()
    for future in receipts:
        if not future.succeeded():
            log.warning("replay receipt not written: the letter will be offered again",
                        extra={"topic": settings.dlq_replays_topic,
                               "error": repr(future.exception)})
    return len(receipts)
