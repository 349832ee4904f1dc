"""The batch checkpoint in isolation: its collaborators (index, cluster pointers, alerts, the
Kafka producer and consumer) are fakes here, so a failure can be injected at every step and
what is and is not committed checked exactly. The same order against the real servers is
covered by test_worker_integration.py and test_worker_faults.py."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from elastic_transport import ConnectionError as TransportConnectionError
from kafka import TopicPartition
from kafka.errors import CommitFailedError, KafkaTimeoutError, MessageSizeTooLargeError
from kafka.structs import OffsetAndMetadata

from enrich.alerts import Alert, AlertPublishError
from enrich.dedup.cluster_lookup import BandLookup
from enrich.dlq.dead_letters import DeadLetter
from enrich.index.article_index import BulkOutcome, IndexUnavailable, ItemFailure
from enrich.worker.batch_backoff import BatchAbandoned, PausingWait, retrying
from enrich.worker.checkpoint import (
    BatchCheckpoint,
    CheckpointCommitError,
    CheckpointProducerError,
    CheckpointProducerTimeout,
)

TOPIC = "news.articles"


@dataclass
class Rec:
    partition: int
    offset: int
    key: bytes | None = b"k"
    value: bytes | None = b"{}"
    topic: str = TOPIC


class FakeFuture:
    def __init__(self, error: Exception | None = None, done: bool = True) -> None:
        self.is_done = done
        self.exception = error

    def failed(self) -> bool:
        return self.is_done and self.exception is not None


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []
        self.flushes = 0
        self.flush_error: Exception | None = None
        self.refuse = False

    def send(self, topic: str, *, key: bytes | None = None,
             value: bytes | None = None) -> FakeFuture:
        self.sent.append((topic, key, value))
        return FakeFuture(MessageSizeTooLargeError("too big") if self.refuse else None)

    def flush(self, timeout: float | None = None) -> None:
        self.flushes += 1
        if self.flush_error is not None:
            raise self.flush_error

    def letters(self) -> list[DeadLetter]:
        return [DeadLetter.model_validate_json(v or b"") for t, _, v in self.sent if t == "dlq"]


class FakeConsumer:
    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, OffsetAndMetadata]] = []
        self.commit_error: Exception | None = None

    def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        if self.commit_error is not None:
            raise self.commit_error
        self.commits.append(offsets)

    def committed(self) -> dict[int, int]:
        assert len(self.commits) == 1
        return {tp.partition: meta.offset for tp, meta in self.commits[0].items()}


Script = list[Callable[[list[dict[str, Any]]], BulkOutcome] | Exception]


class FakeIndex:
    """Answers each write with the next scripted outcome or exception; after the script,
    indexes everything."""

    def __init__(self, script: Script | None = None) -> None:
        self.script = list(script or [])
        self.writes: list[list[str]] = []

    def write(self, docs: list[dict[str, Any]], *,
              homes: Mapping[str, str] | None = None) -> BulkOutcome:
        self.writes.append([d["id"] for d in docs])
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            return step(docs)
        return BulkOutcome(indexed=[d["id"] for d in docs])


class FakeClusters:
    def __init__(self, record_errors: list[Exception] | None = None) -> None:
        self.record_errors = list(record_errors or [])
        self.recorded: list[list[str]] = []

    def assign(self, docs: list[dict[str, Any]]) -> BandLookup:
        return BandLookup()

    def record(self, docs: list[dict[str, Any]], lookup: BandLookup) -> int:
        if self.record_errors:
            raise self.record_errors.pop(0)
        self.recorded.append([d["id"] for d in docs])
        return len(docs)


@dataclass
class FakePublishResult:
    futures: list[Any] = field(default_factory=list)


class FakeAlerts:
    def __init__(self, errors: list[Exception] | None = None) -> None:
        self.errors = list(errors or [])
        self.published: list[list[str]] = []

    def publish(self, alerts: Sequence[Alert]) -> FakePublishResult:
        if self.errors:
            raise self.errors.pop(0)
        self.published.append([a.id for a in alerts])
        return FakePublishResult([FakeFuture()])


class FakeWait:
    """Records the backoff asked for; stops (BatchAbandoned) after `stop_after` waits."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.waited: list[float] = []
        self.stop_after = stop_after
        self.resumed = 0

    def __call__(self, seconds: float) -> None:
        if self.stop_after is not None and len(self.waited) >= self.stop_after:
            raise BatchAbandoned()
        self.waited.append(seconds)

    def resume(self) -> None:
        self.resumed += 1


@dataclass
class Parts:
    consumer: FakeConsumer = field(default_factory=FakeConsumer)
    producer: FakeProducer = field(default_factory=FakeProducer)
    index: FakeIndex = field(default_factory=FakeIndex)
    clusters: FakeClusters = field(default_factory=FakeClusters)
    alerts: FakeAlerts = field(default_factory=FakeAlerts)
    wait: FakeWait = field(default_factory=FakeWait)

    def checkpoint(self, item_retries: int = 2) -> BatchCheckpoint:
        return BatchCheckpoint(
            consumer=self.consumer, producer=self.producer, index=self.index,
            clusters=self.clusters, alerts=self.alerts, wait=self.wait, dlq_topic="dlq",
            worker="w-0", item_retries=item_retries, max_backoff_s=4.0,
        )


