"""The Elasticsearch client as every newswatch process builds it (8.x client, see STACK-NOTES)."""

from __future__ import annotations

from typing import Any

from elasticsearch import BadRequestError, Elasticsearch

from ingest.common.settings import Settings


def make_es(settings: Settings) -> Elasticsearch:
    return Elasticsearch(
        settings.es_url,
        request_timeout=settings.es_timeout_s,
        retry_on_timeout=True,
        max_retries=2,
    )


def create_index_if_missing(es: Elasticsearch, index: str, **body: Any) -> bool:
    """Create `index` (with `body`: mappings, settings, aliases); False when it already
    exists. Several processes start at once, so "exists" can turn true between anyone's check
    and their create: the loser's `resource_already_exists_exception` means just that, and any
    other refusal is raised."""
    try:
        es.indices.create(index=index, **body)
    except BadRequestError as exc:
        if exc.error != "resource_already_exists_exception":
            raise
        return False
    return True


def ensure_index(es: Elasticsearch, index: str, *, mappings: dict[str, Any],
                 settings: dict[str, Any] | None = None) -> bool:
    """The one "ensure index" of newswatch: create `index` with `mappings` (and `settings`)
    if missing, else add the fields `mappings` has and the index lacks (mappings only ever
    grow). True when this call created it."""
    if es.indices.exists(index=index):
        es.indices.put_mapping(index=index, properties=mappings["properties"])
        return False
    return create_index_if_missing(es, index, mappings=mappings,
                                   **({"settings": settings} if settings is not None else {}))
