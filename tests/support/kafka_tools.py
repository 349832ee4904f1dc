"""Reading and writing topics directly in tests (real Kafka protocol, no mocks)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from ingest.common.settings import Settings
from ingest.message.article import Article


def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for key, value in records:
        producer.send(topic, key=key, value=value)
    producer.flush(30)
    producer.close()


def produce_articles(settings: Settings, articles: Iterable[Article]) -> None:
    """Articles onto the settings' articles topic, keyed by id, as the poller writes them."""
    produce(settings.kafka_bootstrap, settings.articles_topic,
            [(a.id.encode(), a.to_bytes()) for a in articles])


def read_all(bootstrap: str, topic: str, timeout_s: float = 10) -> list[Any]:
    """Every record currently in the topic, from the beginning, without a consumer group."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        deadline = time.monotonic() + timeout_s
        partitions = None
        while partitions is None and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                time.sleep(0.2)
        if not partitions:
            return []
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        records: list[Any] = []
        while time.monotonic() < deadline:
            if all(consumer.position(tp) >= end[tp] for tp in tps):
                break
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()
