"""`newswatch run` (what `make run` starts) as a user runs it: the embedded stack, a Prefect
server, the scheduled poll-feeds deployment and two workers; an article reaches the index on
the schedule, Ctrl-C takes everything down, and the data survives for the next run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from flows.demo_site_server import DemoSite
from infra.embedded_stack import StackEndpoints, free_port, is_up, stack_down, stack_up
from tests.conftest import REPO


def _count(es_url: str, alias: str) -> int:
    try:
        response = httpx.get(f"{es_url}/{alias}/_count", timeout=5)
    except httpx.HTTPError:
        return -1
    return int(response.json().get("count", -1)) if response.status_code == 200 else -1


def test_run_schedules_polls_indexes_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    site = DemoSite().start()
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    (config / "feeds.yaml").write_text(
        f"feeds:\n  - name: demo-site\n    url: {site.base_url}/feed.xml\n", encoding="utf-8"
    )
    kafka_port, es_port, prefect_port = free_port(), free_port(), free_port()
    websub_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSWATCH_", "PREFECT_"))}
    env.update(
        {
            "NEWSWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka_port}",
            "NEWSWATCH_ES_URL": f"http://127.0.0.1:{es_port}",
            "NEWSWATCH_PREFECT_PORT": str(prefect_port),
            "NEWSWATCH_DATA_DIR": str(tmp_path / "data"),
            "NEWSWATCH_CONFIG_DIR": str(config),
            "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true",
            "NEWSWATCH_POLL_INTERVAL_S": "3600",
            "NEWSWATCH_WEBSUB_PORT": str(websub_port),
        }
    )
    es_url = env["NEWSWATCH_ES_URL"]
    service = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and _count(es_url, "newswatch-articles") < 4:
            assert service.poll() is None, service.stdout.read().decode() if service.stdout else ""
            time.sleep(1)
        assert _count(es_url, "newswatch-articles") == 4
        # The poll service serves the WebSub callback; a callback it never handed out is 404.
        callback = httpx.get(f"http://127.0.0.1:{websub_port}/websub/demo-site/unknown",
                             params={"hub.mode": "subscribe", "hub.challenge": "c"}, timeout=5)
        assert callback.status_code == 404 and callback.headers["server"].startswith(
            "newswatch-websub")
        service.send_signal(signal.SIGINT)
        output = service.communicate(timeout=120)[0].decode()
    finally:
        if service.poll() is None:  # a failed assertion: still let it clean up after itself
            service.send_signal(signal.SIGINT)
            try:
                service.wait(timeout=90)
            except subprocess.TimeoutExpired:
                service.kill()
        site.stop()
    assert service.returncode == 0, output
    assert "Prefect UI" in output and "newswatch search" in output
    assert f"callback listens on http://127.0.0.1:{websub_port}/websub/" in output
    endpoints = StackEndpoints(
        tmp_path / "data" / "stack", "127.0.0.1", kafka_port, "127.0.0.1", es_port
    )
    assert not is_up(endpoints)
    assert not _port_open(prefect_port)
    # The next start finds the articles where this run left them.
    stack_up(endpoints)
    try:
        assert _count(es_url, "newswatch-articles") == 4
    finally:
        stack_down(endpoints)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
