"""Roll the articles alias over to a new backing index once the current one is old or large.

Why: one index growing for ever makes every merge, snapshot and shard move slower, and old
news can only be dropped a whole index at a time. Why newswatch asks for it rather than an ILM
policy: `_rollover` with conditions behaves the same on Elasticsearch and on the embedded
server (which has no ILM), and Elasticsearch itself evaluates the conditions, so every worker
may ask on its own schedule: at most one request rolls over, the others find nothing due.

What keeps an article in exactly one backing index afterwards: the worker and `reprocess`
write a document already stored to the index holding it (enrich/article_index.py, `homes`).
Readers (search, cluster lookup) read every index behind the alias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch

from ingest.settings import Settings


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
