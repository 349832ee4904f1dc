"""Create the pipeline's Kafka topics when they are missing (idempotent, safe to race), each
with its configured retention; lengthen the retention of existing ones that keep less."""

from __future__ import annotations

import logging
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ingest.common.settings import Settings
from ingest.common.topic_retention import retention_to_set

log = logging.getLogger(__name__)


def ensure_topics(settings: Settings) -> list[str]:
    """Create news.articles (N partitions), news.alerts, news.dlq and news.dlq.replays;
    return those created."""
    wanted = {
        settings.articles_topic: settings.articles_partitions,
        settings.alerts_topic: max(1, min(3, settings.articles_partitions)),
        settings.dlq_topic: 1,
        settings.dlq_replays_topic: 1,
    }
    retention = {
        settings.articles_topic: settings.articles_retention_ms,
        settings.alerts_topic: settings.alerts_retention_ms,
        settings.dlq_topic: settings.dlq_retention_ms,
    }
    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, client_id="newswatch-admin",
        request_timeout_ms=15000,
    )
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, partitions, settings.replication_factor,
                     topic_configs=_topic_configs(name, settings, retention))
            for name, partitions in wanted.items()
            if name not in existing
        ]
        created: list[str] = []
        for topic in missing:
            try:
                admin.create_topics([topic])
                created.append(topic.name)
                log.info("created topic", extra={"topic": topic.name,
                                                   "partitions": topic.num_partitions})
            except TopicAlreadyExistsError:
                pass
        _lengthen_retention(admin, {t: ms for t, ms in retention.items() if t in existing})
        return created
    finally:
        admin.close()


def _topic_configs(name: str, settings: Settings, retention: dict[str, int]) -> dict[str, str]:
    if name == settings.dlq_replays_topic:
        # One receipt per letter, keyed by it: compaction keeps the latest, nothing expires.
        return {"cleanup.policy": "compact"}
    return {"retention.ms": str(retention[name])}


def topic_retention_ms(admin: KafkaAdminClient, topics: list[str]) -> dict[str, int | None]:
    """retention.ms of each topic as the broker reports it (None: not reported)."""
    if not topics:
        return {}
    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics]
    )
    configs: dict[str, dict[str, Any]] = described.get("topic", {})
    found: dict[str, int | None] = {}
    for topic in topics:
        entry = (configs.get(topic) or {}).get("retention.ms") or {}
        try:
            found[topic] = int(entry["value"])
        except (KeyError, TypeError, ValueError):
            found[topic] = None
    return found


def _lengthen_retention(admin: KafkaAdminClient, wanted: dict[str, int]) -> None:
    """Lengthen, never shorten. A broker that refuses (no DescribeConfigs/AlterConfigs right)
    does not stop the pipeline: the topics work, and the log says retention was not checked."""
    try:
        current = topic_retention_ms(admin, sorted(wanted))
        changes = {
            topic: new
            for topic, ms in wanted.items()
            if (new := retention_to_set(current.get(topic), ms)) is not None
        }
        if changes:
            admin.alter_configs([
                ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": str(ms)})
                for topic, ms in sorted(changes.items())
            ])
    except KafkaError as exc:
        log.warning("topic retention not checked: the broker refused", extra={
            "topics": sorted(wanted), "error": repr(exc)})
        return
    for topic, ms in sorted(changes.items()):
        log.info("lengthened topic retention", extra={
            "topic": topic, "retention_ms": ms, "was_ms": current.get(topic)})
