"""`newswatch run` (what `make run` starts) as a user runs it: the embedded stack, a Prefect
server, the scheduled poll-feeds deployment and workers; an article reaches the index on the
schedule, the poll runner's metrics count it, a second run on the same data folder is refused,
Ctrl-C with stdout a closed pipe (`make run | tee`, tee ended by the same Ctrl-C) takes
everything down, a supervisor killed with SIGKILL is taken over by the next run, and
`newswatch stop` (SIGTERM) ends that one. Each waits on a deadline, never a fixed sleep."""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest

from flows.demo_site_server import DemoSite
from infra.embedded_stack import StackEndpoints, free_port, is_up, stack_down, stack_up
from infra.instance_lock import holder
from infra.owned_processes import owned_processes
from tests.conftest import REPO

pytestmark = pytest.mark.integration  # starts an embedded stack of its own


def _count(es_url: str, alias: str) -> int:
    try:
        response = httpx.get(f"{es_url}/{alias}/_count", timeout=5)
    except httpx.HTTPError:
        return -1
    return int(response.json().get("count", -1)) if response.status_code == 200 else -1


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _free_port_run(length: int) -> int:
    """A port with the next `length - 1` free too (one metrics port per service process)."""
    while True:
        first = free_port()
        if all(not _port_open(first + i) for i in range(length)):
            return first


