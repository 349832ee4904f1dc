"""A local Prefect server for the embedded default (SQLite under the data folder).

`flow.serve()` schedules nothing on Prefect's temporary server (STACK-NOTES), so a scheduled
service needs a real `prefect server start`; ≈17 s to healthy on a fresh database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx


def prefect_env(home: Path, port: int) -> dict[str, str]:
    """Environment every process that talks to this server needs (PREFECT_HOME for all)."""
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "PREFECT_HOME": str(home.resolve()),
            "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(port),
        }
    )
    return env


def server_healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def start_prefect_server(home: Path, port: int, log_file: Path) -> subprocess.Popen[bytes]:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect) if prefect.exists() else "prefect", "server", "start",
               "--host", "127.0.0.1", "--port", str(port)]
    with log_file.open("ab") as log:
        return subprocess.Popen(command, env=prefect_env(home, port), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(process: subprocess.Popen[bytes], port: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited with code {process.returncode}")
        if server_healthy(port):
            return
        time.sleep(0.5)
    raise RuntimeError(f"prefect server not healthy within {timeout_s:.0f}s")
