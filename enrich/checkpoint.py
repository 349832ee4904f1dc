"""The order in which a consumed batch becomes safe — in one place.

1. Sink: every record of the batch is resolved — indexed (Elasticsearch acknowledged it) or
   dead-lettered (a DLQ record queued). The worker does this before calling `commit()`.
2. Produce: side outputs of the batch (dead letters, alerts) are flushed and acknowledged by
   Kafka. Failure raises CheckpointProducerTimeout and nothing is committed.
3. Commit: the next offset of every partition seen is committed. A rebalance in between raises
   CheckpointCommitError; the batch is then redelivered to whoever owns the partition now.

Because every write above is keyed (article id, alert id, DLQ origin), redelivery overwrites
rather than duplicates: at-least-once delivery with idempotent effects. Killing the process
between any two steps loses nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from enrich import metrics
from enrich.dead_letters import DeadLetter

log = logging.getLogger(__name__)


class CheckpointProducerTimeout(Exception):
    """Dead letters or alerts of the batch were not acknowledged by Kafka."""


class CheckpointCommitError(Exception):
    """Offsets could not be committed (typically a rebalance): the batch will be redelivered."""


class BatchCheckpoint:
    def __init__(
        self,
        consumer: KafkaConsumer,
        producer: KafkaProducer,
        dlq_topic: str,
        *,
        worker: str,
        flush_timeout_s: float = 30.0,
    ) -> None:
        self._consumer = consumer
        self._producer = producer
        self._dlq_topic = dlq_topic
        self._worker = worker
        self._flush_timeout_s = flush_timeout_s
        self._next_offsets: dict[TopicPartition, int] = {}
        self._futures: list[Any] = []
        self.dead_lettered = 0

    def track(self, topic: str, partition: int, offset: int) -> None:
        tp = TopicPartition(topic, partition)
        self._next_offsets[tp] = max(self._next_offsets.get(tp, 0), offset + 1)

    @property
    def first_offsets(self) -> dict[TopicPartition, int]:
        return dict(self._next_offsets)

    def dead_letter(self, record: Any, *, kind: str, error: str, attempts: int = 1) -> None:
        letter = DeadLetter.of(
            kind=kind, error=error, topic=record.topic, partition=record.partition,
            offset=record.offset, key=record.key, value=record.value, attempts=attempts,
            worker=self._worker,
        )
        self._futures.append(
            self._producer.send(self._dlq_topic, key=letter.dlq_key, value=letter.to_bytes())
        )
        self.dead_lettered += 1
        metrics.DEAD_LETTERS.labels(kind).inc()
        log.warning(
            "record dead-lettered",
            extra={"topic": record.topic, "partition": record.partition,
                   "offset": record.offset, "kind": kind, "error": error[:500]},
        )

    def add_side_output(self, future: Any) -> None:
        """A produce future (alerts) that must be acknowledged before offsets move on."""
        self._futures.append(future)

    def commit(self) -> None:
        if self._futures:
            try:
                self._producer.flush(timeout=self._flush_timeout_s)
                for future in self._futures:
                    future.get(timeout=0)
            except (KafkaError, Exception) as exc:
                raise CheckpointProducerTimeout(f"{type(exc).__name__}: {exc}") from exc
        if not self._next_offsets:
            return
        offsets = {
            tp: OffsetAndMetadata(offset, "", -1) for tp, offset in self._next_offsets.items()
        }
        try:
            self._consumer.commit(offsets=offsets)
        except CommitFailedError as exc:
            metrics.COMMITS.labels("failed").inc()
            raise CheckpointCommitError(str(exc)) from exc
        metrics.COMMITS.labels("ok").inc()