def alert(article_id: str) -> Alert:
    return Alert(id=f"a-{article_id}", rule="r", fired_at=datetime.now(UTC),
                 article_id=article_id)


def filled(parts: Parts, **kw: Any) -> BatchCheckpoint:
    """Three records on two partitions: docs a (p0@4), b (p0@5) firing an alert, c (p1@9)."""
    checkpoint = parts.checkpoint(**kw)
    for record, doc_id in ((Rec(0, 4), "a"), (Rec(0, 5), "b"), (Rec(1, 9), "c")):
        checkpoint.track(record)
        checkpoint.add(record, {"id": doc_id}, [alert(doc_id)] if doc_id == "b" else [])
    return checkpoint


def test_a_clean_batch_goes_through_every_step_and_commits_the_next_offsets() -> None:
    parts = Parts()
    checkpoint = filled(parts)
    checkpoint.commit()
    assert checkpoint.indexed == {"a", "b", "c"}
    assert parts.clusters.recorded == [["a", "b", "c"]]
    assert parts.alerts.published == [["a-b"]]
    assert parts.producer.flushes == 1
    assert parts.consumer.committed() == {0: 6, 1: 10}
    assert checkpoint.committed and parts.wait.waited == []


def test_index_outage_is_waited_out_with_the_one_backoff_then_committed() -> None:
    parts = Parts(index=FakeIndex([IndexUnavailable("refused"), IndexUnavailable("refused"),
                                   TransportConnectionError("down")]))
    checkpoint = filled(parts)
    checkpoint.commit()
    assert parts.wait.waited == [0.5, 1.0, 2.0]
    assert parts.index.writes == [["a", "b", "c"]] * 4
    assert parts.consumer.committed() == {0: 6, 1: 10}


def test_stopping_during_an_index_outage_commits_nothing() -> None:
    parts = Parts(index=FakeIndex([IndexUnavailable("down")] * 5), wait=FakeWait(stop_after=2))
    checkpoint = filled(parts)
    with pytest.raises(BatchAbandoned):
        checkpoint.commit()
    assert parts.consumer.commits == [] and parts.producer.flushes == 0
    assert parts.alerts.published == [] and parts.clusters.recorded == []


def test_rejected_items_are_dead_lettered_and_busy_items_retried_then_dead_lettered() -> None:
    def first(docs: list[dict[str, Any]]) -> BulkOutcome:
        return BulkOutcome(indexed=["a"], rejected=[ItemFailure("b", 400, "mapping")],
                           retryable=[ItemFailure("c", 429, "busy")])

    def busy(docs: list[dict[str, Any]]) -> BulkOutcome:
        return BulkOutcome(retryable=[ItemFailure("c", 503, "unavailable")])

    parts = Parts(index=FakeIndex([first, busy, busy]))
    checkpoint = filled(parts, item_retries=2)
    checkpoint.commit()
    assert parts.index.writes == [["a", "b", "c"], ["c"], ["c"]]
    assert parts.wait.waited == [0.5, 1.0]
    letters = {letter.offset: letter for letter in parts.producer.letters()}
    assert letters[5].error_kind == "rejected_by_index" and "HTTP 400" in letters[5].error
    assert letters[9].error_kind == "index_retries_exhausted" and letters[9].attempts == 3
    assert checkpoint.indexed == {"a"}
    # Only indexed articles get pointers and alerts; every offset is committed.
    assert parts.clusters.recorded == [["a"]]
    assert parts.alerts.published == []
    assert parts.consumer.committed() == {0: 6, 1: 10}


def test_pointer_outage_is_waited_out_before_alerts_and_commit() -> None:
    parts = Parts(clusters=FakeClusters([TransportConnectionError("down")]))
    filled(parts).commit()
    assert parts.wait.waited == [0.5]
    assert parts.clusters.recorded == [["a", "b", "c"]]
    assert parts.consumer.committed() == {0: 6, 1: 10}


def test_stopping_during_a_pointer_outage_leaves_the_indexed_batch_uncommitted() -> None:
    parts = Parts(clusters=FakeClusters([TransportConnectionError("down")] * 3),
                  wait=FakeWait(stop_after=1))
    checkpoint = filled(parts)
    with pytest.raises(BatchAbandoned):
        checkpoint.commit()
    assert checkpoint.indexed == {"a", "b", "c"}  # redelivery overwrites them
    assert parts.alerts.published == [] and parts.consumer.commits == []


def test_alert_publishing_outage_is_waited_out_and_only_then_committed() -> None:
    parts = Parts(alerts=FakeAlerts([AlertPublishError("alerts index down")] * 2))
    filled(parts).commit()
    assert parts.wait.waited == [0.5, 1.0]
    assert parts.alerts.published == [["a-b"]]
    assert parts.consumer.committed() == {0: 6, 1: 10}


