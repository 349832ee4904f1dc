"""How the worker gathers a batch: it closes at `batch_size` records or `linger_s` after its
first record, whichever comes first, and every wait in between is bounded and cheap.

Why not simply `consumer.poll(timeout_ms=...)`: kafka-python's poll sends fetch after fetch
until its timeout, trusting the broker to hold each empty fetch for `fetch.max.wait.ms`. The
embedded server (noida-db 0.2.3) answers empty fetches at once, so an idle worker blocked in
`poll(1000)` made ~500 fetch round trips a second and used 60–85% of a core doing nothing
(measured, issue 16). So the batcher polls with a short `fetch_ms` (time for one fetch round
trip, and for the group coordinator's requests), and waits between polls with its partitions
paused: a paused consumer's poll fetches nothing and sleeps in the client (`retry_backoff_ms`
steps) while still heartbeating and taking part in rebalances — which a bare `poll(0)` does
not (measured: a second member never got its partitions). On a real broker nothing changes
for the worse: an idle worker asks for records `1 / idle_s` times a second instead of holding
a long poll.

Latency cost: at low traffic a record waits at most one idle wait to be seen and one linger
before its batch closes (2 × 250 ms with the defaults); under load batches fill to
`batch_size` and close at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

# Long enough for one fetch round trip on a local broker and for the group coordinator's
# join/sync requests to complete across polls; short enough that a poll against a server
# that answers empty fetches at once costs little (it loops for this long).
FETCH_MS = 5
# How long settle() lets the coordinator work after Kafka refused a commit.
SETTLE_S = 1.0


def finish_orphaned_join(consumer: object) -> bool:
    """Work around a kafka-python 3.0.12 bug that short polls expose: a group (re)join runs as
    a task across polls, and when the rejoin was wanted only because the leader's assignment
    snapshot was stale, performing the assignment inside the task clears that reason before
    any poll has taken the task's result — so no poll ever does, the member stays
    REBALANCING, and every commit fails ("not part of an active group"; seen after a
    restart: the SIGKILL test's survivor never committed again). Asking for a rejoin makes
    the next poll run one more join round to completion. Returns whether it had to."""
    coordinator = getattr(consumer, "_coordinator", None)
    task = getattr(coordinator, "_join_task", None)
    if coordinator is None or task is None or not getattr(task, "is_done", False):
        return False
    if coordinator.need_rejoin():
        return False  # the next poll takes the result, as it should
    log.info("kafka consumer: finishing a group join no poll took up (kafka-python 3.0.12)")
    coordinator.request_rejoin()
    return True


class BatchConsumer(Protocol):
    def assignment(self) -> set[Any]: ...
    def pause(self, *partitions: Any) -> None: ...
    def resume(self, *partitions: Any) -> None: ...
    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, Any]: ...
    def seek(self, partition: Any, offset: int) -> None: ...


class RecordBatcher:
    def __init__(
        self,
        consumer: BatchConsumer,
        *,
        batch_size: int,
        linger_s: float,
        idle_s: float | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        fetch_ms: int = FETCH_MS,
    ) -> None:
        self._consumer = consumer
        self._batch_size = batch_size
        self._linger_s = linger_s
        self._idle_s = idle_s if idle_s is not None else linger_s
        self._stop = stop or threading.Event()
        self._clock = clock
        self._fetch_ms = fetch_ms
        self.polls = 0  # every consumer.poll() made, for tests and the bench

    def next_batch(self) -> list[Any]:
        """Up to `batch_size` records; [] after one idle wait with nothing (or on stop), so
        the caller gets control back regularly for its upkeep."""
        finish_orphaned_join(self._consumer)
        records: list[Any] = []
        first_at: float | None = None
        while not self._stop.is_set():
            got = self._poll(self._fetch_ms, self._batch_size - len(records))
            if got:
                records.extend(got)
                if first_at is None:
                    first_at = self._clock()
            if len(records) >= self._batch_size:
                return records
            if first_at is not None:
                left = first_at + self._linger_s - self._clock()
                if left <= 0:
                    return records
                if got:
                    continue  # more may be buffered or in flight: poll again now
                records.extend(self._quiet_wait(left, self._batch_size - len(records)))
            else:
                # Idle: one paused wait, then back to the caller (whose next call polls).
                records.extend(self._quiet_wait(self._idle_s, self._batch_size))
                if not records:
                    return records
                first_at = self._clock()
        return records

    def settle(self, seconds: float = SETTLE_S) -> None:
        """Give the group coordinator a long poll, partitions paused: a rebalance needs
        several round trips that a busy worker's short polls do not leave it (measured: a
        restarted static member's commits kept failing with RebalanceInProgressError while
        records flowed). Called after Kafka refused a commit; records polled meanwhile (from
        partitions just assigned) are put back, to be read in order by the next batch."""
        paused = self._consumer.assignment()
        if paused:
            self._consumer.pause(*paused)
        try:
            self.polls += 1
            stray = self._consumer.poll(timeout_ms=int(seconds * 1000))
            for tp, batch in stray.items():
                self._consumer.seek(tp, min(r.offset for r in batch))
            finish_orphaned_join(self._consumer)
        finally:
            still_ours = self._consumer.assignment() & paused
            if still_ours:
                self._consumer.resume(*still_ours)

    def _poll(self, timeout_ms: int, max_records: int) -> list[Any]:
        self.polls += 1
        polled = self._consumer.poll(timeout_ms=timeout_ms, max_records=max(1, max_records))
        return [r for batch in polled.values() for r in batch]

    def _quiet_wait(self, seconds: float, max_records: int) -> list[Any]:
        """Wait with the assigned partitions paused: the consumer heartbeats and rebalances,
        but fetches nothing. Records can only come from partitions assigned meanwhile (not
        paused yet): they are returned, not lost."""
        paused = self._consumer.assignment()
        if paused:
            self._consumer.pause(*paused)
        try:
            return self._poll(max(1, int(seconds * 1000)), max_records)
        finally:
            still_ours = self._consumer.assignment() & paused
            if still_ours:
                self._consumer.resume(*still_ours)
