"""Feed state and seen entries, stored in Elasticsearch so every poll runner shares them.

Per feed: the URL it really lives at, validators for conditional GET, the body hash, the last
success/attempt/error, failure counts, status, the interval and next due time with what they
were derived from, counters, and the lease of the runner polling it. Seen entries are kept by
article id in their own index so a restart, or a second runner, re-produces nothing.

Writes can be conditional on the version a runner read (`_seq_no` / `_primary_term`): that is
how a lease is taken without a lock server (`ingest.feeds.feed_leases`), and how a runner whose
lease expired finds out instead of overwriting the state another runner wrote since.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any, Literal

from elasticsearch import ConflictError, Elasticsearch, NotFoundError, helpers
from pydantic import BaseModel

from ingest.common.es_client import create_index_if_missing
from ingest.common.settings import Settings

log = logging.getLogger(__name__)

FeedStatus = Literal["active", "backoff", "blocked", "disabled"]
FEED_STATUSES: tuple[FeedStatus, ...] = ("active", "backoff", "blocked", "disabled")
_MGET_CHUNK = 1000


class FeedState(BaseModel):
    name: str
    url: str  # where the feed lives now: the configured URL after permanent redirects
    configured_url: str  # the URL feeds.yaml gives; a change there starts the feed afresh
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_outcome: str | None = None  # ok | not_modified | unchanged | error
    last_error_kind: str | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    permanent_failures: int = 0  # consecutive failures of a permanent kind (404, parse, ...)
    interval_s: int | None = None
    next_due: datetime | None = None
    status: FeedStatus = "active"
    status_since: datetime | None = None
    newest_entry_at: datetime | None = None
    publish_gap_s: float | None = None
    floor_s: float | None = None
    floor_source: str | None = None
    entries_seen: int = 0
    articles_produced: int = 0
    # New entries past the per-poll bound, left for the next polls (0: nothing waiting), and
    # how many entries were ever deferred that way.
    backlog: int = 0
    entries_deferred: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = None

    @classmethod
    def new(cls, name: str, url: str) -> FeedState:
        return cls(name=name, url=url, configured_url=url)

    def rebased(self, configured_url: str) -> FeedState:
        """Ops pointed the feed at another URL: forget everything learnt about the old one
        but the counters and the lease."""
        fresh = FeedState.new(self.name, configured_url)
        return fresh.model_copy(update={
            "entries_seen": self.entries_seen,
            "articles_produced": self.articles_produced,
            "entries_deferred": self.entries_deferred,
            "lease_owner": self.lease_owner,
            "lease_until": self.lease_until,
            "next_due": self.next_due,
        })

    def without_lease(self) -> FeedState:
        return self.model_copy(update={"lease_owner": None, "lease_until": None})


@dataclass(frozen=True)
class DocVersion:
    """What a conditional write must match: the document is unchanged since it was read."""

    seq_no: int
    primary_term: int


class StaleVersion(Exception):
    """A conditional write found the document changed since it was read (another runner)."""


def _template(name: str) -> dict[str, Any]:
    text = resources.files("infra").joinpath(f"elasticsearch/{name}").read_text("utf-8")
    body: dict[str, Any] = json.loads(text)
    return body


def _version(doc: Mapping[str, Any]) -> DocVersion:
    return DocVersion(int(doc["_seq_no"]), int(doc["_primary_term"]))


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class FeedStateStore:
    def __init__(self, es: Elasticsearch, feeds_index: str, seen_index: str) -> None:
        self.es = es
        self.feeds_index = feeds_index
        self.seen_index = seen_index

    @classmethod
    def from_settings(cls, es: Elasticsearch, settings: Settings) -> FeedStateStore:
        return cls(es, settings.feeds_index, settings.seen_index)

    def ensure_indices(self) -> None:
        """Create the indices, or add the template's new fields to an existing feeds index
        (its mapping is strict: an index from an older release would refuse new fields)."""
        # The file is a complete request body for the default index name; the configured
        # name replaces its index_patterns.
        template = {**_template("feeds-template.json"), "index_patterns": [self.feeds_index]}
        self.es.indices.put_index_template(name=self.feeds_index, **template)
        if not self._create_index(self.feeds_index):
            self.es.indices.put_mapping(
                index=self.feeds_index,
                properties=template["template"]["mappings"]["properties"],
            )
        self._create_index(
            self.seen_index,
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

    def _create_index(self, index: str, **body: Any) -> bool:
        """Create `index` unless it exists; False when it did (several runners start at once,
        so "exists" can turn true between the check and the create)."""
        if self.es.indices.exists(index=index):
            return False
        return create_index_if_missing(self.es, index, **body)

    # --- feeds --------------------------------------------------------------------------
    def load(self, names: Iterable[str]) -> dict[str, FeedState]:
        return {name: state for name, (state, _) in self.load_versioned(names).items()}

    def load_versioned(self, names: Iterable[str]) -> dict[str, tuple[FeedState, DocVersion]]:
        """Real-time reads (not the search view), with the version a conditional write needs."""
        ids = list(dict.fromkeys(names))
        found: dict[str, tuple[FeedState, DocVersion]] = {}
        for chunk in _chunks(ids, _MGET_CHUNK):
            for doc in self.es.mget(index=self.feeds_index, ids=chunk)["docs"]:
                if doc.get("found"):
                    found[doc["_id"]] = (FeedState.model_validate(doc["_source"]), _version(doc))
        return found

    def get(self, name: str) -> FeedState | None:
        try:
            doc = self.es.get(index=self.feeds_index, id=name)
        except NotFoundError:
            return None
        return FeedState.model_validate(doc["_source"])

    def save(self, state: FeedState, *, version: DocVersion | None = None) -> DocVersion:
        """Write the state; with `version`, only if nobody wrote it since (else StaleVersion)."""
        conditions: dict[str, Any] = {}
        if version is not None:
            conditions = {"if_seq_no": version.seq_no, "if_primary_term": version.primary_term}
        try:
            written = self.es.index(
                index=self.feeds_index, id=state.name, document=state.model_dump(mode="json"),
                **conditions,
            )
        except ConflictError as exc:
            raise StaleVersion(f"feed {state.name!r} changed since version {version}") from exc
        return _version(written.body)

    def create_missing(self, states: Iterable[FeedState]) -> int:
        """Create the documents that do not exist yet, leave existing ones alone (several
        runners may register the same new feeds at once). Returns how many were created."""
        actions = [
            {"_op_type": "create", "_index": self.feeds_index, "_id": s.name,
             "_source": s.model_dump(mode="json")}
            for s in states
        ]
        if not actions:
            return 0
        created = 0
        for ok, item in helpers.streaming_bulk(
            self.es, actions, raise_on_error=False, raise_on_exception=False, max_retries=3
        ):
            result = item.get("create", {})
            if ok:
                created += 1
            elif result.get("status") != 409:
                log.error("feed state not created", extra={"feed": result.get("_id"),
                                                           "error": result.get("error")})
        return created

    def due(
        self, names: Iterable[str], now: datetime, limit: int
    ) -> list[tuple[FeedState, DocVersion]]:
        """Feeds among `names` that are due at `now` and not leased (or whose lease expired),
        most overdue first. The search view lags writes by a refresh, hence the refresh; a
        stale hit is harmless: its version no longer matches, so claiming it fails."""
        wanted = list(dict.fromkeys(names))
        if not wanted or limit <= 0:
            return []
        self.es.indices.refresh(index=self.feeds_index)
        at = now.isoformat()
        query = {"bool": {"filter": [
            {"terms": {"name": wanted}},
            {"bool": {"must_not": [{"term": {"status": "disabled"}}]}},
            {"bool": {"minimum_should_match": 1, "should": [
                {"range": {"next_due": {"lte": at}}},
                {"bool": {"must_not": [{"exists": {"field": "next_due"}}]}},
            ]}},
            {"bool": {"minimum_should_match": 1, "should": [
                {"range": {"lease_until": {"lt": at}}},
                {"bool": {"must_not": [{"exists": {"field": "lease_until"}}]}},
            ]}},
        ]}}
        found = self.es.search(
            index=self.feeds_index, query=query, size=limit, seq_no_primary_term=True,
            sort=[{"next_due": {"order": "asc", "missing": "_first"}}, {"name": "asc"}],
        )
        return [
            (FeedState.model_validate(hit["_source"]), _version(hit))
            for hit in found["hits"]["hits"]
        ]

    def all(self) -> list[FeedState]:
        """Every stored state, including writes of the last second (refreshed first)."""
        self.es.indices.refresh(index=self.feeds_index)
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
        """entries: (article id, feed name, url). Not refreshed: `seen` reads by id, and reads
        by id are real-time, so the next run sees them without paying for a refresh."""
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
            helpers.bulk(self.es, actions)
