"""Topic retention: set at creation, only ever lengthened on an existing topic."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAuthorizationFailedError
from pydantic import ValidationError

from ingest.common.kafka_topics import _lengthen_retention, ensure_topics, topic_retention_ms
from ingest.common.settings import Settings
from ingest.common.topic_retention import FOREVER, is_longer, retention_to_set

HOUR = 3600 * 1000
DAY = 24 * HOUR


@pytest.mark.parametrize(("a", "b", "longer"), [
    (FOREVER, DAY, True), (DAY, FOREVER, False), (FOREVER, FOREVER, False),
    (2 * DAY, DAY, True), (DAY, 2 * DAY, False), (DAY, DAY, False),
])
def test_forever_outlasts_every_duration(a: int, b: int, longer: bool) -> None:
    assert is_longer(a, b) is longer


def test_existing_retention_is_lengthened_never_shortened() -> None:
    assert retention_to_set(HOUR, FOREVER) == FOREVER
    assert retention_to_set(HOUR, DAY) == DAY
    assert retention_to_set(30 * DAY, 7 * DAY) is None  # an operator raised it: kept
    assert retention_to_set(FOREVER, 7 * DAY) is None
    assert retention_to_set(7 * DAY, 7 * DAY) is None


def test_unknown_broker_default_is_only_replaced_by_forever() -> None:
    """Without a reported value the broker default could be anything: only "forever" is
    certain not to delete sooner."""
    assert retention_to_set(None, FOREVER) == FOREVER
    assert retention_to_set(None, 7 * DAY) is None


@pytest.mark.parametrize("value", ["0", "-2"])
def test_a_retention_that_keeps_nothing_is_refused(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_DLQ_RETENTION_MS", value)
    with pytest.raises(ValidationError, match="dlq_retention_ms"):
        Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def admin(settings: Settings) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    yield client
    client.close()


def test_new_topics_get_their_configured_retention(
    settings: Settings, admin: KafkaAdminClient
) -> None:
    ensure_topics(settings)
    retention = topic_retention_ms(
        admin, [settings.articles_topic, settings.alerts_topic, settings.dlq_topic]
    )
    assert retention == {
        settings.articles_topic: 7 * DAY,
        settings.alerts_topic: 30 * DAY,
        settings.dlq_topic: FOREVER,  # dead letters wait for a replay, however long it takes
    }


def test_a_dlq_created_with_a_short_retention_is_made_to_keep_its_letters(
    settings: Settings, admin: KafkaAdminClient
) -> None:
    admin.create_topics([
        NewTopic(settings.dlq_topic, 1, 1, topic_configs={"retention.ms": str(HOUR)}),
        NewTopic(settings.articles_topic, 3, 1, topic_configs={"retention.ms": str(30 * DAY)}),
    ])
    assert ensure_topics(settings) == [settings.alerts_topic, settings.dlq_replays_topic]
    retention = topic_retention_ms(admin, [settings.dlq_topic, settings.articles_topic])
    assert retention[settings.dlq_topic] == FOREVER
    assert retention[settings.articles_topic] == 30 * DAY  # longer than configured: kept


class _RefusingAdmin:
    """A broker that denies DescribeConfigs (no ACL for it): ensure_topics must go on."""

    def describe_configs(self, resources: object) -> dict[str, object]:
        raise TopicAuthorizationFailedError("DescribeConfigs denied")


def test_a_broker_refusing_config_calls_is_logged_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _lengthen_retention(_RefusingAdmin(), {"news.dlq": FOREVER})
    record = next(r for r in caplog.records if "retention not checked" in r.getMessage())
    assert record.levelname == "WARNING"
    assert record.topics == ["news.dlq"]  # type: ignore[attr-defined]
