"""Kafka: the notification's JSON body on another topic, keyed by rule, acknowledged before
the delivery counts. Without `bootstrap` it uses the engine's producer (same cluster)."""

from __future__ import annotations

import json
import threading
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from enrich.alerts.channels.base import ChannelResources, DeliveryFailed
from enrich.alerts.notification import Notification
from enrich.alerts.rules.rules_config import ChannelConfig


class KafkaChannel:
    def __init__(self, config: ChannelConfig, resources: ChannelResources) -> None:
        self.config = config
        self._resources = resources
        self._own: Any = None
        self._lock = threading.Lock()

    def _producer(self) -> Any:
        if not self.config.bootstrap:
            if self._resources.producer is None:
                raise DeliveryFailed("no Kafka producer available to the alert engine")
            return self._resources.producer
        with self._lock:
            if self._own is None:
                try:
                    self._own = KafkaProducer(
                        bootstrap_servers=self.config.bootstrap, acks="all",
                        client_id=f"newswatch-alerts-{self.config.name}",
                    )
                except KafkaError as exc:
                    raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
            return self._own

    def send(self, note: Notification) -> None:
        assert self.config.topic is not None
        value = json.dumps(note.body, ensure_ascii=False).encode("utf-8")
        try:
            future = self._producer().send(
                self.config.topic, key=note.rule.encode("utf-8"), value=value,
                headers=[("alert_id", note.id.encode()), ("event", note.event.encode())],
            )
            future.get(timeout=self.config.timeout_s)
        except KafkaError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._own is not None:
                self._own.close(timeout=5)
                self._own = None
