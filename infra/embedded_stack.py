"""The embedded stack: Kafka protocol + Elasticsearch API from the PyPI package noida-db.

One machine, no Docker: `newswatch stack up` starts noida-db in the background on the ports the
settings name and returns once both services answer; the data stays under the data folder so a
second `up` resumes. Production runs the real servers from infra/docker-compose.yml instead;
the pipeline code cannot tell the difference.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from infra.port_owner import PortHolder, port_holder


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
        start_new_session=True,  # a Ctrl-C meant for the caller must not cut a start short
    )


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _es_answers(url: str) -> bool:
    """An Elasticsearch-API server answers `GET /` with its version (any 200 is not enough:
    a stranger's web server on the port is not the stack)."""
    try:
        response = httpx.get(url, timeout=2)
        body = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return False
    return isinstance(body, dict) and isinstance(body.get("version"), dict)


_PROBE_ID = 0x4E57


def _speaks_kafka(host: str, port: int, timeout_s: float = 2.0) -> bool:
    """A Kafka-protocol server answers an ApiVersions (v0) request with our correlation id;
    a port that merely accepts connections does not."""
    client = b"newswatch-probe"
    body = struct.pack(">hhih", 18, 0, _PROBE_ID, len(client)) + client
    head = b""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            while len(head) < 8:
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    return False
                head += chunk
    except OSError:
        return False
    size, correlation = struct.unpack(">ii", head)
    return correlation == _PROBE_ID and 0 < size < 1_000_000


def noida_pid(data_dir: Path) -> int | None:
    """Pid of the noida-db server of this data folder, when one runs (its control file)."""
    try:
        control = json.loads((data_dir / "noida.control.json").read_text(encoding="utf-8"))
        pid = int(control["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def foreign_holders(endpoints: StackEndpoints) -> list[tuple[str, PortHolder]]:
    """The stack's ports held by a process that does not answer as Kafka / Elasticsearch
    there: starting the stack fails on them, and calling them "up" would be wrong. (A real
    Kafka or another data folder's noida-db does answer: it is used as it is.)"""
    found = []
    kafka = port_holder(endpoints.kafka_host, endpoints.kafka_port)
    if kafka is not None and not _speaks_kafka(endpoints.kafka_host, endpoints.kafka_port):
        found.append(("kafka", kafka))
    es = port_holder(endpoints.es_host, endpoints.es_port)
    if es is not None and not _es_answers(endpoints.es_url):
        found.append(("elasticsearch", es))
    return found


def _taken_message(taken: list[tuple[str, PortHolder]]) -> str:
    service, holder = taken[0]
    setting = "NEWSWATCH_KAFKA_BOOTSTRAP" if service == "kafka" else "NEWSWATCH_ES_URL"
    return (f"port {holder.port} ({service}) is taken by {holder.describe()}: stop it, or "
            f"point {setting} at a free port")


def is_up(endpoints: StackEndpoints) -> bool:
    return _speaks_kafka(endpoints.kafka_host, endpoints.kafka_port) and _es_answers(
        endpoints.es_url
    )


def stack_up(
    endpoints: StackEndpoints, *, wait_s: float = 60, services: str = "kafka,elasticsearch"
) -> bool:
    """Start the stack unless it already answers. Returns True when this call started it.

    `services="elasticsearch"` leaves the Kafka port to another broker already listening
    there (`make test-tansu` runs Tansu in its place). A port held by a process that does not
    answer as Kafka / Elasticsearch is an error naming the holder."""
    taken = foreign_holders(endpoints)
    if taken:
        raise StackError(_taken_message(taken))
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
        detail = _error_lines(result.stdout + "\n" + result.stderr)
        raise StackError(f"noida-db up failed (exit {result.returncode}): {detail}; "
                         f"log: {endpoints.data_dir}/noida.log")
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
    """`up` only for this data folder's own servers; a port held by another process says so."""
    taken = dict(foreign_holders(endpoints))
    kafka = taken.get("kafka")
    es = taken.get("elasticsearch")
    return {
        "kafka": (
            f"taken {endpoints.kafka_bootstrap} by {kafka.describe()}, which is not Kafka"
            if kafka is not None
            else f"up {endpoints.kafka_bootstrap}"
            if _port_open(endpoints.kafka_host, endpoints.kafka_port)
            else f"down {endpoints.kafka_bootstrap}"
        ),
        "elasticsearch": (
            f"taken {endpoints.es_url} by {es.describe()}, which is not Elasticsearch"
            if es is not None
            else f"up {endpoints.es_url}"
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


def _error_lines(text: str) -> str:
    """noida-db's `error:`/`hint:` lines (on stdout), else whatever it said, on one line."""
    lines = [line.strip(" ✗") for line in _without_glibc_noise(text).splitlines()
             if line.strip()]
    errors = [line for line in lines if line.startswith(("error:", "hint:"))]
    return "; ".join(errors or lines[-3:]) or "no output"


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
