"""Feed state and seen entries, stored in Elasticsearch so every poll runner shares them.

Per feed: the URL it really lives at, validators for conditional GET, the body hash, the last
success/attempt/error, failure count, status, counters. Seen entries are kept by article id in
their own index so a restart, or a second runner, re-produces nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from importlib import resources
from typing import Any, Literal

from elasticsearch import Elasticsearch, NotFoundError, helpers
from pydantic import BaseModel

from ingest.settings import Settings

log = logging.getLogger(__name__)

FeedStatus = Literal["active", "backoff", "blocked", "disabled"]


class FeedState(BaseModel):
    name: str
    url: str
    configured_url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error_kind: str | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    interval_s: int | None = None
    next_due: datetime | None = None
    status: FeedStatus = "active"
    entries_seen: int = 0
    articles_produced: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = None


def _template(name: str) -> dict[str, Any]:
    text = resources.files("infra").joinpath(f"elasticsearch/{name}").read_text("utf-8")
    body: dict[str, Any] = json.loads(text)
    return body


class FeedStateStore:
    def __init__(self, es: Elasticsearch, feeds_index: str, seen_index: str) -> None:
        self.es = es
        self.feeds_index = feeds_index
        self.seen_index = seen_index

    @classmethod
    def from_settings(cls, es: Elasticsearch, settings: Settings) -> FeedStateStore:
        return cls(es, settings.feeds_index, settings.seen_index)

    def ensure_indices(self) -> None:
        template = _template("feeds-template.json")
        self.es.indices.put_index_template(
            name=self.feeds_index, index_patterns=[self.feeds_index], **template
        )
        if not self.es.indices.exists(index=self.feeds_index):
            self.es.indices.create(index=self.feeds_index)
        if not self.es.indices.exists(index=self.seen_index):
            self.es.indices.create(
                index=self.seen_index,
                settings={"number_of_shards": 1, "number_of_replicas": 0},
                mappings={
                    "dynamic": "strict",
                    "properties": {
                        "feed": {"type": "keyword"},
                        "url": {"type": "keyword"},
                        "first_seen": {"type": "date"},
                    },
                },
            )

    # --- feeds --------------------------------------------------------------------------
    def load(self, names: Iterable[str]) -> dict[str, FeedState]:
        ids = list(names)
        if not ids:
            return {}
        found = self.es.mget(index=self.feeds_index, ids=ids)
        return {
            doc["_id"]: FeedState.model_validate(doc["_source"])
            for doc in found["docs"]
            if doc.get("found")
        }

    def get(self, name: str) -> FeedState | None:
        try:
            doc = self.es.get(index=self.feeds_index, id=name)
        except NotFoundError:
            return None
        return FeedState.model_validate(doc["_source"])

    def save(self, state: FeedState) -> None:
        self.es.index(
            index=self.feeds_index, id=state.name, document=state.model_dump(mode="json")
        )

    def all(self) -> list[FeedState]:
        hits = helpers.scan(self.es, index=self.feeds_index, query={"query": {"match_all": {}}})
        return [FeedState.model_validate(hit["_source"]) for hit in hits]

    def delete(self, name: str) -> bool:
        try:
            self.es.delete(index=self.feeds_index, id=name, refresh=True)
            return True
        except NotFoundError:
            return False

    # --- seen entries -------------------------------------------------------------------
    def seen(self, article_ids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(article_ids))
        if not ids:
            return set()
        found = self.es.mget(index=self.seen_index, ids=ids, source=False)
        return {doc["_id"] for doc in found["docs"] if doc.get("found")}

    def mark_seen(self, entries: Iterable[tuple[str, str, str]], when: datetime) -> None:
        """entries: (article id, feed name, url). Refreshed so the next run sees them."""
        actions = [
            {
                "_op_type": "index",
                "_index": self.seen_index,
                "_id": article_id,
                "_source": {"feed": feed, "url": url, "first_seen": when.isoformat()},
            }
            for article_id, feed, url in entries
        ]
        if actions:
            helpers.bulk(self.es, actions, refresh="wait_for")
