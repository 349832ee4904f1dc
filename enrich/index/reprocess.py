"""Re-enrich stored documents after a taxonomy or gazetteer change, from their stored text.

Resumable by construction: a document is selected only while its `taxonomy_version` or
`gazetteer_version` differs from the current one, and both change as soon as it is rewritten,
so an interrupted run simply
continues where it stopped when started again. Near-duplicate clusters are kept as they are
(the text did not change).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from elasticsearch import Elasticsearch
from pydantic import ValidationError

from enrich.index.article_date import ARTICLE_DATE_FIELD, since_filter
from enrich.index.article_index import ArticleIndex
from enrich.worker.enricher import Enricher, EnrichmentVersion
from ingest.message.article import Article

log = logging.getLogger(__name__)

KEPT_FIELDS = ("cluster_id", "dedup_bands", "minhash", "indexed")


@dataclass
class ReprocessStats:
    selected: int = 0
    rewritten: int = 0
    failed: list[str] = field(default_factory=list)


def selection_query(
    version: EnrichmentVersion, *, since: date | None = None, topic: str | None = None,
    exclude_ids: list[str] | None = None,
) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if since:
        filters.append(since_filter(since))
    if topic:
        filters.append({"term": {"topics": topic}})
    # Current: enriched with these versions and dated by today's rule (older documents lack
    # the date field, and a reprocess run gives it to them).
    current = {"bool": {"filter": [
        {"term": {"taxonomy_version": version.taxonomy}},
        {"term": {"gazetteer_version": version.gazetteer}},
        {"exists": {"field": ARTICLE_DATE_FIELD}},
    ]}}
    must_not: list[dict[str, Any]] = [current]
    if exclude_ids:
        must_not.append({"ids": {"values": exclude_ids}})
    return {"bool": {"filter": filters, "must_not": must_not}}


def count_selected(
    es: Elasticsearch, alias: str, version: EnrichmentVersion, *, since: date | None = None,
    topic: str | None = None,
) -> int:
    es.indices.refresh(index=alias)
    query = selection_query(version, since=since, topic=topic)
    return int(es.count(index=alias, query=query)["count"])


def reprocess(
    es: Elasticsearch,
    index: ArticleIndex,
    enricher: Enricher,
    *,
    since: date | None = None,
    topic: str | None = None,
    batch_size: int = 200,
    on_progress: Callable[[int], None] = lambda n: None,
) -> ReprocessStats:
    version = enricher.version
    stats = ReprocessStats()
    stats.selected = count_selected(es, index.alias, version, since=since, topic=topic)
    while True:
        query = selection_query(version, since=since, topic=topic, exclude_ids=stats.failed)
        hits = es.search(index=index.alias, query=query, size=batch_size,
                         sort=[{"fetched": "asc"}])["hits"]["hits"]
        if not hits:
            return stats
        docs = []
        for hit in hits:
            source = hit["_source"]
            try:
                doc = enricher.enrich(Article.model_validate(source))
            except (ValidationError, ValueError) as exc:
                log.error("stored document cannot be re-enriched",
                          extra={"id": hit["_id"], "error": str(exc)})
                stats.failed.append(hit["_id"])
                continue
            doc.update({k: source[k] for k in KEPT_FIELDS if k in source})
            docs.append(doc)
        # Rewritten where each one is stored: after a rollover the alias writes elsewhere.
        outcome = index.write(docs, refresh=True, fresh=False,
                              homes={hit["_id"]: hit["_index"] for hit in hits})
        for failure in outcome.rejected + outcome.retryable:
            stats.failed.append(failure.doc_id)
        stats.rewritten += len(outcome.indexed)
        on_progress(len(hits))
