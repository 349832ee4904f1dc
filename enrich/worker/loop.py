"""The enrichment worker: one member of the consumer group that reads `news.articles`,
enriches each article and indexes it, then commits — in that order (see checkpoint.py).

Shapes of failure and what the worker does:
* a record that cannot be decoded or validated → dead letter, move on;
* enrichment raises anything else → that record is tried again (`worker_record_retries`
  times, counted per record), then dead-lettered with the exception's type and module:line;
* an alert rule raises → the article is indexed anyway, the failure dead-lettered on its own;
* Elasticsearch rejects one document (4xx) → dead letter, move on;
* Elasticsearch busy for some items (429/5xx) → retry those with backoff, bounded, then DLQ;
* Elasticsearch unreachable → pause the partitions, keep the group membership alive, retry the
  same batch with backoff until it answers; nothing is committed meanwhile;
* Kafka does not acknowledge the batch's dead letters/alerts, or refuses the commit → nothing
  committed, the batch is read again;
* SIGTERM/SIGINT → finish (or abandon, uncommitted) the current batch and leave.

All waiting follows one backoff policy (batch_backoff.py); the order in which a batch becomes
safe lives in checkpoint.py.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from pydantic import ValidationError

from enrich.alerts import Alert, AlertEngine, AlertEvaluationError
from enrich.dedup.cluster_lookup import ClusterLookup
from enrich.index.article_index import ArticleIndex, IndexUnavailable
from enrich.index.index_rollover import RolloverConditions, roll_over
from enrich.worker import metrics
from enrich.worker.batch_backoff import BatchAbandoned, PausingWait, retrying
from enrich.worker.checkpoint import (
    BatchCheckpoint,
    CheckpointCommitError,
    CheckpointProducerError,
    CheckpointProducerTimeout,
)
from enrich.worker.enricher import Enricher
from enrich.worker.record_batcher import RecordBatcher
from ingest.common.settings import Settings
from ingest.message.article import SCHEMA_VERSION, Article, utcnow

log = logging.getLogger(__name__)
# At start-up only these are waited out; any other answer (a mapping conflict) stops the worker.
_ES_UNREACHABLE = (IndexUnavailable, TransportConnectionError, ConnectionTimeout)


class PoisonRecord(Exception):
    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class RecordsToRetry(Exception):
    """Some records of the batch raised an unexpected error in enrichment: another round."""


def decode_article(value: bytes | None) -> Article:
    """Decode one record value, classifying why it is poison when it is."""
    if value is None:
        raise PoisonRecord("empty_value", "record has no value (tombstone)")
    try:
        payload = json.loads(value.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PoisonRecord("invalid_utf8", f"value is not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise PoisonRecord("invalid_json", f"value is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise PoisonRecord("invalid_schema", f"value is JSON {type(payload).__name__}, not object")
    version = payload.get("schema_version")
    if version != SCHEMA_VERSION:
        raise PoisonRecord(
            "unsupported_schema", f"schema_version {version!r}, this worker reads {SCHEMA_VERSION}"
        )
    try:
        article = Article.model_validate(payload)
    except ValidationError as exc:
        raise PoisonRecord("invalid_schema", str(exc)) from exc
    article.timings.consumed = utcnow()
    return article


def default_instance_id(index: int = 0) -> str:
    return f"{socket.gethostname()}-{index}"


@dataclass
class WorkerStats:
    consumed: int = 0
    indexed: int = 0
    dead_lettered: int = 0
    batches: int = 0


class _Every:
    """Upkeep run between batches at most once per `interval_s`, the first time at start-up."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._next = 0.0  # monotonic time

    def due(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.interval_s
        return True


class EnrichWorker:
    def __init__(
        self,
        settings: Settings,
        *,
        consumer: KafkaConsumer,
        producer: KafkaProducer,
        es: Elasticsearch,
        enricher: Enricher,
        instance_id: str,
        alerts: AlertEngine | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.producer = producer
        self.es = es
        self.index = ArticleIndex(
            es, settings.articles_alias, shards=settings.es_shards, replicas=settings.es_replicas
        )
        self.clusters = ClusterLookup(es, settings.articles_alias, settings.dedup_index)
        self.enricher = enricher
        self.alerts = alerts
        self.instance_id = instance_id
        self.stats = WorkerStats()
        self.stop_event = threading.Event()
        self.waiting = PausingWait(consumer, self.stop_event, sleep=sleep)
        # A batch closes at worker_batch_size records or worker_linger_ms after its first.
        self.batcher = RecordBatcher(consumer, batch_size=settings.worker_batch_size,
                                     linger_s=settings.worker_linger_ms / 1000,
                                     stop=self.stop_event)
        self.rollover = RolloverConditions.from_settings(settings)
        self._rollover_check = _Every(settings.articles_rollover_check_s)
        self._pointer_expiry = _Every(settings.dedup_expiry_check_s)

    # --- the loop -----------------------------------------------------------------------
    def run(self, *, until_idle_s: float | None = None) -> WorkerStats:
        """Consume until stopped, or until `until_idle_s` without records.

        Idle time counts from the first partition assignment, not from start: a broker may
        take seconds to admit a member (real Kafka delays a new group's first join by
        group.initial.rebalance.delay.ms, 3 s by default; Tansu admits a static member after
        about 6 s), and a worker that left before then would have consumed nothing. A member
        that gets no partition at all (more workers than partitions) still leaves, after
        `until_idle_s` plus one session timeout."""
        self._wait_for_index()
        started = last_record = time.monotonic()
        assigned = False
        unassigned_limit = (until_idle_s or 0) + self.settings.worker_session_timeout_ms / 1000
        log.info("worker started", extra={"instance": self.instance_id,
                                           "topic": self.settings.articles_topic,
                                           "group": self.settings.consumer_group})
        while not self.stop_event.is_set():
            self._roll_over_when_due()
            self._expire_pointers_when_due()
            records = self.batcher.next_batch()
            self._report_lag()
            if records:
                last_record = time.monotonic()
                try:
                    self.process_batch(records)
                except BatchAbandoned:
                    break
                except (CheckpointCommitError, CheckpointProducerTimeout,
                        CheckpointProducerError) as exc:
                    log.warning("batch not committed, it will be redelivered",
                                extra={"error": str(exc), "records": len(records)})
                    self._rewind(records)
                    if isinstance(exc, CheckpointCommitError):  # most likely a rebalance
                        self.batcher.settle()
            elif until_idle_s is not None:
                now = time.monotonic()
                if not assigned and self.consumer.assignment():
                    assigned, last_record = True, now
                if assigned and now - last_record >= until_idle_s:
                    log.info("idle, stopping", extra={"idle_s": until_idle_s})
                    break
                if not assigned and now - started >= unassigned_limit:
                    log.info("no partitions assigned, stopping",
                             extra={"waited_s": round(now - started, 1)})
                    break
        return self.stats

    def stop(self) -> None:
        self.stop_event.set()

    def _roll_over_when_due(self) -> None:
        """Between batches, every `articles_rollover_check_s`, ask Elasticsearch to roll the
        alias over if a condition is met. A failed check is logged and tried again at the next
        one: it never holds up consumption."""
        if not self.rollover.enabled or not self._rollover_check.due():
            return
        alias = self.settings.articles_alias
        try:
            result = roll_over(self.es, alias, self.rollover)
        except (ApiError, TransportConnectionError, ConnectionTimeout) as exc:
            metrics.INDEX_ROLLOVERS.labels("failed").inc()
            log.warning("rollover check failed", extra={"alias": alias, "error": str(exc)[:300]})
            return
        metrics.INDEX_ROLLOVERS.labels("rolled_over" if result.rolled_over else "not_due").inc()
        if result.rolled_over:
            log.info("articles index rolled over", extra={
                "alias": alias, "old_index": result.old_index, "new_index": result.new_index,
                "conditions": sorted(name for name, met in result.met.items() if met)})

    def _expire_pointers_when_due(self) -> None:
        """Between batches, every `dedup_expiry_check_s`: band pointers older than the window
        are deleted. A failure is logged and retried at the next check."""
        if not self._pointer_expiry.due():
            return
        try:
            deleted = self.clusters.expire(self.settings.dedup_window_days * 86400)
        except (ApiError, TransportConnectionError, ConnectionTimeout) as exc:
            log.warning("band pointer expiry failed", extra={
                "index": self.clusters.pointers_index, "error": str(exc)[:300]})
            return
        metrics.DEDUP_POINTERS_EXPIRED.inc(deleted)
        if deleted:
            log.info("expired band pointers", extra={
                "index": self.clusters.pointers_index, "deleted": deleted,
                "window_days": self.settings.dedup_window_days})

    def _report_lag(self) -> None:
        """Records behind the end of each assigned partition, from what the consumer already
        knows (the last fetch's high watermark): no extra request per poll."""
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = self.consumer.position(tp, timeout_ms=0)
            except KafkaError:  # not known yet (just assigned): next poll
                continue
            if position is not None:
                metrics.CONSUMER_LAG.labels(str(tp.partition)).set(max(0, highwater - position))

    def process_batch(self, records: list[Any]) -> None:
        """Enrich the batch's records, then let a BatchCheckpoint take them to committed
        offsets (enrich/worker/checkpoint.py numbers its steps)."""
        started = time.monotonic()
        checkpoint = BatchCheckpoint(
            consumer=self.consumer, producer=self.producer, index=self.index,
            clusters=self.clusters, alerts=self.alerts, wait=self.waiting,
            dlq_topic=self.settings.dlq_topic, worker=self.instance_id,
            item_retries=self.settings.worker_item_retries,
            max_backoff_s=self.settings.worker_max_backoff_s,
        )
        for record in records:
            checkpoint.track(record)
        self._enrich_all(records, checkpoint)
        checkpoint.commit()
        self.stats.consumed += len(records)
        self.stats.indexed += len(checkpoint.indexed)
        self.stats.dead_lettered += checkpoint.dead_lettered
        self.stats.batches += 1
        metrics.RECORDS_CONSUMED.inc(len(records))
        metrics.BATCH_SECONDS.observe(time.monotonic() - started)

    # --- enrichment, each record resolved ------------------------------------------------
    def _enrich_all(self, records: list[Any], checkpoint: BatchCheckpoint) -> None:
        """Every record ends added to the checkpoint or dead-lettered. Poison (undecodable)
        records are dead-lettered at once; a record whose enrichment raises anything else is
        tried again, `worker_record_retries` times at most (counted per record, with the
        worker's backoff between rounds), then dead-lettered with the exception's type and
        the module:line it was raised at."""
        attempts: dict[tuple[str, int, int], int] = {}
        pending = records
        for attempt in retrying(self.waiting, retry_on=(RecordsToRetry,),
                                max_backoff_s=self.settings.worker_max_backoff_s,
                                what="enrichment"):
            with attempt:
                pending = [r for r in pending if not self._enrich_one(r, checkpoint, attempts)]
                if pending:
                    metrics.RECORD_RETRIES.inc(len(pending))
                    raise RecordsToRetry(f"{len(pending)} records to enrich again")
        self.waiting.resume()

    def _enrich_one(self, record: Any, checkpoint: BatchCheckpoint,
                    attempts: dict[tuple[str, int, int], int]) -> bool:
        """True when the record is resolved (added or dead-lettered), False to try again."""
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        try:
            article = decode_article(record.value)
            doc = self.enricher.enrich(article)
        except PoisonRecord as exc:
            checkpoint.dead_letter(record, kind=exc.kind, error=str(exc),
                                   exc=exc.__cause__ or exc)
            return True
        except Exception as exc:  # an enrichment bug on one article must not stop the rest
            key = (record.topic, record.partition, record.offset)
            attempts[key] = attempts.get(key, 0) + 1
            if attempts[key] <= self.settings.worker_record_retries:
                log.warning("enrichment failed, will retry",
                            extra={**where, "attempt": attempts[key], "error": repr(exc)[:500]})
                return False
            log.exception("enrichment failed", extra={**where, "attempts": attempts[key]})
            checkpoint.dead_letter(record, kind="enrich_error", error=repr(exc),
                                   attempts=attempts[key], exc=exc)
            return True
        checkpoint.add(record, doc, self._evaluate_alerts(record, doc, checkpoint))
        return True

    def _evaluate_alerts(self, record: Any, doc: dict[str, Any],
                         checkpoint: BatchCheckpoint) -> list[Alert]:
        """The alerts this article fires (right after enrich: the folded text is cached).
        A rule that raises never costs the article: it is indexed all the same, the other
        rules still fire, and the failure is counted, logged with the rule's name and
        dead-lettered as `alert_evaluation_error` (a replay re-evaluates the rules)."""
        if self.alerts is None:
            return []
        try:
            return self.alerts.evaluate(doc)
        except AlertEvaluationError as exc:
            failures = [(f.rule, f.error) for f in exc.failures]
            fired = exc.alerts
        except Exception as exc:  # not one rule's: none could be evaluated
            failures, fired = [("*", exc)], []
        for rule, error in failures:
            metrics.ALERT_EVALUATION_ERRORS.inc()
            log.error("alert rule failed on an article; the article is indexed", exc_info=error,
                      extra={"rule": rule, "article": doc.get("id"), "topic": record.topic,
                             "partition": record.partition, "offset": record.offset})
            checkpoint.dead_letter(record, kind="alert_evaluation_error",
                                   error=f"rule {rule!r}: {error!r}", exc=error)
        return fired

    def _rewind(self, records: list[Any]) -> None:
        """After a failed commit, read the batch again (if the partitions are still ours)."""
        firsts: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            firsts[tp] = min(firsts.get(tp, r.offset), r.offset)
        assigned = self.consumer.assignment()
        for tp, offset in firsts.items():
            if tp in assigned:
                self.consumer.seek(tp, offset)

    def _wait_for_index(self) -> None:
        """Elasticsearch must answer (and the indices exist) before the first batch."""
        def ensure() -> None:
            self.index.ensure()
            self.clusters.ensure()

        try:
            for attempt in retrying(self.waiting, retry_on=_ES_UNREACHABLE,
                                    max_backoff_s=self.settings.worker_max_backoff_s,
                                    what="elasticsearch unavailable at start"):
                with attempt:
                    ensure()
        except BatchAbandoned:
            return
        self.waiting.resume()


def make_consumer(settings: Settings, instance_id: str) -> KafkaConsumer:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.consumer_group,
        group_instance_id=instance_id,
        client_id=f"newswatch-worker-{instance_id}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.worker_session_timeout_ms,
        heartbeat_interval_ms=max(1000, settings.worker_session_timeout_ms // 3),
        max_poll_records=settings.worker_batch_size,
        max_poll_interval_ms=300000,
    )
    consumer.subscribe([settings.articles_topic])
    return consumer


def make_side_producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id="newswatch-worker",
        acks="all",
        enable_idempotence=True,
        compression_type="gzip",
        linger_ms=5,
    )


# How long a stopping worker waits for alert deliveries in flight (a later worker resumes the
# rest: open deliveries are recorded in the alerts index).
ALERT_DRAIN_S = 30.0


def leave_group(settings: Settings, instance_id: str) -> None:
    """Hand this worker's partitions to the rest of the group now.

    A static member does not leave on close (KIP-345): that is what lets a crashed or
    restarting worker take its partitions straight back. A worker stopped on purpose (scaled
    down, `--until-idle`) removes itself, or its partitions would wait for the session timeout.
    """
    from kafka import KafkaAdminClient
    from kafka.admin import MemberToRemove

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap,
                             client_id="newswatch-worker-admin")
    try:
        admin.remove_group_members(settings.consumer_group,
                                   [MemberToRemove(group_instance_id=instance_id)])
    except Exception as exc:  # best effort: the session timeout is the fallback
        log.warning("could not leave the consumer group",
                    extra={"instance": instance_id, "error": str(exc)})
    finally:
        admin.close()


