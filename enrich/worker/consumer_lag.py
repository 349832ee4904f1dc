"""How far the consumer group is behind: committed offset vs end offset per partition."""

from __future__ import annotations

from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition

from ingest.common.settings import Settings


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    committed: int  # 0 when the group never committed
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)


def group_lag(settings: Settings) -> list[PartitionLag]:
    # A consumer with the group id that never subscribes reads the group's commits without
    # joining it, so measuring lag never triggers a rebalance.
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                             group_id=settings.consumer_group, enable_auto_commit=False,
                             client_id="newswatch-lag")
    try:
        partitions = consumer.partitions_for_topic(settings.articles_topic) or set()
        tps = [TopicPartition(settings.articles_topic, p) for p in sorted(partitions)]
        ends = consumer.end_offsets(tps) if tps else {}
        return [PartitionLag(tp.partition, consumer.committed(tp) or 0, ends[tp]) for tp in tps]
    finally:
        consumer.close(autocommit=False)
