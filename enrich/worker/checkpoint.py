"""The order in which a consumed batch becomes safe — in one place.

The worker decodes and enriches the batch's records (`track`, `add`, `dead_letter`); then
`commit()` takes the enriched documents to committed offsets, in this order:

1. Index: near-duplicate clusters are assigned and the documents bulk-written. Every document
   ends indexed or dead-lettered: a 4xx item → dead letter `rejected_by_index`; a 429/5xx
   item → retried, `item_retries` times at most, then dead letter `index_retries_exhausted`;
   Elasticsearch unreachable → the partitions are paused and the same documents retried until
   it answers.
2. Cluster pointers: the band pointers of the indexed documents are written, so a later copy
   on any worker finds its cluster (an outage is waited out as in 1).
3. Alerts: what the indexed articles fired is published — acknowledged on `news.alerts` and
   created in the alerts index (an outage, AlertPublishError, is waited out as in 1).
4. Flush: every side output of the batch (dead letters, alerts) is acknowledged by Kafka. Not
   acknowledged in time → CheckpointProducerTimeout; refused by Kafka → CheckpointProducerError.
5. Commit: the next offset of every partition the batch read is committed. Kafka refusing it
   (a rebalance moved the partitions) → CheckpointCommitError.

Nothing is committed unless 1–4 completed, and each raises its own exception; the worker
rewinds and the batch is read again. Waits use the one backoff policy (batch_backoff.py); a
stop requested meanwhile raises BatchAbandoned, also uncommitted. Any other exception is a bug
and propagates as itself. Because every write above is keyed (article id, band key, alert id,
DLQ origin), redelivery overwrites rather than duplicates: at-least-once delivery with
idempotent effects. Killing the process between any two steps loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError
from kafka import TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.structs import OffsetAndMetadata

from enrich.alerts import Alert, AlertPublishError
from enrich.dedup.cluster_lookup import BandLookup
from enrich.dlq.dead_letters import DeadLetter
from enrich.index.article_index import BulkOutcome, IndexUnavailable
from enrich.worker import metrics
from enrich.worker.batch_backoff import retrying

log = logging.getLogger(__name__)

# Elasticsearch as a whole not answering (or answering the whole request with an error).
ELASTICSEARCH_DOWN: tuple[type[Exception], ...] = (
    IndexUnavailable, TransportConnectionError, ConnectionTimeout, ApiError)


class CheckpointProducerTimeout(Exception):
    """Step 4: dead letters or alerts of the batch were not acknowledged by Kafka in time."""


class CheckpointProducerError(Exception):
    """Step 4: Kafka refused a dead letter or an alert of the batch."""


class CheckpointCommitError(Exception):
    """Step 5: offsets could not be committed (typically a rebalance): the batch will be
    redelivered."""


class ItemsBusy(Exception):
    """Step 1, inside the retry loop: Elasticsearch answered 429/5xx for some items."""


# --- the collaborators, as the checkpoint uses them (the real ones, or fakes in unit tests) --
class Record(Protocol):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class DocumentIndex(Protocol):
    def write(self, docs: list[dict[str, Any]], *,
              homes: Mapping[str, str] | None = None) -> BulkOutcome: ...


class Clusters(Protocol):
    def assign(self, docs: list[dict[str, Any]]) -> BandLookup: ...
    def record(self, docs: list[dict[str, Any]], lookup: BandLookup) -> int: ...


class AlertPublisher(Protocol):
    def publish(self, alerts: Sequence[Alert]) -> Any: ...  # PublishResult (has .futures)


class SideProducer(Protocol):
    def send(self, topic: str, *, key: bytes | None = None, value: bytes | None = None) -> Any: ...
    def flush(self, timeout: float | None = None) -> None: ...


class OffsetCommitter(Protocol):
    def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None: ...


class Wait(Protocol):
    """PausingWait: called with seconds to wait; resume() once a step succeeded."""

    def __call__(self, seconds: float) -> None: ...
    def resume(self) -> None: ...


@dataclass
class _Entry:
    record: Record
    doc: dict[str, Any]
    alerts: list[Alert] = field(default_factory=list)


class BatchCheckpoint:
    def __init__(
        self,
        *,
        consumer: OffsetCommitter,
        producer: SideProducer,
        index: DocumentIndex,
        clusters: Clusters,
        alerts: AlertPublisher | None,
        wait: Wait,
        dlq_topic: str,
        worker: str,
        item_retries: int,
        max_backoff_s: float,
        flush_timeout_s: float = 30.0,
    ) -> None:
        self._consumer = consumer
        self._producer = producer
        self._index = index
        self._clusters = clusters
        self._alerts = alerts
        self._wait = wait
        self._dlq_topic = dlq_topic
        self._worker = worker
        self._item_retries = item_retries
        self._max_backoff_s = max_backoff_s
        self._flush_timeout_s = flush_timeout_s
        self._next_offsets: dict[TopicPartition, int] = {}
        self._entries: dict[str, _Entry] = {}
        self._futures: list[Any] = []
        self.indexed: set[str] = set()
        self.dead_lettered = 0
        self.committed = False

    # --- filling the batch (the worker) ------------------------------------------------------
    def track(self, record: Record) -> None:
        """The batch read this record: its offset is committed at step 5, whatever became
        of it (indexed or dead-lettered)."""
        tp = TopicPartition(record.topic, record.partition)
        self._next_offsets[tp] = max(self._next_offsets.get(tp, 0), record.offset + 1)

    def add(self, record: Record, doc: dict[str, Any], alerts: Iterable[Alert] = ()) -> None:
        """An enriched document and the alerts it fired. Within a batch the latest record of
        an id wins, like a keyed overwrite (also when an earlier one was retried later)."""
        current = self._entries.get(doc["id"])
        if (current is not None and current.record.partition == record.partition
                and current.record.offset > record.offset):
            return
        self._entries[doc["id"]] = _Entry(record, doc, list(alerts))

    def dead_letter(self, record: Record, *, kind: str, error: str, attempts: int = 1,
                    exc: BaseException | None = None) -> None:
        """Queue a dead letter for `record` (acknowledged at step 4)."""
        letter = DeadLetter.of(
            kind=kind, error=error, topic=record.topic, partition=record.partition,
            offset=record.offset, key=record.key, value=record.value, attempts=attempts,
            worker=self._worker, exc=exc,
        )
        self._futures.append(
            self._producer.send(self._dlq_topic, key=letter.dlq_key, value=letter.to_bytes())
        )
        self.dead_lettered += 1
        metrics.DEAD_LETTERS.labels(kind).inc()
        log.warning("record dead-lettered", extra={
            "topic": record.topic, "partition": record.partition, "offset": record.offset,
            "kind": kind, "error": error[:500], "exception": letter.exception,
            "raised_at": letter.raised_at, "attempts": attempts})

    # --- making it safe ----------------------------------------------------------------------
    def commit(self) -> None:
        """Steps 1–5 of the module docstring."""
        lookup = self._index_documents()
        self._record_pointers(lookup)
        self._publish_alerts()
        self._flush()
        self._commit_offsets()

    def _retrying(self, errors: tuple[type[BaseException], ...], what: str,
                  on_retry: Callable[[BaseException], None] | None = None) -> Any:
        return retrying(self._wait, retry_on=errors, max_backoff_s=self._max_backoff_s,
                        what=what, on_retry=on_retry)

    def _index_documents(self) -> BandLookup:
        """Step 1. Returns what the cluster assignment learnt about the band pointers."""
        lookup = BandLookup()
        attempts: dict[str, int] = {}
        remaining = [entry.doc for entry in self._entries.values()]
        if not remaining:
            return lookup

        def on_retry(exc: BaseException) -> None:
            if isinstance(exc, ItemsBusy):
                metrics.INDEX_RETRIES.inc(len(remaining))
            else:
                metrics.INDEX_OUTAGES.inc()

        for attempt in self._retrying((*ELASTICSEARCH_DOWN, ItemsBusy), "indexing", on_retry):
            with attempt:
                found = self._clusters.assign(remaining)
                lookup.taken |= found.taken
                lookup.stale |= found.stale
                outcome = self._index.write(remaining, homes=found.homes)
                self._wait.resume()
                remaining = self._sort_outcome(outcome, remaining, attempts)
                if remaining:
                    raise ItemsBusy(f"{len(remaining)} items answered 429/5xx")
        return lookup

    def _sort_outcome(self, outcome: BulkOutcome, docs: list[dict[str, Any]],
                      attempts: dict[str, int]) -> list[dict[str, Any]]:
        """Account for every item of one bulk answer; returns the documents to try again."""
        self.indexed.update(outcome.indexed)
        metrics.ARTICLES_INDEXED.inc(len(outcome.indexed))
        for failure in outcome.rejected:
            self.dead_letter(self._entries[failure.doc_id].record, kind="rejected_by_index",
                             error=f"HTTP {failure.status}: {failure.error}")
        again = set()
        for failure in outcome.retryable:
            attempts[failure.doc_id] = attempts.get(failure.doc_id, 0) + 1
            if attempts[failure.doc_id] > self._item_retries:
                self.dead_letter(self._entries[failure.doc_id].record,
                                 kind="index_retries_exhausted",
                                 error=f"HTTP {failure.status}: {failure.error}",
                                 attempts=attempts[failure.doc_id])
            else:
                again.add(failure.doc_id)
        return [d for d in docs if d["id"] in again]

    def _record_pointers(self, lookup: BandLookup) -> None:
        """Step 2."""
        docs = [e.doc for doc_id, e in self._entries.items() if doc_id in self.indexed]
        if not docs:
            return
        for attempt in self._retrying(ELASTICSEARCH_DOWN, "writing band pointers"):
            with attempt:
                self._clusters.record(docs, lookup)
        self._wait.resume()

    def _publish_alerts(self) -> None:
        """Step 3."""
        fired = [a for doc_id, e in self._entries.items() if doc_id in self.indexed
                 for a in e.alerts]
        if not fired or self._alerts is None:
            return
        publisher = self._alerts
        for attempt in self._retrying((AlertPublishError,), "publishing alerts"):
            with attempt:
                result = publisher.publish(fired)
        self._wait.resume()
        self._futures.extend(result.futures)

    def _flush(self) -> None:
        """Step 4."""
        if not self._futures:
            return
        try:
            self._producer.flush(timeout=self._flush_timeout_s)
        except KafkaTimeoutError as exc:
            raise CheckpointProducerTimeout(str(exc)) from exc
        pending = [f for f in self._futures if not f.is_done]
        if pending:
            raise CheckpointProducerTimeout(f"{len(pending)} side outputs not acknowledged")
        refused = [f for f in self._futures if f.failed()]
        if refused:
            first = refused[0].exception
            raise CheckpointProducerError(
                f"{len(refused)} side outputs refused, first: {type(first).__name__}: {first}")

    def _commit_offsets(self) -> None:
        """Step 5."""
        if not self._next_offsets:
            return
        offsets = {tp: OffsetAndMetadata(offset, "", -1)
                   for tp, offset in self._next_offsets.items()}
        try:
            self._consumer.commit(offsets=offsets)
        except KafkaError as exc:
            metrics.COMMITS.labels("failed").inc()
            raise CheckpointCommitError(f"{type(exc).__name__}: {exc}") from exc
        metrics.COMMITS.labels("ok").inc()
        self.committed = True
