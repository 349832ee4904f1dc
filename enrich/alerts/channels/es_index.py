"""Elasticsearch: the notification's JSON body into another index, `_id` = alert id, so a
repeated delivery overwrites itself. Without `url` it uses the engine's cluster."""

from __future__ import annotations

import threading
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from enrich.alerts.channels.base import ChannelResources, DeliveryFailed, DeliveryRejected
from enrich.alerts.notification import Notification
from enrich.alerts.rules.rules_config import ChannelConfig


class ElasticsearchChannel:
    def __init__(self, config: ChannelConfig, resources: ChannelResources) -> None:
        self.config = config
        self._resources = resources
        self._own: Elasticsearch | None = None
        self._lock = threading.Lock()

    def _client(self) -> Any:
        if not self.config.url:
            if self._resources.es is None:
                raise DeliveryFailed("no Elasticsearch client available to the alert engine")
            return self._resources.es
        with self._lock:
            if self._own is None:
                self._own = Elasticsearch(self.config.url, request_timeout=self.config.timeout_s)
            return self._own

    def send(self, note: Notification) -> None:
        assert self.config.index is not None
        try:
            self._client().index(index=self.config.index, id=note.id, document=note.body)
        except ApiError as exc:
            status = exc.meta.status
            if status == 429 or status >= 500:
                raise DeliveryFailed(f"HTTP {status}: {exc.message}") from exc
            raise DeliveryRejected(f"HTTP {status}: {exc.message}") from exc
        except TransportError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._own is not None:
                self._own.close()
                self._own = None
