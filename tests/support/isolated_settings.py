"""Settings for one test (or one module) on the session's embedded stack: every topic, index
and group named after a fresh run id, so tests sharing the server never see each other's data."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from infra.embedded_stack import StackEndpoints
from ingest.common.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def isolated_env(endpoints: StackEndpoints, data_dir: Path) -> dict[str, str]:
    run = uuid.uuid4().hex[:8]
    return {
        "NEWSWATCH_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
        "NEWSWATCH_ES_URL": endpoints.es_url,
        "NEWSWATCH_DATA_DIR": str(data_dir),
        "NEWSWATCH_CONFIG_DIR": str(REPO / "config"),
        "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true",
        "NEWSWATCH_ARTICLES_TOPIC": f"t{run}.articles",
        "NEWSWATCH_ALERTS_TOPIC": f"t{run}.alerts",
        "NEWSWATCH_DLQ_TOPIC": f"t{run}.dlq",
        "NEWSWATCH_ARTICLES_PARTITIONS": "3",
        "NEWSWATCH_ARTICLES_ALIAS": f"nw{run}-articles",
        "NEWSWATCH_FEEDS_INDEX": f"nw{run}-feeds",
        "NEWSWATCH_ALERTS_INDEX": f"nw{run}-alerts",
        "NEWSWATCH_CONSUMER_GROUP": f"g{run}",
        "NEWSWATCH_WORKER_INSTANCE": f"test-{run}-0",
        "NEWSWATCH_LOG_FORMAT": "text",
    }


def isolated_settings(endpoints: StackEndpoints, data_dir: Path,
                      monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Set the environment of `isolated_env` (commands run in the test read it too) and read
    the settings from it."""
    for key, value in isolated_env(endpoints, data_dir).items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]
