"""Who listens on a local TCP port: so "port taken" errors name the process holding it.

`newswatch run` and `stack up` start servers on fixed ports (9092, 9200, 4200). When one is
taken the useful message is which process holds it, not a traceback or an empty "exit 1";
psutil reads that from the kernel's socket table (every process for root, one's own
otherwise: then only "another process").
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import psutil

_LOCAL = {"127.0.0.1", "::1", "localhost", "0.0.0.0", "::", ""}


@dataclass(frozen=True)
class PortHolder:
    port: int
    pid: int | None  # None: the socket belongs to a process this user may not inspect
    command: str

    def describe(self) -> str:
        if self.pid is None:
            return "another process"
        return f"pid {self.pid} ({self.command})" if self.command else f"pid {self.pid}"


def _command(pid: int) -> str:
    try:
        process = psutil.Process(pid)
        words = process.cmdline() or [process.name()]
    except (psutil.Error, OSError):
        return ""
    text = " ".join(words)
    return text if len(text) <= 120 else text[:119] + "…"


def listening(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def port_holder(host: str, port: int) -> PortHolder | None:
    """The process listening on `port` of this machine; None when nothing listens.

    Only meaningful for a local `host`; for another host the answer is "another process"
    whenever the port answers.
    """
    if host in _LOCAL or host.startswith("127."):
        try:
            for conn in psutil.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                    pid = conn.pid
                    return PortHolder(port, pid, _command(pid) if pid else "")
        except (psutil.Error, OSError):
            pass
    return PortHolder(port, None, "") if listening(host, port) else None