def test_a_flush_timeout_commits_nothing() -> None:
    parts = Parts()
    parts.producer.flush_error = KafkaTimeoutError("Timeout after waiting for 30 secs")
    checkpoint = filled(parts)
    checkpoint.dead_letter(Rec(1, 8), kind="invalid_json", error="not JSON")
    with pytest.raises(CheckpointProducerTimeout):
        checkpoint.commit()
    assert parts.consumer.commits == [] and not checkpoint.committed


def test_a_side_output_kafka_refused_commits_nothing() -> None:
    parts = Parts()
    parts.producer.refuse = True
    checkpoint = filled(parts)
    checkpoint.dead_letter(Rec(1, 8), kind="invalid_json", error="not JSON")
    with pytest.raises(CheckpointProducerError, match="MessageSizeTooLargeError"):
        checkpoint.commit()
    assert parts.consumer.commits == []


def test_a_refused_commit_is_named_as_such() -> None:
    parts = Parts()
    parts.consumer.commit_error = CommitFailedError("rebalanced")
    checkpoint = filled(parts)
    with pytest.raises(CheckpointCommitError, match="CommitFailedError"):
        checkpoint.commit()
    assert not checkpoint.committed


def test_a_bug_in_a_step_is_not_disguised_as_a_kafka_failure() -> None:
    parts = Parts(index=FakeIndex([TypeError("unhashable type: 'list'")]))
    checkpoint = filled(parts)
    with pytest.raises(TypeError):
        checkpoint.commit()
    assert parts.wait.waited == [] and parts.consumer.commits == []


def test_the_latest_record_of_an_id_wins_even_when_added_first() -> None:
    parts = Parts()
    checkpoint = parts.checkpoint()
    newer, older = Rec(0, 7), Rec(0, 3)
    for record, version in ((newer, 2), (older, 1)):  # the older one was retried later
        checkpoint.track(record)
        checkpoint.add(record, {"id": "x", "version": version})
    checkpoint.commit()
    assert parts.index.writes == [["x"]]
    assert parts.consumer.committed() == {0: 8}


def test_dead_letters_alone_are_flushed_then_committed() -> None:
    parts = Parts()
    checkpoint = parts.checkpoint()
    checkpoint.track(Rec(2, 0))
    try:
        raise ValueError("boom")
    except ValueError as exc:
        checkpoint.dead_letter(Rec(2, 0), kind="enrich_error", error=repr(exc), exc=exc)
    checkpoint.commit()
    assert parts.index.writes == [] and parts.producer.flushes == 1
    (letter,) = parts.producer.letters()
    assert letter.exception == "ValueError"
    assert letter.raised_at is not None and letter.raised_at.startswith("tests.test_checkpoint:")
    assert parts.consumer.committed() == {2: 1}


# --- the backoff policy and its wait ------------------------------------------------------
def test_the_backoff_doubles_from_half_a_second_up_to_the_cap() -> None:
    waited: list[float] = []
    calls = 0

    def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 7:
            raise IndexUnavailable("down")
        return "ok"

    for attempt in retrying(waited.append, retry_on=(IndexUnavailable,), max_backoff_s=5,
                            what="test"):
        with attempt:
            result = flaky()
    assert result == "ok"
    assert waited == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_bounded_attempts_reraise_the_last_error_as_itself() -> None:
    waited: list[float] = []
    with pytest.raises(IndexUnavailable):
        for attempt in retrying(waited.append, retry_on=(IndexUnavailable,), max_backoff_s=5,
                                what="test", attempts=3):
            with attempt:
                raise IndexUnavailable("down")
    assert waited == [0.5, 1.0]


class PauseConsumer:
    def __init__(self, stray: dict[TopicPartition, list[Rec]] | None = None) -> None:
        self.tps = {TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)}
        self.paused: set[TopicPartition] = set()
        self.stray = stray or {}
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.polls = 0

    def assignment(self) -> set[TopicPartition]:
        return set(self.tps)

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused.difference_update(partitions)

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, Any]:
        self.polls += 1
        stray, self.stray = self.stray, {}
        self.tps.update(stray)  # assigned by a rebalance during the wait
        return stray

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))


def test_waiting_pauses_the_partitions_puts_stray_records_back_and_resumes() -> None:
    new_tp = TopicPartition(TOPIC, 2)
    consumer = PauseConsumer({new_tp: [Rec(2, 11), Rec(2, 12)]})
    wait = PausingWait(consumer, threading.Event(), sleep=lambda s: None)
    wait(0.0)
    assert consumer.paused == {TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1), new_tp}
    assert consumer.seeks == [(new_tp, 11)] and consumer.polls == 1
    wait.resume()
    assert consumer.paused == set()


def test_a_stop_request_turns_the_wait_into_batch_abandoned() -> None:
    stop = threading.Event()
    stop.set()
    consumer = PauseConsumer()
    with pytest.raises(BatchAbandoned):
        PausingWait(consumer, stop, sleep=lambda s: None)(30.0)
    assert consumer.polls == 0
