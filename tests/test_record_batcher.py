"""How the worker gathers a batch (enrich/worker/record_batcher.py), with a fake consumer and a fake
clock: a batch closes at N records or after the linger, whichever comes first, and every wait
is a bounded poll with the partitions paused."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from kafka import TopicPartition

from enrich.worker.record_batcher import RecordBatcher, finish_orphaned_join

TP0, TP1, TP_NEW = (TopicPartition("a", p) for p in (0, 1, 2))


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeConsumer:
    """Each poll returns the next scripted batch of records (a list per poll); an empty
    poll takes its whole timeout on the fake clock, like a consumer with nothing to give."""

    clock: Clock
    script: list[dict[TopicPartition, list[int]]] = field(default_factory=list)
    assigned: set[TopicPartition] = field(default_factory=lambda: {TP0, TP1})
    paused: set[TopicPartition] = field(default_factory=set)
    polls: list[tuple[int, frozenset[TopicPartition]]] = field(default_factory=list)
    seeks: list[tuple[TopicPartition, int]] = field(default_factory=list)
    on_poll: Any = None

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused.difference_update(partitions)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, Any]:
        self.polls.append((timeout_ms, frozenset(self.paused)))
        if self.on_poll is not None:
            self.on_poll(self)
        batch = self.script.pop(0) if self.script else {}
        batch = {tp: offsets for tp, offsets in batch.items() if tp not in self.paused}
        if not batch:
            self.clock.now += timeout_ms / 1000
            return {}
        return {tp: [Rec(tp.partition, o) for o in offsets[:max_records]]
                for tp, offsets in batch.items()}


@dataclass(frozen=True)
class Rec:
    partition: int
    offset: int


def batcher(consumer: FakeConsumer, **kw: Any) -> RecordBatcher:
    options: dict[str, Any] = {"batch_size": 5, "linger_s": 0.25, "clock": consumer.clock}
    options.update(kw)
    return RecordBatcher(consumer, **options)


def test_a_full_batch_closes_at_once_without_lingering() -> None:
    clock = Clock()
    consumer = FakeConsumer(clock, [{TP0: [1, 2, 3]}, {TP1: [7, 8, 9]}])
    records = batcher(consumer).next_batch()
    assert [(r.partition, r.offset) for r in records] == [(0, 1), (0, 2), (0, 3), (1, 7), (1, 8)]
    assert clock.now == 100.0
    assert all(not paused for _, paused in consumer.polls)  # never waited


def test_a_lone_record_closes_its_batch_after_the_linger() -> None:
    clock = Clock()
    consumer = FakeConsumer(clock, [{TP0: [1]}])
    records = batcher(consumer).next_batch()
    assert [r.offset for r in records] == [1]
    # poll (the record), poll (nothing more, 5 ms), then the rest of the linger paused.
    timeouts = [t for t, _ in consumer.polls]
    assert timeouts[:2] == [5, 5] and timeouts[2] == 245
    assert consumer.polls[2][1] == {TP0, TP1}
    assert clock.now - 100.0 >= 0.25
    assert consumer.paused == set()  # resumed after the wait


def test_records_arriving_during_the_linger_join_the_batch() -> None:
    clock = Clock()
    consumer = FakeConsumer(clock, [{TP0: [1]}, {}, {}, {TP1: [4, 5]}])
    records = batcher(consumer).next_batch()
    assert [(r.partition, r.offset) for r in records] == [(0, 1), (1, 4), (1, 5)]
    assert clock.now - 100.0 >= 0.25


def test_an_idle_worker_waits_once_paused_and_hands_back_control() -> None:
    clock = Clock()
    consumer = FakeConsumer(clock)
    b = batcher(consumer, idle_s=0.4)
    assert b.next_batch() == []
    assert [(t, set(p)) for t, p in consumer.polls] == [(5, set()), (400, {TP0, TP1})]
    assert b.polls == 2 and consumer.paused == set()
    # An hour idle is ~9,000 polls at 0.4 s, each bounded: no poll loop spins on its own.
    for _ in range(100):
        b.next_batch()
    assert b.polls == 202
    assert clock.now - 100.0 >= 100 * 0.4


def test_records_of_a_partition_assigned_during_the_wait_are_kept() -> None:
    clock = Clock()

    def rebalance(consumer: FakeConsumer) -> None:
        if len(consumer.polls) == 2:  # during the paused wait: a new partition, not paused
            consumer.assigned = {TP1, TP_NEW}
            consumer.script = [{TP_NEW: [40, 41]}]

    consumer = FakeConsumer(clock, on_poll=rebalance)
    records = batcher(consumer).next_batch()
    assert [(r.partition, r.offset) for r in records] == [(2, 40), (2, 41)]
    # TP0 went to another member: not resumed here; TP1 (still ours) was.
    assert consumer.paused == {TP0}


def test_a_stop_request_ends_the_wait_for_more_records() -> None:
    clock = Clock()
    stop = threading.Event()
    consumer = FakeConsumer(clock, [{TP0: [1]}], on_poll=lambda c: stop.set())
    records = batcher(consumer, stop=stop).next_batch()
    assert [r.offset for r in records] == [1]  # what was read is still returned
    assert len(consumer.polls) == 1


def test_settling_gives_the_coordinator_a_long_paused_poll_and_loses_no_record() -> None:
    clock = Clock()

    def rebalance(consumer: FakeConsumer) -> None:
        consumer.assigned = {TP0, TP_NEW}
        consumer.paused &= consumer.assigned  # a revoked partition's pause goes with it
        consumer.script = [{TP_NEW: [40, 41]}]

    consumer = FakeConsumer(clock, on_poll=rebalance)
    batcher(consumer).settle(1.0)
    assert consumer.polls == [(1000, frozenset({TP0, TP1}))]
    assert consumer.seeks == [(TP_NEW, 40)]  # read again by the next batch, in order
    assert consumer.paused == set()


@dataclass
class _Task:
    is_done: bool


@dataclass
class _Coordinator:
    _join_task: _Task | None
    rejoin_wanted: bool = False
    requested: int = 0

    def need_rejoin(self) -> bool:
        return self.rejoin_wanted

    def request_rejoin(self) -> None:
        self.requested += 1
        self.rejoin_wanted = True


@dataclass
class _KafkaConsumerShape:
    _coordinator: _Coordinator


def test_a_join_no_poll_took_up_is_run_again_and_only_that() -> None:
    orphan = _Coordinator(_Task(is_done=True), rejoin_wanted=False)
    assert finish_orphaned_join(_KafkaConsumerShape(orphan))
    assert orphan.requested == 1
    for healthy in (_Coordinator(None),                      # joined, result taken
                    _Coordinator(_Task(is_done=False)),      # join still in flight
                    _Coordinator(_Task(is_done=True), rejoin_wanted=True)):  # next poll takes it
        assert not finish_orphaned_join(_KafkaConsumerShape(healthy))
        assert healthy.requested == 0
    assert not finish_orphaned_join(object())  # not a kafka-python consumer: nothing to do
