"""The supervised pool: a dying or stuck worker fails only its own job, and the pool goes on."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError

import pytest

from ingest.extract.supervised_pool import JobTimedOut, SupervisedPool, WorkerDied
from tests.support.pool_jobs import (
    allocate,
    exit_abruptly,
    raise_value_error,
    run_named,
    sleep_then_return,
    square,
    worker_pid,
)


def test_results_come_back_for_every_job() -> None:
    with SupervisedPool(square, 2) as pool:
        futures = [pool.submit(i) for i in range(50)]
        assert [f.result(timeout=60) for f in futures] == [i * i for i in range(50)]
        assert pool.stats.completed == 50


def test_a_job_exception_is_the_future_exception_and_the_worker_lives_on() -> None:
    with SupervisedPool(raise_value_error, 1) as pool:
        before = pool.worker_pids()
        with pytest.raises(ValueError, match="bad page"):
            pool.submit("bad page").result(timeout=60)
        assert pool.worker_pids() == before


def test_a_worker_that_dies_fails_only_its_own_job_and_is_replaced() -> None:
    with SupervisedPool(exit_abruptly, 2) as pool:
        died = pool.submit(3)
        with pytest.raises(WorkerDied) as info:
            died.result(timeout=60)
        assert info.value.exitcode == 3
        assert pool.stats.worker_deaths == 1
        assert len(pool.worker_pids()) == 2  # replaced


def test_jobs_in_flight_beside_a_dying_worker_are_not_lost() -> None:
    with SupervisedPool(sleep_then_return, 2) as slow_pool, \
            SupervisedPool(exit_abruptly, 2) as crash_pool:
        # Same shape as the extractor: the crash happens while other jobs are running.
        slow = [slow_pool.submit(0.2) for _ in range(6)]
        crashes = [crash_pool.submit(1) for _ in range(4)]
        assert [f.result(timeout=60) for f in slow] == [0.2] * 6
        for future in crashes:
            assert isinstance(future.exception(timeout=60), WorkerDied)
        assert crash_pool.stats.worker_deaths == 4


def test_jobs_queued_behind_a_crash_on_the_same_worker_run_on_its_replacement() -> None:
    with SupervisedPool(run_named, 1) as pool:
        futures = [pool.submit(job) for job in
                   [("sleep", 0.2), ("exit", 5), ("square", 3), ("square", 4)]]
        assert futures[0].result(timeout=60) == 0.2
        with pytest.raises(WorkerDied) as info:
            futures[1].result(timeout=60)
        assert info.value.exitcode == 5
        assert [f.result(timeout=60) for f in futures[2:]] == [9, 16]
        assert pool.stats.worker_deaths == 1


def test_a_stuck_job_times_out_its_worker_is_killed_and_the_next_job_runs() -> None:
    with SupervisedPool(sleep_then_return, 1, job_timeout_s=0.5) as pool:
        stuck_pid = pool.worker_pids()[0]
        stuck = pool.submit(600.0)
        after = pool.submit(0.0)
        with pytest.raises(JobTimedOut):
            stuck.result(timeout=60)
        assert after.result(timeout=60) == 0.0
        assert pool.stats.timeouts == 1
        assert stuck_pid not in pool.worker_pids()


def test_a_job_over_the_memory_cap_fails_with_memory_error_and_the_worker_lives_on() -> None:
    with SupervisedPool(allocate, 1, memory_limit_bytes=1024**3) as pool:
        pid = pool.worker_pids()[0]
        with pytest.raises(MemoryError):
            pool.submit(4 * 1024**3).result(timeout=60)
        assert pool.submit(1024**2).result(timeout=60) == 1024**2
        assert pool.worker_pids() == [pid]


def test_failure_value_turns_every_failure_into_a_result() -> None:
    def describe(exc: BaseException, job: int) -> str:
        return f"job {job}: {type(exc).__name__}"

    with SupervisedPool(exit_abruptly, 1, failure_value=describe) as pool:
        assert pool.submit(9).result(timeout=60) == "job 9: WorkerDied"


def test_a_worker_killed_while_idle_is_replaced_before_it_is_needed() -> None:
    import os
    import signal

    with SupervisedPool(worker_pid, 1) as pool:
        first = pool.submit(None).result(timeout=60)
        os.kill(first, signal.SIGKILL)
        second = pool.submit(None).result(timeout=60)
        assert second != first


def test_close_cancels_queued_jobs_and_finishes_running_ones() -> None:
    pool = SupervisedPool(sleep_then_return, 1)
    running = pool.submit(0.5)
    while not pool.busy_worker_pids():
        time.sleep(0.01)
    queued = [pool.submit(0.5) for _ in range(5)]
    pool.close()
    assert running.result(timeout=1) == 0.5
    # At most one queued job was already handed to the worker (the job it holds next); it
    # finishes, every other one is cancelled, and none is left waiting.
    assert all(f.done() for f in queued)
    assert [f.result() for f in queued if not f.cancelled()] in ([], [0.5])
    assert queued[-1].cancelled()
    with pytest.raises(CancelledError):
        queued[-1].result(timeout=1)
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(0.0)
    pool.close()  # idempotent


def test_submit_is_safe_from_many_threads() -> None:
    with SupervisedPool(square, 2) as pool:
        results: dict[int, int] = {}

        def client(offset: int) -> None:
            futures = {i: pool.submit(i) for i in range(offset, offset + 25)}
            for i, future in futures.items():
                results[i] = future.result(timeout=60)

        threads = [threading.Thread(target=client, args=(k * 25,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == {i: i * i for i in range(200)}


def test_processes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SupervisedPool(square, 0)