def run_worker(settings: Settings, *, until_idle_s: float | None = None,
               instance_index: int = 0, keep_membership: bool = False) -> WorkerStats:
    """Build a worker from settings and run it until stopped or idle (the CLI's entry)."""
    from ingest.common.es_client import make_es
    from ingest.common.kafka_topics import ensure_topics
    from ingest.common.metrics_server import serve_metrics

    instance_id = settings.worker_instance or default_instance_id(instance_index)
    enricher = Enricher.from_settings(settings)
    serve_metrics(settings.metrics_port)
    ensure_topics(settings)
    es = make_es(settings)
    producer = make_side_producer(settings)
    alerts = AlertEngine.from_settings(settings, es=es, producer=producer,
                                       instance_id=instance_id)
    consumer = make_consumer(settings, instance_id)
    worker = EnrichWorker(settings, consumer=consumer, producer=producer, es=es,
                          enricher=enricher, instance_id=instance_id, alerts=alerts)
    def _stop(signum: int, frame: object) -> None:
        log.info("signal received, stopping after the current batch", extra={"signal": signum})
        worker.stop()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    alerts.start()
    try:
        stats = worker.run(until_idle_s=until_idle_s)
        # Deliveries to reachable channels are complete when an idle worker exits.
        drained = alerts.drain(ALERT_DRAIN_S)
        if not drained.complete:
            log.warning("alert deliveries still open at exit",
                        extra={"open": [f"{a} -> {c}: {e}" for a, c, e in drained.open][:20]})
        return stats
    finally:
        alerts.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        consumer.close(autocommit=False)
        if not keep_membership:
            leave_group(settings, instance_id)
        producer.close(timeout=10)
        es.close()
