"""Serve this process's Prometheus metrics on the configured port (one port per process)."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def serve_metrics(port: int | None, registry: CollectorRegistry | None = None) -> None:
    if port is None:
        return
    try:
        if registry is None:
            start_http_server(port, addr="127.0.0.1")
        else:
            start_http_server(port, addr="127.0.0.1", registry=registry)
    except OSError as exc:  # metrics must never stop the pipeline
        log.error("metrics endpoint not started", extra={"port": port, "error": str(exc)})
        return
    log.info("metrics endpoint started", extra={"url": f"http://127.0.0.1:{port}/metrics"})


def in_multiprocess_mode(directory: Path) -> None:
    """Make this process, and every process it starts, count into files under `directory`.

    The poll runner's work happens in other processes: `flow.serve()` runs each flow run in
    a child process, so counters incremented there never reach the serving process's
    registry. prometheus_client's multiprocess mode fixes that, but only for processes that
    have `PROMETHEUS_MULTIPROC_DIR` set before prometheus_client is imported; so when it is
    not set yet this empties `directory` (a new runner starts from zero, as any restarted
    Prometheus target does), sets it, and re-executes the same command line. Returns only
    once the variable is set.
    """
    if os.environ.get(MULTIPROC_ENV):
        Path(os.environ[MULTIPROC_ENV]).mkdir(parents=True, exist_ok=True)
        return
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory.resolve())
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, list(sys.orig_argv))


def serve_multiprocess_metrics(port: int, *extra: Collector) -> None:
    """Serve the sum over every process of this one's multiprocess directory (flow runs that
    ended included: their totals stay counted), plus `extra` collectors."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=os.environ[MULTIPROC_ENV])
    for collector in extra:
        registry.register(collector)
    serve_metrics(port, registry)
