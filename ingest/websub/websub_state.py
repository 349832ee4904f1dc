"""WebSub subscriptions per feed, stored in Elasticsearch beside the feed state.

One document per feed (`_id` = feed name) in `{feeds_index}-websub`: the hub and topic found by
discovery, the callback token and secret, where the subscription stands (discovered, pending
verification, active until its lease expires, failed, denied, being unsubscribed), why, and
what was delivered or refused. A sibling index rather than fields of the feed state: polls
write the feed state whole under a lease, and the callback writes subscriptions at any moment,
so each writer owns its document and neither overwrites the other's fields. Writes are
conditional on the version read (`update`), because a delivery, a verification and the
maintenance loop may touch one subscription at once.

The secrets are stored (the callback checks signatures in any process) but not indexed.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from elasticsearch import ConflictError, Elasticsearch, NotFoundError, helpers
from pydantic import BaseModel

from ingest.common.es_client import ensure_index
from ingest.common.settings import Settings

log = logging.getLogger(__name__)

SubStatus = Literal["discovered", "pending", "active", "failed", "denied", "unsubscribing"]
SUB_STATUSES: tuple[SubStatus, ...] = (
    "discovered", "pending", "active", "failed", "denied", "unsubscribing")
Mode = Literal["subscribe", "unsubscribe"]

_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "feed": {"type": "keyword"},
        "hub": {"type": "keyword"},
        "topic": {"type": "keyword"},
        "discovery_source": {"type": "keyword"},
        "callback_token": {"type": "keyword", "index": False},
        "secret": {"type": "keyword", "index": False},
        "pending_token": {"type": "keyword", "index": False},
        "pending_secret": {"type": "keyword", "index": False},
        "wanted": {"type": "boolean"},
        "status": {"type": "keyword"},
        "status_since": {"type": "date"},
        "reason": {"type": "text"},
        "requested_mode": {"type": "keyword"},
        "requested_at": {"type": "date"},
        "verified_at": {"type": "date"},
        "lease_s": {"type": "long"},
        "lease_expires": {"type": "date"},
        "retry_at": {"type": "date"},
        "failures": {"type": "integer"},
        "discovered_at": {"type": "date"},
        "deliveries": {"type": "long"},
        "last_delivery_at": {"type": "date"},
        "delivered_articles": {"type": "long"},
        "rejected_deliveries": {"type": "long"},
        "last_rejected_at": {"type": "date"},
        "last_rejected_reason": {"type": "keyword"},
        "missed_entries": {"type": "long"},
    },
}


def new_token() -> str:
    return secrets.token_urlsafe(24)


def new_secret() -> str:
    """§5.1: cryptographically random, under 200 bytes."""
    return secrets.token_hex(32)


class Subscription(BaseModel):
    feed: str
    hub: str
    topic: str
    discovery_source: str
    callback_token: str  # the unguessable part of this subscription's callback URL
    secret: str
    # A renewal asks for a fresh callback and secret (§5.1.1: callbacks SHOULD change when
    # subscriptions are renewed); they replace these once the hub verified them.
    pending_token: str | None = None
    pending_secret: str | None = None
    wanted: bool = True  # False: the feed left feeds.yaml or stopped naming a hub
    status: SubStatus = "discovered"
    status_since: datetime | None = None
    reason: str | None = None  # why the status: the hub's refusal, the denial reason, ...
    requested_mode: Mode | None = None  # a request sent and not yet verified
    requested_at: datetime | None = None
    verified_at: datetime | None = None
    lease_s: int | None = None
    lease_expires: datetime | None = None
    retry_at: datetime | None = None
    failures: int = 0  # consecutive failed attempts (the retry backs off)
    discovered_at: datetime | None = None
    deliveries: int = 0
    last_delivery_at: datetime | None = None
    delivered_articles: int = 0
    rejected_deliveries: int = 0  # unsigned, wrongly signed: ignored
    last_rejected_at: datetime | None = None
    last_rejected_reason: str | None = None
    missed_entries: int = 0  # entries a poll found that the hub never pushed


class SubscriptionStore:
    def __init__(self, es: Elasticsearch, index: str) -> None:
        self.es = es
        self.index = index

    @classmethod
    def from_settings(cls, es: Elasticsearch, settings: Settings) -> SubscriptionStore:
        return cls(es, settings.websub_index)

    def ensure_index(self) -> None:
        ensure_index(self.es, self.index, mappings=_MAPPINGS,
                     settings={"number_of_shards": 1, "number_of_replicas": 0})

    def get(self, feed: str) -> Subscription | None:
        found = self._get(feed)
        return None if found is None else found[0]

    def _get(self, feed: str) -> tuple[Subscription, tuple[int, int]] | None:
        try:
            doc = self.es.get(index=self.index, id=feed)
        except NotFoundError:
            return None
        return (Subscription.model_validate(doc["_source"]),
                (int(doc["_seq_no"]), int(doc["_primary_term"])))

    def all(self) -> list[Subscription]:
        """Every subscription, including writes of the last second; none before the index
        exists (`ensure_index` runs with the other ingest indices)."""
        try:
            self.es.indices.refresh(index=self.index)
        except NotFoundError:
            return []
        hits = helpers.scan(self.es, index=self.index, query={"query": {"match_all": {}}})
        return [Subscription.model_validate(hit["_source"]) for hit in hits]

    def save(self, sub: Subscription) -> None:
        self.es.index(index=self.index, id=sub.feed, document=sub.model_dump(mode="json"))

    def create(self, sub: Subscription) -> bool:
        """Write a new subscription unless one exists (False then: another writer was first)."""
        try:
            self.es.create(index=self.index, id=sub.feed, document=sub.model_dump(mode="json"))
        except ConflictError:
            return False
        return True

    def delete(self, feed: str) -> bool:
        try:
            self.es.delete(index=self.index, id=feed)
        except NotFoundError:
            return False
        return True

    def update(
        self, feed: str, change: Callable[[Subscription], Subscription | None],
        *, attempts: int = 5,
    ) -> Subscription | None:
        """Read, apply `change`, write only if nobody wrote since (else read again). `change`
        returning None deletes the subscription. Returns what was written (None: deleted, or
        there was no subscription to change)."""
        for _ in range(attempts):
            found = self._get(feed)
            if found is None:
                return None
            sub, (seq_no, term) = found
            changed = change(sub.model_copy())
            try:
                if changed is None:
                    self.es.delete(index=self.index, id=feed, if_seq_no=seq_no,
                                   if_primary_term=term)
                    return None
                self.es.index(index=self.index, id=feed, document=changed.model_dump(mode="json"),
                              if_seq_no=seq_no, if_primary_term=term)
                return changed
            except ConflictError:
                continue
            except NotFoundError:
                return None
        log.warning("subscription not updated: it kept changing under us", extra={"feed": feed})
        return None
