"""`make run` / `newswatch run`: bring the embedded service up, keep it up, take it down.

Children run in their own sessions so Ctrl-C reaches only this supervisor, which then stops
them in order: poll runner and workers first (workers finish their batch and commit), then the
Prefect server, then the stack (data kept, so the next run resumes).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from enrich.alerts import load_alert_rules
from enrich.enricher import Enricher
from flows.endpoints import endpoints_of
from infra.embedded_stack import stack_down, stack_up
from infra.prefect_server import prefect_env, server_healthy, start_prefect_server, wait_healthy
from ingest.feeds_config import load_feeds
from ingest.poll_run import prepare_ingest
from ingest.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    restarts: int = 0
    started_at: float = field(default=0.0)


def _newswatch(*args: str) -> list[str]:
    return [sys.executable, "-m", "flows.cli", *args]


def validate_config(settings: Settings) -> None:
    """Refuse to start on invalid config instead of running without it."""
    load_feeds(settings.feeds_file)
    Enricher.from_settings(settings)
    if settings.alerts_file.exists():
        load_alert_rules(settings.alerts_file)


def run_service(settings: Settings, *, workers: int = 2) -> int:
    validate_config(settings)
    endpoints = endpoints_of(settings)
    stack_started = stack_up(endpoints)
    print(f"stack: kafka {endpoints.kafka_bootstrap}, elasticsearch {endpoints.es_url}",
          flush=True)
    prepare_ingest(settings)

    port = settings.prefect_port
    log_dir = settings.data_dir / "logs"
    prefect_server = None
    if not server_healthy(port):
        print("starting Prefect server (about 15-20 s on a fresh database)...", flush=True)
        prefect_server = start_prefect_server(settings.prefect_home, port,
                                              log_dir / "prefect-server.log")
        wait_healthy(prefect_server, port)
    env = prefect_env(settings.prefect_home, port)

    children = [Child("poll-runner", _newswatch("serve"))] + [
        Child(f"worker-{i}", _newswatch("worker", "--index", str(i))) for i in range(workers)
    ]
    for offset, child in enumerate(children):
        child_env = dict(env)
        if settings.metrics_port is not None:  # one metrics port per process
            child_env["NEWSWATCH_METRICS_PORT"] = str(settings.metrics_port + offset)
        child.env = child_env
        _start(child, log_dir)

    stopping = False

    def _request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    print(
        "\nnewswatch is running.\n"
        f"  Elasticsearch  {settings.es_url}/{settings.articles_alias}/_search\n"
        f"  Kafka          {settings.kafka_bootstrap}  (topic {settings.articles_topic})\n"
        f"  Prefect UI     http://127.0.0.1:{port}  (deployment poll-feeds/poll-feeds: due feeds "
        f"every {settings.poll_tick_s}s)\n"
        f"  WebSub         {websub_line(settings)}\n"
        f"  Logs           {log_dir}/\n"
        "  Try            newswatch search Idlib --topic syria\n"
        "Ctrl-C stops everything.\n",
        flush=True,
    )
    try:
        while not stopping:
            for child in children:
                assert child.process is not None
                code = child.process.poll()
                if code is not None and not stopping:
                    log.error("child exited, restarting",
                              extra={"child": child.name, "code": code,
                                     "restarts": child.restarts})
                    time.sleep(min(30, 2 ** min(child.restarts, 5)))
                    child.restarts += 1
                    _start(child, log_dir)
            time.sleep(0.5)
    finally:
        print("stopping...", flush=True)
        for child in children:
            _stop(child)
        if prefect_server is not None:
            _terminate(prefect_server, "prefect server")
        if stack_started:
            stack_down(endpoints)
        print("stopped; data kept under", settings.data_dir, flush=True)
    return 0


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


def _start(child: Child, log_dir: Path) -> None:
    path = log_dir / f"{child.name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as out:
        child.process = subprocess.Popen(child.command, env=child.env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
    child.started_at = time.monotonic()


def _stop(child: Child) -> None:
    if child.process is not None and child.process.poll() is None:
        _terminate(child.process, child.name)


def _terminate(process: subprocess.Popen[bytes], name: str, grace_s: float = 30) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        log.warning("did not stop in time, killing", extra={"child": name})
        process.kill()
        process.wait()
