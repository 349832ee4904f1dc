"""The Elasticsearch client as every newswatch process builds it (8.x client, see STACK-NOTES)."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from ingest.settings import Settings


def make_es(settings: Settings) -> Elasticsearch:
    return Elasticsearch(
        settings.es_url,
        request_timeout=settings.es_timeout_s,
        retry_on_timeout=True,
        max_retries=2,
    )
