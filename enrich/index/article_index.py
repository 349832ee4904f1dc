"""The articles index: template, write alias, and bulk writes whose every item is accounted for.

Documents are written through the alias with `_id` = article id, so a redelivered article
overwrites itself. After a rollover (enrich/index/index_rollover.py) the alias writes to a new
backing index, so a document already stored in an older one is written to that index by name
(`homes`): an id lives in exactly one backing index.

Each bulk item ends in exactly one bucket: indexed, retryable (429/5xx: Elasticsearch is busy,
try again) or rejected (4xx: the document itself is wrong, dead-letter it). A failure of the
whole request (connection refused, timeout) raises IndexUnavailable: the caller keeps the
batch and waits, it does not drop anything.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, BadRequestError, Elasticsearch, helpers

from enrich.index.mapping_migration import upgrade_mappings
from ingest.common.freshness_metrics import observe_searchable
from ingest.message.article import Timings, iso_utc, utcnow

log = logging.getLogger(__name__)


class IndexUnavailable(Exception):
    """Elasticsearch could not be reached or answered the whole request with an error."""


@dataclass
class ItemFailure:
    doc_id: str
    status: int
    error: str


@dataclass
class BulkOutcome:
    indexed: list[str] = field(default_factory=list)
    retryable: list[ItemFailure] = field(default_factory=list)
    rejected: list[ItemFailure] = field(default_factory=list)


def _sort_item(ok: bool, item: dict[str, Any], outcome: BulkOutcome) -> None:
    """Put one bulk item result in its bucket: 429 and 5xx are Elasticsearch being busy or
    unwell (retry), any other failure is the document's own fault (dead-letter)."""
    result = item.get("index", item)
    doc_id = str(result.get("_id"))
    if ok:
        outcome.indexed.append(doc_id)
        return
    status = int(result.get("status", 0))
    error = json.dumps(result.get("error"), ensure_ascii=False)[:2000]
    failure = ItemFailure(doc_id, status, error)
    if status == 429 or status >= 500:
        outcome.retryable.append(failure)
    else:
        outcome.rejected.append(failure)


def articles_template(alias: str, shards: int, replicas: int) -> dict[str, Any]:
    text = resources.files("infra").joinpath("elasticsearch/articles-template.json").read_text(
        "utf-8"
    )
    body: dict[str, Any] = json.loads(text)
    body["index_patterns"] = [f"{alias}-*"]
    body["template"]["settings"].update(
        {"number_of_shards": shards, "number_of_replicas": replicas}
    )
    return body


class ArticleIndex:
    def __init__(self, es: Elasticsearch, alias: str, *, shards: int = 1, replicas: int = 0):
        self.es = es
        self.alias = alias
        self.shards = shards
        self.replicas = replicas

    def ensure(self) -> None:
        """Install the template and the first backing index behind the write alias; push new
        fields of the template into existing indices (mappings only ever grow); on a new
        mapping version, start a new backing index (`newswatch index migrate` moves the rest)."""
        template = articles_template(self.alias, self.shards, self.replicas)
        try:
            self.es.indices.put_index_template(name=self.alias, **template)
            if self.es.indices.exists_alias(name=self.alias):
                # New fields go into the current indices; a new mapping version rolls the
                # alias over first (enrich/index/mapping_migration.py: analyzers are fixed per
                # index).
                upgrade_mappings(self.es, self.alias, template)
            else:
                self.es.indices.create(
                    index=f"{self.alias}-000001", aliases={self.alias: {"is_write_index": True}}
                )
        except BadRequestError as exc:
            # Another worker created it between our check and our create: that is fine.
            if exc.error != "resource_already_exists_exception":
                raise
        except (TransportConnectionError, ConnectionTimeout) as exc:
            raise IndexUnavailable(str(exc)) from exc

    def write(
        self, docs: list[dict[str, Any]], *, refresh: bool = False,
        homes: Mapping[str, str] | None = None, fresh: bool = True,
    ) -> BulkOutcome:
        """`homes`: article id -> the backing index already holding it (from a lookup by id);
        every other document goes to the alias's write index.

        `fresh`: documents coming off the stream (the worker). Each gets `timings.indexed`
        stamped as the bulk request is built (again on a retry: it was not searchable
        before), and once Elasticsearch acknowledged it, its hops and publication/discovery
        -> searchable are observed. A rewrite of stored documents (`reprocess`) passes False
        and keeps the times they had."""
        outcome = BulkOutcome()
        if not docs:
            return outcome
        homes = homes or {}
        if fresh:
            sent_at = iso_utc(utcnow())
            for doc in docs:
                doc.setdefault("timings", {})["indexed"] = sent_at
        actions = ({"_index": homes.get(d["id"], self.alias), "_id": d["id"], "_source": d}
                   for d in docs)
        try:
            for ok, item in helpers.streaming_bulk(
                self.es,
                actions,
                chunk_size=500,
                max_retries=3,
                initial_backoff=1,
                max_backoff=10,
                raise_on_error=False,
                raise_on_exception=True,
                refresh="wait_for" if refresh else False,
            ):
                _sort_item(ok, item, outcome)
        except (TransportConnectionError, ConnectionTimeout) as exc:
            raise IndexUnavailable(f"{type(exc).__name__}: {exc}") from exc
        except ApiError as exc:
            # The bulk request as a whole failed (e.g. 503 while a node starts): nothing from
            # this batch is known to be stored, so it is all retried.
            raise IndexUnavailable(f"bulk request failed: {exc}") from exc
        if fresh and outcome.indexed:
            acked_at = utcnow()
            stored = set(outcome.indexed)
            for doc in docs:
                if doc["id"] in stored:
                    observe_searchable(Timings.model_validate(doc["timings"]), acked_at)
        return outcome
