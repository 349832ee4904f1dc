"""Roll the articles alias over to a new backing index once the current one is old or large.

Why: one index growing for ever makes every merge, snapshot and shard move slower, and old
news can only be dropped a whole index at a time. Why newswatch asks for it rather than an ILM
policy: `_rollover` with conditions behaves the same on Elasticsearch and on the embedded
server (which has no ILM), and Elasticsearch itself evaluates the conditions, so every worker
may ask on its own schedule: at most one request rolls over, the others find nothing due.

What keeps an article in exactly one backing index afterwards: the worker and `reprocess`
write a document already stored to the index holding it (enrich/index/article_index.py, `homes`).
Readers (search, cluster lookup) read every index behind the alias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch

from ingest.common.settings import Settings


@dataclass(frozen=True)
class RolloverConditions:
    max_age: str | None = None
    max_primary_shard_size: str | None = None
    max_docs: int | None = None

    def as_request(self) -> dict[str, Any]:
        """The `conditions` body of a rollover request; empty when nothing is set."""
        values = {"max_age": self.max_age, "max_primary_shard_size": self.max_primary_shard_size,
                  "max_docs": self.max_docs}
        return {name: value for name, value in values.items() if value is not None}

    @property
    def enabled(self) -> bool:
        return bool(self.as_request())

    @classmethod
    def from_settings(cls, settings: Settings) -> RolloverConditions:
        return cls(settings.articles_rollover_max_age,
                   settings.articles_rollover_max_primary_shard_size,
                   settings.articles_rollover_max_docs)


@dataclass(frozen=True)
class RolloverResult:
    rolled_over: bool
    old_index: str
    new_index: str
    met: dict[str, bool]  # each condition as Elasticsearch evaluated it, e.g. "[max_age: 30d]"


def roll_over(
    es: Elasticsearch, alias: str, conditions: RolloverConditions, *, dry_run: bool = False
) -> RolloverResult:
    """Ask Elasticsearch to roll `alias` over if any condition is met; with no conditions it
    rolls over now. A concurrent rollover by another worker counts as not rolled over here."""
    try:
        body = es.indices.rollover(
            alias=alias, conditions=conditions.as_request() or None, dry_run=dry_run
        ).body
    except BadRequestError as exc:
        if exc.error == "resource_already_exists_exception":  # another worker got there first
            return RolloverResult(False, "", "", {})
        raise
    return RolloverResult(
        rolled_over=bool(body.get("rolled_over")),
        old_index=str(body.get("old_index", "")),
        new_index=str(body.get("new_index", "")),
        met={str(k): bool(v) for k, v in (body.get("conditions") or {}).items()},
    )


@dataclass(frozen=True)
class IndexFacts:
    """What the rollover conditions are compared with, for people (`rollover --dry-run`)."""

    index: str
    age_s: float | None
    docs: int
    largest_primary_shard_bytes: int

    def describe(self, conditions: RolloverConditions) -> list[str]:
        age = "?" if self.age_s is None else human_age(self.age_s)
        return [
            f"current index {self.index}:",
            f"  age                      {age} (max_age {conditions.max_age or 'off'})",
            f"  docs                     {self.docs:,} (max_docs "
            f"{conditions.max_docs if conditions.max_docs is not None else 'off'})",
            f"  largest primary shard    {human_bytes(self.largest_primary_shard_bytes)} "
            f"(max_primary_shard_size {conditions.max_primary_shard_size or 'off'})",
        ]


def index_facts(es: Elasticsearch, index: str, now_ms: int) -> IndexFacts:
    """Age (from `index.creation_date`), documents and largest primary shard of `index`."""
    settings = es.indices.get_settings(index=index).body.get(index, {})
    created = (settings.get("settings", {}).get("index", {}) or {}).get("creation_date")
    stats = es.indices.stats(index=index, metric=["docs", "store"], level="shards").body
    entry = stats.get("indices", {}).get(index, {})
    docs = int(entry.get("primaries", {}).get("docs", {}).get("count", 0))
    largest = 0
    for copies in (entry.get("shards") or {}).values():
        for copy in copies:
            if (copy.get("routing") or {}).get("primary"):
                largest = max(largest, int(copy.get("store", {}).get("size_in_bytes", 0)))
    age_s = (now_ms - int(created)) / 1000 if created is not None else None
    return IndexFacts(index, age_s, docs, largest)


def human_age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("b", "kb", "mb", "gb"):
        if value < 1024 or unit == "gb":
            return f"{value:.0f}{unit}" if unit == "b" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}gb"
