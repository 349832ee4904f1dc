"""`newswatch status` and `newswatch stop`: the whole service of one data folder.

Both find the supervisor through its lock (infra.instance_lock) and its processes through the
mark in their environment (infra.owned_processes), so they also see what a supervisor killed
with SIGKILL left behind, and `stop` ends that too (and the stack that run had started).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field

from flows.endpoints import endpoints_of
from flows.service import clear_state, read_state
from infra.embedded_stack import noida_pid, stack_down, stack_status
from infra.instance_lock import holder
from infra.owned_processes import OwnedProcess, end_owned, owned_processes
from infra.prefect_server import server_healthy
from ingest.common.settings import Settings

NOT_RUNNING = 3  # the LSB exit status of `status` for "program is not running"


@dataclass
class ServiceReport:
    lines: list[str] = field(default_factory=list)
    exit_code: int = 0


def service_status(settings: Settings) -> ServiceReport:
    data_dir = settings.data_dir
    pid = holder(data_dir)
    processes = owned_processes(data_dir)
    report = ServiceReport()
    if pid is not None:
        since = read_state(data_dir).get("started_at", "?")
        report.lines.append(f"newswatch is running (pid {pid}, since {since}) on {data_dir}")
    elif processes:
        report.lines.append(
            f"newswatch is not running, but {len(processes)} of its processes are left from a "
            "run that was killed: `newswatch stop` ends them (a new `newswatch run` does too)")
        report.exit_code = 1
    else:
        report.lines.append(f"newswatch is not running on {data_dir}")
        report.exit_code = NOT_RUNNING
    report.lines += [f"  {p.name:16} pid {p.pid:<8} {p.command}" for p in _main(processes)]
    for name, value in stack_status(endpoints_of(settings)).items():
        if name != "data_dir":
            report.lines.append(f"  {name:16} {value}")
    prefect = "up" if server_healthy(settings.prefect_port) else "down"
    report.lines.append(f"  {'prefect':16} {prefect} http://127.0.0.1:{settings.prefect_port}")
    return report


def _main(processes: list[OwnedProcess]) -> list[OwnedProcess]:
    """One line per child (its oldest process), not one per pool or flow-run process."""
    seen: set[str] = set()
    chosen = []
    for process in processes:
        if process.name not in seen:
            seen.add(process.name)
            chosen.append(process)
    return chosen


def stop_running_service(settings: Settings, timeout_s: float = 180.0) -> ServiceReport:
    """SIGTERM the supervisor and wait until it has stopped everything; with no supervisor,
    end what a killed one left (and its stack). Idempotent."""
    data_dir = settings.data_dir
    report = ServiceReport()
    pid = holder(data_dir)
    if pid is not None and pid > 0:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while holder(data_dir) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        if holder(data_dir) is not None:
            report.lines.append(f"the supervisor (pid {pid}) did not stop within "
                                f"{timeout_s:.0f}s; killing it")
            os.kill(pid, signal.SIGKILL)
            while holder(data_dir) is not None:
                time.sleep(0.1)
        else:
            report.lines.append(f"stopped newswatch (pid {pid}); data kept under {data_dir}")
            return report
    state = read_state(data_dir)
    left = end_owned(data_dir, grace_s=10.0)
    if left:
        report.lines.append(f"ended {len(left)} processes left by a killed run: "
                            + ", ".join(sorted({p.name for p in left})))
    endpoints = endpoints_of(settings)
    if state.get("stack_started") and noida_pid(endpoints.data_dir) is not None:
        stack_down(endpoints)
        report.lines.append("stopped the stack that run started (data kept)")
    clear_state(data_dir)
    if not report.lines:
        report.lines.append(f"newswatch is not running on {data_dir}")
    return report
