"""Processes a `newswatch run` started, found again by a mark in their environment.

Every child of the supervisor (Prefect server, poll runner, workers) gets
`NEWSWATCH_SUPERVISOR=<data dir>` in its environment, and everything those start inherits it
(flow-run processes, extraction pools). That mark is the proof a later run needs before it
ends a process: after the supervisor was killed with SIGKILL, a new `newswatch run` (holding
the data folder's lock, so no live supervisor owns them) ends exactly the processes marked
with its data folder, whatever their parent is now, and nothing else.

Each child leads its own process group (so a Ctrl-C at the terminal reaches only the
supervisor, which stops them in order) and, on Linux, is sent SIGTERM by the kernel when
the supervisor dies without stopping it (PR_SET_PDEATHSIG): a killed supervisor's workers
finish their batch and stop instead of polling on with nobody to stop them.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

MARK = "NEWSWATCH_SUPERVISOR"
CHILD_NAME = "NEWSWATCH_CHILD"
_PR_SET_PDEATHSIG = 1


def mark_of(data_dir: Path) -> str:
    return str(data_dir.resolve())


def marked_env(env: dict[str, str], data_dir: Path, name: str) -> dict[str, str]:
    return {**env, MARK: mark_of(data_dir), CHILD_NAME: name}


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def start_owned(command: Sequence[str], env: dict[str, str], log_file: Path,
                cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start `command` in its own process group, output appended to `log_file`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        return subprocess.Popen(
            list(command), env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=cwd,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )


@dataclass(frozen=True)
class OwnedProcess:
    pid: int
    name: str  # the child it belongs to (poll-runner, worker-0, prefect-server, ...)
    command: str


def owned_processes(data_dir: Path) -> list[OwnedProcess]:
    """Every live process carrying this data folder's mark, oldest first."""
    mark = mark_of(data_dir)
    found: list[tuple[float, OwnedProcess]] = []
    for process in psutil.process_iter(["pid", "create_time", "status"]):
        if process.pid == os.getpid() or process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            env = process.environ()
        except (psutil.Error, OSError):
            continue
        if env.get(MARK) != mark:
            continue
        try:
            command = " ".join(process.cmdline())
        except (psutil.Error, OSError):
            command = ""
        found.append((process.info["create_time"] or 0.0,
                      OwnedProcess(process.pid, env.get(CHILD_NAME, "?"), command[:160])))
    return [owned for _, owned in sorted(found, key=lambda pair: pair[0])]


def _alive(pids: Iterable[int]) -> list[psutil.Process]:
    alive = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.Error:
            continue
    return alive


def terminate_trees(processes: Sequence[tuple[subprocess.Popen[bytes], str]],
                    grace_s: float = 30.0) -> None:
    """SIGTERM each process's group (its own children stop with it) all at once, wait up to
    `grace_s` for all of them, then SIGKILL whatever of the groups and descendants is left."""
    trees: list[tuple[subprocess.Popen[bytes], str, set[int]]] = []
    for process, name in processes:
        try:
            members = {process.pid,
                       *(c.pid for c in psutil.Process(process.pid).children(recursive=True))}
        except psutil.Error:
            members = {process.pid}
        trees.append((process, name, members))
        _signal_group(process.pid, signal.SIGTERM)

    def left() -> list[tuple[subprocess.Popen[bytes], str, set[int]]]:
        for process, _, _ in trees:
            process.poll()  # reaps our own child: a zombie is not alive
        return [t for t in trees if _alive(t[2]) or _group_alive(t[0].pid)]

    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and left():
        time.sleep(0.1)
    for process, name, members in left():
        log.warning("did not stop in time, killing", extra={"child": name, "pid": process.pid})
        _signal_group(process.pid, signal.SIGKILL)
        for leftover in _alive(members):
            with contextlib.suppress(psutil.Error):
                leftover.kill()
        process.wait()


def end_owned(data_dir: Path, grace_s: float = 30.0) -> list[OwnedProcess]:
    """End every process marked with `data_dir` (left by a supervisor that died): SIGTERM,
    then SIGKILL after `grace_s`. Returns what was found."""
    found = owned_processes(data_dir)
    if not found:
        return []
    for owned in found:
        _signal(owned.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _alive(o.pid for o in found):
        time.sleep(0.1)
    for left in _alive(o.pid for o in found):
        with contextlib.suppress(psutil.Error):
            left.kill()
    return found


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _group_alive(pgid: int) -> bool:
    for process in psutil.process_iter(["pid", "status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            if os.getpgid(process.pid) == pgid:
                return True
        except (ProcessLookupError, PermissionError):
            continue
    return False
