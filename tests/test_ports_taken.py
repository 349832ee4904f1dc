"""Issue 16, item 4: a port already taken is one clear line naming the port and the process
holding it, nothing just started is left running, and `stack status` does not call a
stranger's listener "kafka up"."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.embedded_stack import StackEndpoints, StackError, free_port, stack_status, stack_up
from infra.owned_processes import owned_processes
from infra.port_owner import port_holder
from tests.conftest import REPO

pytestmark = pytest.mark.integration  # starts an embedded stack of its own


@pytest.fixture
def stranger() -> Iterator[int]:
    """A port this test process listens on (the "foreign" holder)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _endpoints(tmp_path: Path, kafka_port: int, es_port: int) -> StackEndpoints:
    return StackEndpoints(tmp_path / "stack", "127.0.0.1", kafka_port, "127.0.0.1", es_port)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_port_holder_names_the_listening_process(stranger: int) -> None:
    holder = port_holder("127.0.0.1", stranger)
    assert holder is not None and holder.pid == os.getpid()
    assert f"pid {os.getpid()}" in holder.describe()
    assert port_holder("127.0.0.1", free_port()) is None


def test_stack_up_on_a_taken_kafka_port_names_it_and_starts_nothing(
    tmp_path: Path, stranger: int
) -> None:
    es_port = free_port()
    with pytest.raises(StackError) as err:
        stack_up(_endpoints(tmp_path, stranger, es_port))
    message = str(err.value)
    assert f"port {stranger} (kafka) is taken by pid {os.getpid()}" in message
    assert "NEWSWATCH_KAFKA_BOOTSTRAP" in message
    assert not _port_open(es_port)  # Elasticsearch was not started either


def test_stack_status_does_not_call_a_strangers_listener_up(
    tmp_path: Path, stranger: int
) -> None:
    status = stack_status(_endpoints(tmp_path, stranger, free_port()))
    assert not status["kafka"].startswith("up")
    assert status["kafka"].startswith("taken") and f"pid {os.getpid()}" in status["kafka"]
    assert status["elasticsearch"].startswith("down")


def test_run_with_the_prefect_port_taken_says_so_in_one_line_and_leaves_nothing(
    tmp_path: Path, stranger: int
) -> None:
    kafka_port, es_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSWATCH_", "PREFECT_"))}
    env.update({
        "NEWSWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka_port}",
        "NEWSWATCH_ES_URL": f"http://127.0.0.1:{es_port}",
        "NEWSWATCH_PREFECT_PORT": str(stranger),
        "NEWSWATCH_DATA_DIR": str(tmp_path / "data"),
        "NEWSWATCH_CONFIG_DIR": str(REPO / "config"),
    })
    result = subprocess.run([sys.executable, "-m", "flows.cli", "run"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(
        f"error: port {stranger} (Prefect server) is taken by pid {os.getpid()}")
    assert "NEWSWATCH_PREFECT_PORT" in errors[0]
    assert "Traceback" not in result.stderr
    assert not _port_open(kafka_port) and not _port_open(es_port)
    assert owned_processes(tmp_path / "data") == []
