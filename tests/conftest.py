"""Shared fixtures: the embedded Kafka + Elasticsearch (noida-db) for the whole session, and
per-test isolation by unique topic, alias and consumer-group names on those servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.embedded_stack import StackEndpoints, free_port, stack_down, stack_up
from ingest.common.es_client import make_es
from ingest.common.settings import Settings
from ingest.feeds.feed_state import FeedStateStore
from ingest.poll.poll_run import prepare_ingest
from tests.support.http_fixture_server import FixtureServer
from tests.support.isolated_settings import isolated_settings
from tests.support.tansu import start_tansu, stop_tansu, tansu_requested

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPORA = SHARED / "corpora"


@pytest.fixture(scope="session")
def embedded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackEndpoints]:
    endpoints = StackEndpoints(
        data_dir=tmp_path_factory.mktemp("stack"),
        kafka_host="127.0.0.1",
        kafka_port=free_port(),
        es_host="127.0.0.1",
        es_port=free_port(),
    )
    if not tansu_requested():
        stack_up(endpoints)
        yield endpoints
        stack_down(endpoints)
        return
    # `make test-tansu`: Kafka from Tansu, Elasticsearch from noida-db.
    broker = start_tansu(endpoints.kafka_port, endpoints.data_dir / "tansu.log")
    try:
        stack_up(endpoints, services="elasticsearch")
        yield endpoints
        stack_down(endpoints)
    finally:
        stop_tansu(broker)


@pytest.fixture
def settings(
    embedded_stack: StackEndpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings pointing at the session stack, with names no other test uses."""
    return isolated_settings(embedded_stack, tmp_path / "data", monkeypatch)


@pytest.fixture
def store(settings: Settings) -> Iterator[FeedStateStore]:
    """The feed state store of this test's settings, its index and template installed."""
    prepare_ingest(settings)
    es = make_es(settings)
    yield FeedStateStore.from_settings(es, settings)
    es.close()


@pytest.fixture
def fixture_server() -> Iterator[FixtureServer]:
    server = FixtureServer().start()
    yield server
    server.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the live stack (directly or through `settings`, `store`, ...) is
    marked `integration`, so `pytest -m "not integration"` runs the unit tests alone and no
    module can forget the marker. Modules that start a stack of their own mark themselves."""
    for item in items:
        if "embedded_stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


def pytest_report_header() -> str:
    return f"corpora: {CORPORA} ({'present' if CORPORA.exists() else 'MISSING'})"


os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
