"""Per-host politeness: at most N requests in flight to one host, and a minimum gap between the
starts of consecutive requests to it.

Hundreds of feeds often live on a handful of hosts; polled from a thread pool they would arrive
as a burst that gets newswatch throttled or banned. Every thread that talks to a host goes
through `slot(host)`, so the limits hold across the whole process. The clock and sleep are
injectable so the spacing can be tested without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class _HostState:
    semaphore: threading.BoundedSemaphore | None
    next_start: float = 0.0


class HostPoliteness:
    def __init__(
        self,
        max_concurrent: int | None = None,
        min_delay_s: float = 0.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`max_concurrent=None` means no concurrency limit; `min_delay_s=0` means no spacing."""
        if max_concurrent is not None and max_concurrent < 1:
            raise ValueError(f"max_concurrent must be >= 1 or None, got {max_concurrent}")
        if min_delay_s < 0:
            raise ValueError(f"min_delay_s must be >= 0, got {min_delay_s}")
        self.max_concurrent = max_concurrent
        self.min_delay_s = min_delay_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._hosts: dict[str, _HostState] = {}

    @property
    def limits_anything(self) -> bool:
        return self.max_concurrent is not None or self.min_delay_s > 0

    def _state(self, host: str) -> _HostState:
        key = host.lower()
        with self._lock:
            state = self._hosts.get(key)
            if state is None:
                semaphore = (
                    threading.BoundedSemaphore(self.max_concurrent)
                    if self.max_concurrent is not None
                    else None
                )
                state = self._hosts[key] = _HostState(semaphore)
            return state

    def _reserve_start(self, state: _HostState) -> float:
        """Claim the next start time for this host; the caller sleeps until then."""
        with self._lock:
            now = self._clock()
            start = max(now, state.next_start)
            state.next_start = start + self.min_delay_s
            return start - now

    @contextmanager
    def slot(self, host: str) -> Iterator[float]:
        """Hold a request slot for `host`; yields the seconds spent waiting for it."""
        if not self.limits_anything:
            yield 0.0
            return
        state = self._state(host)
        began = self._clock()
        if state.semaphore is not None:
            state.semaphore.acquire()
        try:
            wait = self._reserve_start(state) if self.min_delay_s > 0 else 0.0
            if wait > 0:
                self._sleep(wait)
            yield self._clock() - began
        finally:
            if state.semaphore is not None:
                state.semaphore.release()
