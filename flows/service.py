"""`make run` / `newswatch run`: bring the embedded service up, keep it up, take it down.

The supervisor owns what it starts and takes it down on every way out: Ctrl-C, SIGTERM
(`newswatch stop`), SIGHUP, and its own crash all end in the same `finally`, which stops the
children in order: poll runner and workers first (workers finish their batch and commit),
then the Prefect server, then the stack (data kept, so the next run resumes). Its output for
people survives a closed stdout (`make run | tee` loses `tee` to the same Ctrl-C): a broken
pipe never interrupts the teardown.

One supervisor per data folder (infra.instance_lock); a second one says who runs. A
supervisor that was killed with SIGKILL cannot clean up: its children get SIGTERM from the
kernel (infra.owned_processes), and the next `newswatch run` or `newswatch stop` ends
whatever of them is left, and takes over (or stops) the stack that run had started.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from enrich.alerts import load_alert_rules
from enrich.worker.enricher import Enricher
from flows.cli.errors import ServiceError
from flows.endpoints import endpoints_of
from infra.embedded_stack import noida_pid, stack_down, stack_up
from infra.instance_lock import InstanceLock
from infra.owned_processes import end_owned, marked_env, start_owned, terminate_trees
from infra.port_owner import port_holder
from infra.prefect_server import prefect_env, start_prefect_server, wait_healthy
from ingest.common.settings import Settings
from ingest.feeds.feeds_config import load_feeds
from ingest.poll.poll_run import prepare_ingest

log = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    restarts: int = 0
    started_at: float = field(default=0.0)
    restart_at: float | None = None


def _newswatch(*args: str) -> list[str]:
    return [sys.executable, "-m", "flows.cli", *args]


def validate_config(settings: Settings) -> None:
    """Refuse to start on invalid config instead of running without it."""
    load_feeds(settings.feeds_file)
    Enricher.from_settings(settings)
    if settings.alerts_file.exists():
        load_alert_rules(settings.alerts_file)


# --- what a run leaves for the next one ---------------------------------------------------
def state_path(data_dir: Path) -> Path:
    return data_dir / "service.json"


def read_state(data_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads(state_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(data_dir: Path, **values: Any) -> None:
    path = state_path(data_dir)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({**read_state(data_dir), **values}), encoding="utf-8")
    os.replace(tmp, path)


def clear_state(data_dir: Path) -> None:
    state_path(data_dir).unlink(missing_ok=True)


# --- output for people --------------------------------------------------------------------
class Console:
    """stdout for people that a closed pipe cannot break. Every message is also appended to
    `logs/service.log` (what was said survives a terminal that is gone); after EPIPE stdout
    points at /dev/null, so the interpreter's exit flush stays quiet too."""

    def __init__(self, record: Path | None = None) -> None:
        self.broken = False
        self.record = record

    def say(self, text: str) -> None:
        if self.record is not None:
            try:
                with self.record.open("a", encoding="utf-8") as out:
                    out.write(f"{datetime.now(UTC).isoformat()} {text.strip()}\n")
            except OSError:
                pass
        if self.broken:
            return
        try:
            print(text, flush=True)
        except OSError:  # BrokenPipeError, EIO from a vanished terminal
            self.broken = True
            _detach(sys.stdout)


def _detach(stream: Any) -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


class _StopFlag:
    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""

    def __call__(self) -> bool:
        return self.requested

    def handler(self, signum: int, frame: object) -> None:
        if not self.requested:
            self.signal_name = signal.Signals(signum).name
        self.requested = True


