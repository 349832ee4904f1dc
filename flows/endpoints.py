"""Where the embedded stack listens, derived from the same settings the clients use."""

from __future__ import annotations

from infra.embedded_stack import StackEndpoints
from ingest.common.settings import Settings


def endpoints_of(settings: Settings) -> StackEndpoints:
    kafka_host, kafka_port = settings.kafka_host_port
    es_host, es_port = settings.es_host_port
    return StackEndpoints(settings.stack_dir, kafka_host, kafka_port, es_host, es_port)
