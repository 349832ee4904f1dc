"""A process pool that always knows which job each worker holds.

`concurrent.futures.ProcessPoolExecutor` breaks as a whole when one worker dies: every pending
future fails with `BrokenProcessPool`, the pool refuses new work, and nobody can tell which job
killed it. A stuck worker (a page that sends the parser into a minute-long loop) blocks it with
no way out. Pages from the open web do both, so here each worker runs one job at a time and
says when it starts one: a worker that dies fails only the job it was running and is replaced;
a job that runs past its deadline has its worker killed and replaced. Nothing else in flight
is lost. Each worker also holds its next job in its pipe, so it never idles waiting for this
process to be scheduled; if it dies, that job goes back to the queue, since it never started.

One dispatcher thread owns all worker state; `submit` only appends to a queue and wakes it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")

# How long close() lets a worker exit by itself before killing it.
_EXIT_GRACE_S = 5.0
# Messages to a worker are (command, job): any job value, None included, is a valid job.
_RUN, _STOP = "run", "stop"
# Messages from a worker are (status, payload). STARTED comes first, as soon as the worker
# holds the job: a worker that dies before saying so died of something else (it was killed
# between jobs), and its job goes back to the queue instead of being blamed.
_STARTED, _OK, _ERROR = "started", "ok", "error"
# Jobs sent to a worker ahead of time: the one running and the next one, already in its pipe.
_JOBS_PER_WORKER = 2


class PoolJobError(Exception):
    """The pool, not the job's own code, ended the job."""


class WorkerDied(PoolJobError):
    def __init__(self, exitcode: int | None) -> None:
        self.exitcode = exitcode
        super().__init__(f"worker process died (exit code {exitcode}) while running the job")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.exitcode,))


class PoolClosed(PoolJobError):
    def __init__(self) -> None:
        super().__init__("the pool was closed before the job could run")


class JobTimedOut(PoolJobError):
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        super().__init__(f"job ran longer than {timeout_s:g} s; its worker was killed")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.timeout_s,))


@dataclass
class PoolStats:
    completed: int = 0
    failed: int = 0
    worker_deaths: int = 0
    timeouts: int = 0
    workers_started: int = 0


@dataclass
class _Task(Generic[J, R]):
    job: J
    future: Future[R]
    running: bool = False  # set_running_or_notify_cancel() was called (once only)


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    tasks: deque[_Task[Any, Any]] = field(default_factory=deque)  # sent, oldest first
    started: bool = False  # the worker confirmed it is running tasks[0]
    deadline: float | None = None  # when the started job times out
    pid: int | None = field(default=None)


def _worker_main(
    func: Callable[[Any], Any], conn: Connection, memory_limit_bytes: int | None
) -> None:
    """Run jobs one at a time until told to stop or the parent goes away (EOF)."""
    # Ctrl-C reaches the whole process group; the parent decides how to shut its workers down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_limit_bytes is not None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
    while True:
        try:
            command, job = conn.recv()
        except (EOFError, OSError):
            return
        if command != _RUN:
            return
        try:
            conn.send((_STARTED, None))
            try:
                reply: tuple[str, Any] = (_OK, func(job))
            except BaseException as exc:  # the job's failure is its result; the worker lives on
                reply = (_ERROR, exc)
            try:
                conn.send(reply)
            except (EOFError, OSError):
                raise
            except Exception as exc:  # an unpicklable result or exception
                conn.send((_ERROR, RuntimeError(f"job result could not be sent back: {exc!r}")))
        except (EOFError, OSError):
            return


