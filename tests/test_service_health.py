"""The newswatch containers' healthcheck, against the embedded Kafka + Elasticsearch."""

from __future__ import annotations

import pytest

from infra.embedded_stack import free_port
from infra.service_health import problems
from ingest.common.settings import Settings


@pytest.mark.integration
def test_healthy_when_kafka_and_elasticsearch_answer(settings: Settings) -> None:
    assert problems(settings) == []


@pytest.mark.integration
def test_names_each_unreachable_dependency(settings: Settings) -> None:
    dead = free_port()
    broken = settings.model_copy(
        update={
            "kafka_bootstrap": f"127.0.0.1:{dead}",
            "es_url": f"http://127.0.0.1:{dead}",
            "metrics_port": dead,
        }
    )
    found = problems(broken, timeout_s=1)
    assert [p.split(" ", 1)[0] for p in found] == ["kafka", "elasticsearch", "metrics"]
    assert all(str(dead) in p for p in found)
