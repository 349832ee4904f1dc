"""Which channel class serves which `type:` of alerts.yaml.

Apart from base.py because it imports every channel module, and each of those imports base:
keeping the two in one module made a cycle.
"""

from __future__ import annotations

from typing import Any

from enrich.alerts.channels.base import Channel, ChannelResources
from enrich.alerts.channels.es_index import ElasticsearchChannel
from enrich.alerts.channels.kafka_topic import KafkaChannel
from enrich.alerts.channels.log_line import LogChannel
from enrich.alerts.channels.slack import SlackChannel
from enrich.alerts.channels.smtp_email import EmailChannel
from enrich.alerts.channels.webhook import WebhookChannel
from enrich.alerts.rules.rules_config import ChannelConfig


def build_channel(config: ChannelConfig, resources: ChannelResources) -> Channel:
    kinds: dict[str, Any] = {
        "webhook": WebhookChannel,
        "slack": SlackChannel,
        "email": EmailChannel,
        "kafka": KafkaChannel,
        "elasticsearch": ElasticsearchChannel,
        "log": LogChannel,
    }
    channel: Channel = kinds[config.type](config, resources)
    return channel
