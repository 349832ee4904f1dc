"""The channel contract and the factory from a channel entry of alerts.yaml.

`send` returns when the channel acknowledged the notification and raises otherwise:
DeliveryFailed for what may pass (connection refused, timeout, 5xx, 429) — the delivery step
retries with backoff — and DeliveryRejected for what retrying cannot fix (a 4xx answer, a
secret whose environment variable is not set) — reported at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from enrich.alerts.notification import Notification
from enrich.alerts.rules.rules_config import ChannelConfig


class DeliveryFailed(Exception):
    """The channel did not take the notification; trying again later may work."""


class DeliveryRejected(DeliveryFailed):
    """The channel refused the notification or is misconfigured; retrying will not help."""


class Channel(Protocol):
    config: ChannelConfig

    def send(self, note: Notification) -> None: ...


@dataclass
class ChannelResources:
    """Clients the channels share with the engine (all thread-safe)."""

    http: httpx.Client
    es: Any = None  # elasticsearch.Elasticsearch: the elasticsearch channel's default cluster
    producer: Any = None  # kafka.KafkaProducer: the kafka channel's default cluster
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    user_agent: str = "newswatch-alerts"

    def secret(self, variable: str, what: str) -> str:
        value = self.env.get(variable)
        if not value:
            raise DeliveryRejected(f"{what}: environment variable {variable} is not set")
        return value


def target_url(config: ChannelConfig, resources: ChannelResources) -> str:
    if config.url:
        return config.url
    assert config.url_env is not None
    return resources.secret(config.url_env, f"{config.type} channel {config.name} URL")
