"""The worker's one backoff policy, and how it waits without losing its partitions.

Every step of a batch that can meet a busy or absent dependency (Elasticsearch down, bulk
items refused with 429/5xx, the alerts index unreachable, an enrichment that raised something
unexpected) is retried through `retrying()`: tenacity with waits doubling from 0.5 s up to
`Settings.worker_max_backoff_s`. One policy, so an operator reads one rule in the logs.

Waiting is not sleeping: `PausingWait` pauses the assigned partitions and keeps polling, so the
consumer stays in its group (max.poll.interval is honoured) and nothing new is fetched while
the batch in hand is unresolved; a stop request turns the wait into `BatchAbandoned`, leaving
the batch uncommitted for whoever owns the partitions next.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_never,
    wait_exponential,
)

log = logging.getLogger(__name__)

INITIAL_BACKOFF_S = 0.5


class BatchAbandoned(Exception):
    """Stopped while waiting: the batch stays uncommitted and is redelivered."""


class PausableConsumer(Protocol):
    """What waiting needs from the Kafka consumer (KafkaConsumer has it; tests pass fakes)."""

    def assignment(self) -> set[Any]: ...
    def pause(self, *partitions: Any) -> None: ...
    def resume(self, *partitions: Any) -> None: ...
    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, Any]: ...
    def seek(self, partition: Any, offset: int) -> None: ...


class PausingWait:
    """A tenacity `sleep` that keeps the consumer alive: pause, poll, sleep, check for stop.

    `resume()` after the step succeeded undoes the pause (if there was one)."""

    def __init__(
        self,
        consumer: PausableConsumer,
        stop: threading.Event,
        *,
        sleep: Callable[[float], None] = time.sleep,
        poll_ms: int = 200,
    ) -> None:
        self._consumer = consumer
        self._stop = stop
        self._sleep = sleep
        self._poll_ms = poll_ms
        self.paused = False
        self.waited: list[float] = []  # what was asked, for logs and tests

    def __call__(self, seconds: float) -> None:
        self.waited.append(seconds)
        deadline = time.monotonic() + seconds
        while True:
            if self._stop.is_set():
                raise BatchAbandoned()
            assignment = self._consumer.assignment()
            if assignment:
                self._consumer.pause(*assignment)
                self.paused = True
            # Paused partitions return nothing; polling keeps max.poll.interval satisfied.
            stray = self._consumer.poll(timeout_ms=self._poll_ms)
            for tp, batch in stray.items():  # newly assigned after a rebalance: put back
                self._consumer.seek(tp, min(r.offset for r in batch))
                self._consumer.pause(tp)
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._sleep(min(0.3, left))

    def resume(self) -> None:
        if self.paused:
            self._consumer.resume(*self._consumer.assignment())
            self.paused = False


def retrying(
    wait: Callable[[float], None],
    *,
    retry_on: tuple[type[BaseException], ...],
    max_backoff_s: float,
    what: str,
    attempts: int | None = None,
    on_retry: Callable[[BaseException], None] | None = None,
) -> Retrying:
    """Retry while the step raises one of `retry_on` (for ever, or `attempts` times in all),
    waiting through `wait` with the policy's doubling delays; other exceptions pass through,
    and the last one is re-raised as itself when attempts run out."""

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        if exc is None:
            return
        if on_retry is not None:
            on_retry(exc)
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(f"{what}: retrying", extra={
            "attempt": state.attempt_number, "wait_s": round(delay, 2),
            "error": f"{type(exc).__name__}: {exc}"[:500]})

    return Retrying(
        retry=retry_if_exception_type(retry_on),
        wait=wait_exponential(multiplier=INITIAL_BACKOFF_S, max=max_backoff_s),
        stop=stop_after_attempt(attempts) if attempts is not None else stop_never,
        sleep=wait,
        before_sleep=before_sleep,
        reraise=True,
    )