@contextmanager
def _signals_set(stop: _StopFlag) -> Iterator[None]:
    previous = {signum: signal.signal(signum, stop.handler) for signum in _STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def _supervisor_log(log_dir: Path) -> Iterator[None]:
    """The supervisor's own log lines also go to logs/service.log (stderr may be gone)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_dir / "service.log", encoding="utf-8")
    root = logging.getLogger()
    if root.handlers:
        handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()


def _check_prefect_port(port: int) -> None:
    holder = port_holder("127.0.0.1", port)
    if holder is not None:
        raise ServiceError(
            f"port {port} (Prefect server) is taken by {holder.describe()}: stop it, or set "
            "NEWSWATCH_PREFECT_PORT to a free port")


# --- the run --------------------------------------------------------------------------------
def run_service(settings: Settings, *, workers: int = 2) -> int:
    validate_config(settings)
    data_dir = settings.data_dir
    lock = InstanceLock(data_dir)
    lock.acquire()  # AlreadyRunning: "newswatch is already running (pid N)"
    stop = _StopFlag()
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    console = Console(log_dir / "service.log")
    with _signals_set(stop), _supervisor_log(log_dir):
        try:
            return _Supervisor(settings, workers, console, stop).run()
        finally:
            lock.release()


class _Supervisor:
    def __init__(self, settings: Settings, workers: int, console: Console,
                 stop: _StopFlag) -> None:
        self.settings = settings
        self.workers = workers
        self.console = console
        self.stop = stop
        self.log_dir = settings.data_dir / "logs"
        self.endpoints = endpoints_of(settings)
        self.own_stack = False
        self.stack_was_running = noida_pid(self.endpoints.data_dir) is not None
        self.prefect: subprocess.Popen[bytes] | None = None
        self.children: list[Child] = []

    def run(self) -> int:
        try:
            self._take_over()
            self._start()
            if not self.stop():
                self._banner()
                self._watch()
        finally:
            self._teardown()
        return 0

    def _take_over(self) -> None:
        """End what a killed supervisor of this data folder left, and own its stack."""
        data_dir = self.settings.data_dir
        previous = read_state(data_dir)
        # Their supervisor is gone (we hold its lock): the kernel sent them SIGTERM when it
        # died; what still runs gets a short grace (its work is idempotent), then SIGKILL.
        left = end_owned(data_dir, grace_s=10.0)
        if left:
            self.console.say(
                f"ended {len(left)} processes left running by a newswatch run that did not "
                f"stop them (supervisor pid {previous.get('pid', '?')}): "
                + ", ".join(sorted({o.name for o in left})))
        if previous.get("stack_started") and noida_pid(self.endpoints.data_dir) is not None:
            self.own_stack = True
            self.console.say("taking over the stack that run started")
        _write_state(data_dir, pid=os.getpid(), started_at=datetime.now(UTC).isoformat(),
                     stack_started=self.own_stack, prefect_port=self.settings.prefect_port)

    def _start(self) -> None:
        settings, endpoints = self.settings, self.endpoints
        _check_prefect_port(settings.prefect_port)
        started = stack_up(endpoints)  # a port held by a stranger: StackError naming it
        self.own_stack = self.own_stack or started
        _write_state(settings.data_dir, stack_started=self.own_stack)
        self.console.say(f"stack: kafka {endpoints.kafka_bootstrap}, elasticsearch "
                         f"{endpoints.es_url}")
        if self.stop():
            return
        prepare_ingest(settings)
        port = settings.prefect_port
        env = prefect_env(settings.prefect_home, port)
        self.console.say("starting Prefect server (about 15-20 s on a fresh database)...")
        server_log = self.log_dir / "prefect-server.log"
        self.prefect = start_prefect_server(
            settings.prefect_home, port, server_log,
            env=marked_env(env, settings.data_dir, "prefect-server"))
        if not wait_healthy(self.prefect, port, log_file=server_log, stop_requested=self.stop):
            return
        self.children = [Child("poll-runner", _newswatch("serve"))] + [
            Child(f"worker-{i}", _newswatch("worker", "--index", str(i)))
            for i in range(self.workers)
        ]
        for offset, child in enumerate(self.children):
            child_env = marked_env(env, settings.data_dir, child.name)
            if settings.metrics_port is not None:  # one metrics port per process
                child_env["NEWSWATCH_METRICS_PORT"] = str(settings.metrics_port + offset)
            child.env = child_env
            self._start_child(child)

    def _banner(self) -> None:
        settings = self.settings
        self.console.say(
            f"\nnewswatch is running (pid {os.getpid()}).\n"
            f"  Elasticsearch  {settings.es_url}/{settings.articles_alias}/_search\n"
            f"  Kafka          {settings.kafka_bootstrap}  (topic {settings.articles_topic})\n"
            f"  Prefect UI     http://127.0.0.1:{settings.prefect_port}  (deployment "
            f"poll-feeds/poll-feeds: due feeds every {settings.poll_tick_s}s)\n"
            f"  WebSub         {websub_line(settings)}\n"
            f"  Logs           {self.log_dir}/\n"
            "  Try            newswatch search Idlib --topic syria\n"
            "Ctrl-C (or `newswatch stop`) stops everything.\n")

    def _watch(self) -> None:
        while not self.stop():
            now = time.monotonic()
            for child in self.children:
                assert child.process is not None
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        child.restart_at = None
                        child.restarts += 1
                        self._start_child(child)
                    continue
                code = child.process.poll()
                if code is not None:
                    log.error("child exited, restarting",
                              extra={"child": child.name, "code": code,
                                     "restarts": child.restarts})
                    child.restart_at = now + min(30, 2 ** min(child.restarts, 5))
            if self.prefect is not None and self.prefect.poll() is not None:
                raise ServiceError(f"the Prefect server exited with code "
                                   f"{self.prefect.returncode}; see {self.log_dir}/"
                                   "prefect-server.log")
            time.sleep(0.2)

    def _start_child(self, child: Child) -> None:
        child.process = start_owned(child.command, child.env,
                                    self.log_dir / f"{child.name}.log")
        child.started_at = time.monotonic()

    def _teardown(self) -> None:
        why = f" ({self.stop.signal_name})" if self.stop.signal_name else ""
        self.console.say(f"stopping{why}...")
        running = [(c.process, c.name) for c in self.children
                   if c.process is not None and c.process.poll() is None]
        _quietly(terminate_trees, running)
        if self.prefect is not None:
            _quietly(terminate_trees, [(self.prefect, "prefect-server")])
        # Anything of ours still alive (a grandchild that left its group): end it too.
        _quietly(end_owned, self.settings.data_dir, 10.0)
        started_here = not self.stack_was_running and noida_pid(self.endpoints.data_dir)
        if self.own_stack or started_here:
            _quietly(stack_down, self.endpoints)
        clear_state(self.settings.data_dir)
        self.console.say(f"stopped; data kept under {self.settings.data_dir}")


def websub_line(settings: Settings) -> str:
    """Where the poll service's WebSub callback listens, and what hubs are told."""
    if settings.websub_port is None:
        return "off (NEWSWATCH_WEBSUB_PORT is empty): every feed is polled"
    local = f"http://{settings.websub_bind}:{settings.websub_port}/websub/"
    public = settings.websub_callback_base
    if public is None:
        return (f"callback listens on {local} (set NEWSWATCH_WEBSUB_PUBLIC_URL to the URL hubs "
                "reach it at; until then nothing is subscribed)")
    return f"callback listens on {local}, hubs call {public}/websub/"


def _quietly(action: Any, *args: Any) -> None:
    """A teardown step that fails is logged, and the next step still runs."""
    try:
        action(*args)
    except Exception:
        log.exception("teardown step failed", extra={"step": getattr(action, "__name__", "?")})
