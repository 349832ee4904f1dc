"""The embedded stack: Kafka protocol + Elasticsearch API from the PyPI package noida-db.

One machine, no Docker: `newswatch stack up` starts noida-db in the background on the ports the
settings name and returns once both services answer; the data stays under the data folder so a
second `up` resumes. Production runs the real servers from infra/docker-compose.yml instead;
the pipeline code cannot tell the difference.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


class StackError(RuntimeError):
    pass


@dataclass(frozen=True)
class StackEndpoints:
    data_dir: Path
    kafka_host: str
    kafka_port: int
    es_host: str
    es_port: int

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.kafka_host}:{self.kafka_port}"

    @property
    def es_url(self) -> str:
        return f"http://{self.es_host}:{self.es_port}"


MISSING_EMBEDDED = (
    "the embedded stack needs noida-db, an optional extra that is not installed here: "
    "pip install 'newswatch[embedded]' (make install does it; x86_64 Linux only). "
    "Or point NEWSWATCH_KAFKA_BOOTSTRAP / NEWSWATCH_ES_URL at real servers (infra/README.md)."
)


def noida_binary() -> str:
    """The noida-db executable: beside this interpreter (a venv), else on PATH.

    noida-db is the `embedded` extra, not a runtime dependency (the production image and
    arm64 hosts run without it), so its absence is an ordinary StackError saying how to get it.
    """
    beside_python = Path(sys.executable).with_name("noida-db")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("noida-db")
    if found is None:
        raise StackError(MISSING_EMBEDDED)
    return found


def _noida(*args: str, data_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [noida_binary(), *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _es_answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def is_up(endpoints: StackEndpoints) -> bool:
    return _port_open(endpoints.kafka_host, endpoints.kafka_port) and _es_answers(
        endpoints.es_url
    )


def stack_up(
    endpoints: StackEndpoints, *, wait_s: float = 60, services: str = "kafka,elasticsearch"
) -> bool:
    """Start the stack unless it already answers. Returns True when this call started it.

    `services="elasticsearch"` leaves the Kafka port to another broker already listening
    there (`make test-tansu` runs Tansu in its place)."""
    if is_up(endpoints):
        return False
    endpoints.data_dir.mkdir(parents=True, exist_ok=True)
    ports = ["--elasticsearch-port", str(endpoints.es_port)]
    if "kafka" in services.split(","):
        ports += ["--kafka-port", str(endpoints.kafka_port)]
    result = _noida(
        "up", "--only", services, "--host", endpoints.kafka_host, *ports,
        data_dir=endpoints.data_dir,
    )
    if result.returncode != 0:
        detail = _without_glibc_noise(result.stderr or result.stdout)
        raise StackError(f"noida-db up failed (exit {result.returncode}): {detail}")
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if is_up(endpoints):
            return True
        time.sleep(0.2)
    raise StackError(
        f"embedded stack did not answer within {wait_s:.0f}s on "
        f"{endpoints.kafka_bootstrap} and {endpoints.es_url}; see {endpoints.data_dir}/noida.log"
    )


def stack_down(endpoints: StackEndpoints) -> bool:
    """Stop the stack, keeping its data. Returns False when nothing was running."""
    if not (endpoints.data_dir / "noida.control.json").exists():
        return False
    result = _noida("down", data_dir=endpoints.data_dir)
    if result.returncode != 0:
        raise StackError(f"noida-db down failed: {_without_glibc_noise(result.stderr)}")
    return "isn't running" not in result.stdout


def stack_status(endpoints: StackEndpoints) -> dict[str, str]:
    return {
        "kafka": (
            f"up {endpoints.kafka_bootstrap}"
            if _port_open(endpoints.kafka_host, endpoints.kafka_port)
            else f"down {endpoints.kafka_bootstrap}"
        ),
        "elasticsearch": (
            f"up {endpoints.es_url}"
            if _es_answers(endpoints.es_url)
            else f"down {endpoints.es_url}"
        ),
        "data_dir": str(endpoints.data_dir),
    }


def stop_service(endpoints: StackEndpoints, service: str) -> None:
    """Take one service away, keeping its data (how tests cause a real outage)."""
    _noida("stop", service, data_dir=endpoints.data_dir)


def start_service(endpoints: StackEndpoints, service: str) -> None:
    _noida("start", service, data_dir=endpoints.data_dir)


def _without_glibc_noise(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if "GLIBC_" not in line).strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def env_for(endpoints: StackEndpoints) -> dict[str, str]:
    env = dict(os.environ)
    env["NEWSWATCH_KAFKA_BOOTSTRAP"] = endpoints.kafka_bootstrap
    env["NEWSWATCH_ES_URL"] = endpoints.es_url
    return env
