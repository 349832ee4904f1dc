"""Job functions for pool tests. Module-level so worker processes can import them by name."""

from __future__ import annotations

import os
import time
from typing import Any


def square(x: int) -> int:
    return x * x


def exit_abruptly(code: int) -> None:
    os._exit(code)  # no cleanup, no exception: what a crashing C extension looks like


def sleep_then_return(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def raise_value_error(message: str) -> None:
    raise ValueError(message)


def worker_pid(_: object) -> int:
    return os.getpid()


def allocate(n_bytes: int) -> int:
    return len(bytearray(n_bytes))


def run_named(job: tuple[str, Any]) -> Any:
    """One worker function for mixed queues: ("square", x), ("sleep", s) or ("exit", code)."""
    kind, value = job
    if kind == "exit":
        exit_abruptly(value)
    if kind == "sleep":
        return sleep_then_return(value)
    return square(value)
