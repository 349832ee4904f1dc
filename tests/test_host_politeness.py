"""Per-host limits: concurrency from real threads, spacing from a controllable clock."""

from __future__ import annotations

import threading

import pytest

from ingest.fetch.host_politeness import HostPoliteness


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def test_requests_to_one_host_are_spaced_by_the_minimum_delay() -> None:
    clock = FakeClock()
    polite = HostPoliteness(min_delay_s=2.0, clock=clock, sleep=clock.sleep)
    waits = []
    for _ in range(3):
        with polite.slot("example.org") as waited:
            waits.append(waited)
    assert waits == [0.0, 2.0, 2.0]
    assert clock.sleeps == [2.0, 2.0]


def test_other_hosts_are_not_delayed_and_hosts_are_case_insensitive() -> None:
    clock = FakeClock()
    polite = HostPoliteness(min_delay_s=5.0, clock=clock, sleep=clock.sleep)
    with polite.slot("a.example"):
        pass
    with polite.slot("b.example") as waited:
        assert waited == 0.0
    with polite.slot("A.EXAMPLE") as waited:
        assert waited == 5.0


def test_time_already_elapsed_counts_toward_the_delay() -> None:
    clock = FakeClock()
    polite = HostPoliteness(min_delay_s=3.0, clock=clock, sleep=clock.sleep)
    with polite.slot("example.org"):
        pass
    clock.now += 2.0
    with polite.slot("example.org") as waited:
        assert waited == pytest.approx(1.0)


def test_concurrency_cap_holds_across_threads() -> None:
    polite = HostPoliteness(max_concurrent=2)
    inside = 0
    peak = 0
    lock = threading.Lock()
    gate = threading.Barrier(6, timeout=10)

    def work() -> None:
        nonlocal inside, peak
        gate.wait()
        for _ in range(20):
            with polite.slot("example.org"):
                with lock:
                    inside += 1
                    peak = max(peak, inside)
                threading.Event().wait(0.001)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert peak == 2


def test_no_limits_means_no_waiting() -> None:
    polite = HostPoliteness()
    assert not polite.limits_anything
    with polite.slot("example.org") as waited:
        assert waited == 0.0


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        HostPoliteness(max_concurrent=0)
    with pytest.raises(ValueError):
        HostPoliteness(min_delay_s=-1)
