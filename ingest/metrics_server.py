"""Serve this process's Prometheus metrics on the configured port (one port per process)."""

from __future__ import annotations

import logging

from prometheus_client import start_http_server

log = logging.getLogger(__name__)


def serve_metrics(port: int | None) -> None:
    if port is None:
        return
    try:
        start_http_server(port, addr="127.0.0.1")
    except OSError as exc:  # metrics must never stop the pipeline
        log.error("metrics endpoint not started", extra={"port": port, "error": str(exc)})
        return
    log.info("metrics endpoint started", extra={"url": f"http://127.0.0.1:{port}/metrics"})
