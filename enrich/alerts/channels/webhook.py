"""Webhook: POST of the alert as JSON, signed with HMAC-SHA256 over the raw body.

Headers: `X-Newswatch-Signature: sha256=<hex>` (when `secret_env` is set; a channel that names
a secret refuses to send unsigned if the variable is missing), `X-Newswatch-Event` (alert or
digest) and `X-Newswatch-Delivery` (the alert id: receivers drop a repeat after a crash between
their 200 and our bookkeeping).
"""

from __future__ import annotations

import json

from enrich.alerts.channels.base import ChannelResources, target_url
from enrich.alerts.channels.http_post import post_json
from enrich.alerts.notification import Notification
from enrich.alerts.rules.rules_config import ChannelConfig
from enrich.alerts.signature import SIGNATURE_HEADER, sign_body


def webhook_body(note: Notification) -> bytes:
    return json.dumps(note.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WebhookChannel:
    def __init__(self, config: ChannelConfig, resources: ChannelResources) -> None:
        self.config = config
        self._resources = resources

    def send(self, note: Notification) -> None:
        url = target_url(self.config, self._resources)
        body = webhook_body(note)
        headers = {
            "User-Agent": self._resources.user_agent,
            "X-Newswatch-Event": note.event,
            "X-Newswatch-Delivery": note.id,
            **self.config.headers,
        }
        if self.config.secret_env:
            secret = self._resources.secret(
                self.config.secret_env, f"webhook channel {self.config.name} secret"
            )
            headers[SIGNATURE_HEADER] = sign_body(body, secret)
        post_json(self._resources.http, url, body, headers, self.config.timeout_s)