def _service_env(tmp_path: Path, feeds_yaml: str, **extra: str) -> dict[str, str]:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    (config / "feeds.yaml").write_text(feeds_yaml, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSWATCH_", "PREFECT_"))}
    env.update(
        {
            "NEWSWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
            "NEWSWATCH_ES_URL": f"http://127.0.0.1:{free_port()}",
            "NEWSWATCH_PREFECT_PORT": str(free_port()),
            "NEWSWATCH_DATA_DIR": str(tmp_path / "data"),
            "NEWSWATCH_CONFIG_DIR": str(config),
            "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true",
            "NEWSWATCH_POLL_INTERVAL_S": "3600",
            **extra,
        }
    )
    return env


def _ports(env: dict[str, str]) -> list[int]:
    return [int(env["NEWSWATCH_KAFKA_BOOTSTRAP"].rsplit(":", 1)[1]),
            int(env["NEWSWATCH_ES_URL"].rsplit(":", 1)[1]),
            int(env["NEWSWATCH_PREFECT_PORT"])]


def _newswatch(env: dict[str, str], cwd: Path, *args: str,
               timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


def _read_until(process: subprocess.Popen[bytes], text: str, seconds: float) -> str:
    """Output of `process` (a pipe) up to and including the line holding `text`."""
    assert process.stdout is not None
    out = b""
    deadline = time.monotonic() + seconds
    while text.encode() not in out:
        left = deadline - time.monotonic()
        assert left > 0, f"no {text!r} in time:\n{out.decode(errors='replace')}"
        ready, _, _ = select.select([process.stdout], [], [], min(left, 1.0))
        if ready:
            chunk = os.read(process.stdout.fileno(), 65536)
            assert chunk, f"output ended before {text!r}:\n{out.decode(errors='replace')}"
            out += chunk
    return out.decode(errors="replace")


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.Error:
            continue
    return alive


def _nothing_left(env: dict[str, str]) -> None:
    data_dir = Path(env["NEWSWATCH_DATA_DIR"])
    assert owned_processes(data_dir) == []
    assert [port for port in _ports(env) if _port_open(port)] == []
    assert holder(data_dir) is None


def _ensure_stopped(process: subprocess.Popen[bytes], env: dict[str, str], cwd: Path) -> None:
    """After a failed assertion: still leave nothing running."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
    _newswatch(env, cwd, "stop")


def _metric(text: str, name: str) -> float:
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith(name) and not line.startswith("#")]
    return sum(values)


def test_run_polls_counts_refuses_a_second_run_and_stops_on_ctrl_c_with_a_closed_pipe(
    tmp_path: Path,
) -> None:
    site = DemoSite().start()
    metrics_port = _free_port_run(3)
    feeds_yaml = f"feeds:\n  - name: demo-site\n    url: {site.base_url}/feed.xml\n"
    websub_port = free_port()
    env = _service_env(tmp_path, feeds_yaml, NEWSWATCH_METRICS_PORT=str(metrics_port),
                       NEWSWATCH_WEBSUB_PORT=str(websub_port))
    es_url = env["NEWSWATCH_ES_URL"]
    data_dir = Path(env["NEWSWATCH_DATA_DIR"])
    service = subprocess.Popen([sys.executable, "-m", "flows.cli", "run"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        banner = _read_until(service, "stops everything", 180)
        assert "Prefect UI" in banner and "newswatch search" in banner
        assert f"callback listens on http://127.0.0.1:{websub_port}/websub/" in banner
        _wait(lambda: _count(es_url, "newswatch-articles") >= 4, 180, "4 articles indexed")
        assert _count(es_url, "newswatch-articles") == 4
        # The poll service serves the WebSub callback; a callback it never handed out is 404.
        callback = httpx.get(f"http://127.0.0.1:{websub_port}/websub/demo-site/unknown",
                             params={"hub.mode": "subscribe", "hub.challenge": "c"}, timeout=5)
        assert callback.status_code == 404 and callback.headers["server"].startswith(
            "newswatch-websub")

        # Item 6: the poll runner's endpoint counts what its flow-run processes did.
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert _metric(metrics, "newswatch_articles_produced_total") == 4
        assert _metric(metrics, 'newswatch_feeds_polled_total{outcome="ok"}') >= 1
        assert _metric(metrics, "newswatch_pages_fetched_total") >= 4
        assert _metric(metrics, "newswatch_feed_poll_seconds_count") >= 1

        # Item 2: a second run on the same data folder is refused, naming the first.
        second = _newswatch(env, tmp_path, "run", timeout=60)
        assert second.returncode == 1
        assert f"newswatch is already running (pid {service.pid})" in second.stderr
        assert "Traceback" not in second.stderr
        status = _newswatch(env, tmp_path, "status", timeout=60)
        assert status.returncode == 0 and f"running (pid {service.pid}" in status.stdout
        children = {p.pid for p in owned_processes(data_dir)}
        assert len(children) >= 4  # prefect server, poll runner, two workers (and theirs)

        # Item 1: Ctrl-C while nobody reads stdout any more.
        assert service.stdout is not None
        service.stdout.close()
        service.send_signal(signal.SIGINT)
        assert service.wait(timeout=150) == 0
        _nothing_left(env)
        assert _alive(children) == set()
    finally:
        _ensure_stopped(service, env, tmp_path)
        site.stop()
    endpoints = StackEndpoints(data_dir / "stack", "127.0.0.1", _ports(env)[0], "127.0.0.1",
                               _ports(env)[1])
    assert not is_up(endpoints)
    # The next start finds the articles where this run left them.
    stack_up(endpoints)
    try:
        assert _count(es_url, "newswatch-articles") == 4
    finally:
        stack_down(endpoints)


def test_a_run_killed_with_sigkill_is_taken_over_and_stop_ends_the_next(tmp_path: Path) -> None:
    env = _service_env(tmp_path, "feeds: []\n")
    data_dir = Path(env["NEWSWATCH_DATA_DIR"])
    first_out, second_out = tmp_path / "first.out", tmp_path / "second.out"
    started = []
    try:
        with first_out.open("wb") as out:
            first = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--workers", "1"],
                                     env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
        started.append(first)
        _wait(lambda: b"stops everything" in first_out.read_bytes(), 180, "the first run")
        left_behind = {p.pid for p in owned_processes(data_dir)}
        assert left_behind
        first.send_signal(signal.SIGKILL)  # no finally, no cleanup of its own
        first.wait(timeout=30)

        with second_out.open("wb") as out:
            second = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--workers",
                                       "1"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                      cwd=tmp_path)
        started.append(second)
        _wait(lambda: b"stops everything" in second_out.read_bytes(), 180, "the second run")
        output = second_out.read_text(errors="replace")
        assert "taking over the stack" in output
        assert _alive(left_behind) == set()  # nothing of the killed run runs on

        stopped = _newswatch(env, tmp_path, "stop", timeout=200)  # SIGTERM to the supervisor
        assert stopped.returncode == 0, stopped.stderr
        assert f"stopped newswatch (pid {second.pid})" in stopped.stdout
        assert second.wait(timeout=30) == 0
        _nothing_left(env)
        assert _newswatch(env, tmp_path, "status", timeout=60).returncode == 3
    finally:
        for process in started:
            _ensure_stopped(process, env, tmp_path)


def test_a_crash_of_the_supervisor_itself_still_takes_everything_down(tmp_path: Path) -> None:
    """The Prefect server dying under it is an error the supervisor cannot run on: it raises,
    and the same teardown as Ctrl-C stops the rest before the one-line error."""
    env = _service_env(tmp_path, "feeds: []\n")
    data_dir = Path(env["NEWSWATCH_DATA_DIR"])
    output = tmp_path / "run.out"
    with output.open("wb") as out:
        service = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--workers", "1"],
                                   env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        _wait(lambda: b"stops everything" in output.read_bytes(), 180, "the run")
        [prefect] = [p for p in owned_processes(data_dir) if p.name == "prefect-server"]
        os.kill(prefect.pid, signal.SIGKILL)
        assert service.wait(timeout=150) == 1
        text = output.read_text(errors="replace")
        assert "error: the Prefect server exited with code -9" in text
        assert "Traceback" not in text
        assert text.index("stopping") < text.index("error: the Prefect server exited")
        _nothing_left(env)
    finally:
        _ensure_stopped(service, env, tmp_path)
