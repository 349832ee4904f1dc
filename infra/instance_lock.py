"""One `newswatch run` per data folder: an exclusive lock with the holder's pid in it.

Two supervisors on one data folder would start a second poll runner and workers with the
same static group instance ids (fenced, uncommitted batches). The lock is `flock` on
`$NEWSWATCH_DATA_DIR/newswatch.pid`: the kernel releases it when the holder dies however it
dies (even `kill -9`), so a stale file never blocks a new run, and the pid written in it is
only believed while the lock is held. The descriptor is not inherited by children, so a
child outliving a killed supervisor does not keep the lock either.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class AlreadyRunning(Exception):
    def __init__(self, pid: int | None, path: Path) -> None:
        self.pid = pid
        self.path = path
        who = f"pid {pid}" if pid else "pid unknown"
        super().__init__(f"newswatch is already running ({who}) on {path.parent}; "
                         "`newswatch status` shows it, `newswatch stop` stops it")


def lock_path(data_dir: Path) -> Path:
    return data_dir / "newswatch.pid"


class InstanceLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = lock_path(data_dir)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise AlreadyRunning naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(_read_pid(self.path), self.path) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def holder(data_dir: Path) -> int | None:
    """Pid of the running supervisor of this data folder; None when none holds the lock."""
    path = lock_path(data_dir)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(path) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None