class SupervisedPool(Generic[J, R]):
    """Run `func(job)` in `processes` worker processes, one job per worker at a time.

    `submit` returns a future that holds func's result, or the exception func raised, or
    `WorkerDied` / `JobTimedOut`. When `failure_value` is given, every failure is instead
    turned into a result with it, so callers get a value and never an exception.
    `func` must be importable by name (a module-level function): workers are started fresh.
    """

    def __init__(
        self,
        func: Callable[[J], R],
        processes: int,
        *,
        job_timeout_s: float | None = None,
        memory_limit_bytes: int | None = None,
        start_method: str = "forkserver",
        preload: Sequence[str] = (),
        failure_value: Callable[[BaseException, J], R] | None = None,
        name: str = "pool",
    ) -> None:
        if processes < 1:
            raise ValueError(f"processes must be at least 1, got {processes}")
        self.processes = processes
        self.stats = PoolStats()
        self._func = func
        self._job_timeout_s = job_timeout_s
        self._memory_limit_bytes = memory_limit_bytes
        self._failure_value = failure_value
        self._name = name
        self._context = multiprocessing.get_context(start_method)
        if start_method == "forkserver" and preload:
            self._context.set_forkserver_preload(list(preload))
        self._lock = threading.Lock()
        self._pending: deque[_Task[J, R]] = deque()
        self._closing = False
        self._cancel_pending = False
        self._wake_r, self._wake_w = self._context.Pipe(duplex=False)
        self._wake_sent = False  # at most one unread wake-up byte: the pipe can never fill
        self._workers: list[_Worker] = [self._start_worker() for _ in range(processes)]
        self._dispatcher = threading.Thread(
            target=self._run, name=f"{name}-dispatcher", daemon=True
        )
        self._dispatcher.start()

    # --- public -------------------------------------------------------------------------
    def submit(self, job: J) -> Future[R]:
        future: Future[R] = Future()
        with self._lock:
            if self._closing:
                raise RuntimeError(f"{self._name} is closed")
            self._pending.append(_Task(job, future))
        self._wake()
        return future

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for tests and diagnostics)."""
        with self._lock:
            return [w.pid for w in self._workers if w.pid is not None]

    def busy_worker_pids(self) -> list[int]:
        """Workers that confirmed they are running a job (not merely been sent one)."""
        with self._lock:
            return [w.pid for w in self._workers if w.pid is not None and w.started]

    def close(self, *, cancel_pending: bool = True) -> None:
        """Stop taking jobs, finish the jobs already running (and, unless cancel_pending, the
        queued ones), then stop the workers. Idempotent."""
        with self._lock:
            if self._closing and not self._dispatcher.is_alive():
                return
            self._closing = True
            self._cancel_pending = cancel_pending
        self._wake()
        self._dispatcher.join()

    def __enter__(self) -> SupervisedPool[J, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- workers ------------------------------------------------------------------------
    def _start_worker(self) -> _Worker:
        parent_conn, child_conn = self._context.Pipe(duplex=True)
        process = self._context.Process(  # type: ignore[attr-defined]
            target=_worker_main,
            args=(self._func, child_conn, self._memory_limit_bytes),
            name=f"{self._name}-worker",
            daemon=True,
        )
        process.start()
        child_conn.close()
        self.stats.workers_started += 1
        return _Worker(process=process, conn=parent_conn, pid=process.pid)

    def _replace(self, worker: _Worker) -> None:
        worker.conn.close()
        worker.process.join(timeout=_EXIT_GRACE_S)
        fresh = self._start_worker()
        with self._lock:
            self._workers[self._workers.index(worker)] = fresh

    def _wake(self) -> None:
        with self._lock:
            if self._wake_sent:
                return
            self._wake_sent = True
        with contextlib.suppress(OSError):
            self._wake_w.send_bytes(b"x")

    # --- results ------------------------------------------------------------------------
    def _succeed(self, task: _Task[J, R], value: R) -> None:
        self.stats.completed += 1
        task.future.set_result(value)

    def _fail(self, task: _Task[J, R], exc: BaseException) -> None:
        self.stats.failed += 1
        if self._failure_value is not None:
            try:
                task.future.set_result(self._failure_value(exc, task.job))
                return
            except Exception as mapping_error:  # a broken mapper must not hang the caller
                exc = mapping_error
        task.future.set_exception(exc)

    # --- dispatcher ---------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except BaseException:  # never leave callers waiting on futures nobody will resolve
            log.exception("%s dispatcher crashed", self._name)
            self._fail_everything(RuntimeError(f"{self._name} dispatcher crashed"))
            raise
        finally:
            self._stop_workers()

    def _loop(self) -> None:
        while True:
            self._assign_pending()
            with self._lock:
                busy = [w for w in self._workers if w.tasks]
                if self._closing and not busy and (self._cancel_pending or not self._pending):
                    break
                workers = list(self._workers)
            deadlines = [w.deadline for w in busy if w.deadline is not None]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            waitables: list[Any] = [self._wake_r]
            waitables += [w.conn for w in busy]
            waitables += [w.process.sentinel for w in workers]
            ready = set(wait(waitables, timeout))
            if self._wake_r in ready:
                # Drain first, then re-arm: a wake-up sent in between stays in the pipe.
                while self._wake_r.poll():
                    self._wake_r.recv_bytes()
                with self._lock:
                    self._wake_sent = False
            for worker in workers:
                if worker.tasks and worker.conn in ready:
                    self._collect(worker)
                elif worker.process.sentinel in ready:
                    self._on_death(worker)
            self._enforce_deadlines()

    def _assign_pending(self) -> None:
        with self._lock:
            dropped = []
            if self._closing and self._cancel_pending:
                dropped = list(self._pending)
                self._pending.clear()
            workers = list(self._workers)
        for dropped_task in dropped:
            if not dropped_task.future.cancel():  # running already: given back by a dead worker
                self._fail(dropped_task, PoolClosed())
        # Every worker gets a job before any gets a second one.
        for depth in range(1, _JOBS_PER_WORKER + 1):
            for worker in workers:
                if len(worker.tasks) < depth and not self._send_next(worker):
                    return

    def _send_next(self, worker: _Worker) -> bool:
        """Send the next queued job to `worker`; False when the queue is empty."""
        while True:
            task = self._next_task()
            if task is None:
                return False
            try:
                worker.conn.send((_RUN, task.job))
            except (BrokenPipeError, ConnectionResetError, EOFError):
                # The worker is dead and not yet noticed: the job never started, it goes back
                # first, and the worker gets nothing more.
                with self._lock:
                    self._pending.appendleft(task)
                return True
            except Exception as exc:  # the job itself cannot be pickled
                self._fail(task, exc)
                continue
            # The clock starts when the worker confirms the job (a fresh worker may still be
            # importing, or finishing the job before it), see _collect.
            worker.tasks.append(task)
            return True

    def _next_task(self) -> _Task[J, R] | None:
        while True:
            with self._lock:
                if not self._pending:
                    return None
                task = self._pending.popleft()
            if task.running:  # a job given back by a worker that died before it started
                return task
            if task.future.set_running_or_notify_cancel():
                task.running = True
                return task

    def _collect(self, worker: _Worker) -> None:
        try:
            status, payload = worker.conn.recv()
        except (EOFError, OSError):
            self._on_death(worker)
            return
        except Exception as exc:  # a result that cannot be unpickled here
            status, payload = _ERROR, exc
        if status == _STARTED:
            worker.started = True
            if self._job_timeout_s:
                worker.deadline = time.monotonic() + self._job_timeout_s
            return
        task = worker.tasks.popleft()
        worker.started, worker.deadline = False, None
        if status == _OK:
            self._succeed(task, payload)
        else:
            self._fail(task, payload)

    def _take_tasks(self, worker: _Worker) -> tuple[_Task[J, R] | None, list[_Task[J, R]]]:
        """Empty a lost worker: the job it was running (if it had started one) and the jobs
        it never started, which go back to the front of the queue in their order."""
        tasks = list(worker.tasks)
        running = tasks.pop(0) if tasks and worker.started else None
        worker.tasks.clear()
        worker.started, worker.deadline = False, None
        with self._lock:
            self._pending.extendleft(reversed(tasks))
        return running, tasks

    def _on_death(self, worker: _Worker) -> None:
        worker.process.join(timeout=_EXIT_GRACE_S)
        exitcode = worker.process.exitcode
        running, _ = self._take_tasks(worker)
        # Replace first, so whoever learns of the failure finds the pool whole again.
        self._replace(worker)
        if running is not None:
            self.stats.worker_deaths += 1
            log.warning("%s worker %s died (exit code %s) while running a job",
                        self._name, worker.pid, exitcode)
            self._fail(running, WorkerDied(exitcode))
        elif not self._closing:
            log.warning("%s worker %s died while idle (exit code %s)",
                        self._name, worker.pid, exitcode)

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        with self._lock:
            overdue = [w for w in self._workers
                       if w.started and w.deadline is not None and w.deadline <= now]
        for worker in overdue:
            assert self._job_timeout_s is not None
            running, _ = self._take_tasks(worker)
            assert running is not None
            self.stats.timeouts += 1
            log.warning("%s worker %s killed: job ran longer than %g s",
                        self._name, worker.pid, self._job_timeout_s)
            worker.process.kill()
            self._replace(worker)
            self._fail(running, JobTimedOut(self._job_timeout_s))

    def _fail_everything(self, exc: BaseException) -> None:
        with self._lock:
            tasks = [t for w in self._workers for t in w.tasks]
            tasks += list(self._pending)
            self._pending.clear()
            self._closing = True
        for task in tasks:
            if not task.future.done():
                self._fail(task, exc)

    def _stop_workers(self) -> None:
        for worker in self._workers:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send((_STOP, None))
        deadline = time.monotonic() + _EXIT_GRACE_S
        for worker in self._workers:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self._wake_r.close()
        self._wake_w.close()

