"""Log: one structured line per alert on the `newswatch.alerts` logger (JSON with the JSON log
format; `key=value` pairs with the text format)."""

from __future__ import annotations

import logging

from enrich.alerts.channels.base import ChannelResources
from enrich.alerts.notification import Notification
from enrich.alerts.rules.rules_config import ChannelConfig

log = logging.getLogger("newswatch.alerts")

_FIELDS = ("id", "rule", "severity", "article_id", "title", "url", "published", "feed",
           "topics", "matched_terms", "subject", "count", "window_start")


class LogChannel:
    def __init__(self, config: ChannelConfig, resources: ChannelResources) -> None:
        self.config = config

    def send(self, note: Notification) -> None:
        fields = {f"alert_{k}": note.body[k] for k in _FIELDS if note.body.get(k) is not None}
        log.log(
            logging.getLevelName(self.config.level.upper()),
            f"{note.event}: {note.subject}",
            extra={"channel": self.config.name, "event": note.event, **fields},
        )
