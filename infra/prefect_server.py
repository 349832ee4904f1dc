"""A local Prefect server for the embedded default (SQLite under the data folder).

`flow.serve()` schedules nothing on Prefect's temporary server (STACK-NOTES), so a scheduled
service needs a real `prefect server start`; ≈17 s to healthy on a fresh database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from infra.owned_processes import start_owned


class PrefectServerError(RuntimeError):
    pass


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


def start_prefect_server(home: Path, port: int, log_file: Path,
                         env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`prefect server start` in its own process group (see infra.owned_processes)."""
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect) if prefect.exists() else "prefect", "server", "start",
               "--host", "127.0.0.1", "--port", str(port)]
    return start_owned(command, env if env is not None else prefect_env(home, port), log_file)


def _tail(log_file: Path | None, lines: int = 3) -> str:
    if log_file is None:
        return ""
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return ("; last lines of " + str(log_file) + ": " + " | ".join(kept)) if kept else ""


def wait_healthy(process: subprocess.Popen[bytes], port: int, timeout_s: float = 120,
                 log_file: Path | None = None,
                 stop_requested: Callable[[], bool] = lambda: False) -> bool:
    """True once healthy; False when a stop was requested meanwhile. Raises
    PrefectServerError with the end of its log when it exits or never answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if stop_requested():
            return False
        if process.poll() is not None:
            raise PrefectServerError(
                f"prefect server exited with code {process.returncode}{_tail(log_file)}")
        if server_healthy(port):
            return True
        time.sleep(0.5)
    raise PrefectServerError(f"prefect server not healthy within {timeout_s:.0f}s"
                             f"{_tail(log_file)}")
