"""Create the pipeline's Kafka topics when they are missing (idempotent, safe to race)."""

from __future__ import annotations

import logging

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from ingest.settings import Settings

log = logging.getLogger(__name__)


def ensure_topics(settings: Settings) -> list[str]:
    """Create news.articles (N partitions), news.alerts and news.dlq; return those created."""
    wanted = {
        settings.articles_topic: settings.articles_partitions,
        settings.alerts_topic: max(1, min(3, settings.articles_partitions)),
        settings.dlq_topic: 1,
    }
    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, client_id="newswatch-admin",
        request_timeout_ms=15000,
    )
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, partitions, settings.replication_factor)
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
        return created
    finally:
        admin.close()
