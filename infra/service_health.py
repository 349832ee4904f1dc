"""Docker healthcheck for the newswatch poll runner and workers: `python -m infra.service_health`.

A worker or runner that cannot reach Kafka or Elasticsearch does no work, so the check asks
both, with the same settings the service uses (NEWSWATCH_KAFKA_BOOTSTRAP, NEWSWATCH_ES_URL).
When NEWSWATCH_METRICS_PORT is set, the service's own metrics endpoint must answer too, which
also proves the process itself is alive. Exit 0 healthy, 1 not, with the reason on stderr.
"""

from __future__ import annotations

import socket
import sys

import httpx

from ingest.common.settings import Settings


def problems(settings: Settings, timeout_s: float = 3.0) -> list[str]:
    found: list[str] = []
    host, port = settings.kafka_host_port
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        found.append(f"kafka {host}:{port}: {exc}")
    try:
        response = httpx.get(settings.es_url, timeout=timeout_s)
        if response.status_code != 200:
            found.append(f"elasticsearch {settings.es_url}: HTTP {response.status_code}")
    except httpx.HTTPError as exc:
        found.append(f"elasticsearch {settings.es_url}: {exc}")
    if settings.metrics_port is not None:
        url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
        try:
            if httpx.get(url, timeout=timeout_s).status_code != 200:
                found.append(f"metrics {url}: not 200")
        except httpx.HTTPError as exc:
            found.append(f"metrics {url}: {exc}")
    return found


def main() -> int:
    found = problems(Settings())
    for problem in found:
        print(f"unhealthy: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
