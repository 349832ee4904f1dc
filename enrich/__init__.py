"""enrich: the consumer-group workers (tagging, people and places, near-duplicates, alerts),
the Elasticsearch sink and search, dead letters and reprocessing.

What other packages may use is named here; everything else is private to enrich. Imported
lazily, like ingest's surface.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real types for mypy; at run time names load on first use
    from enrich.article_index import ArticleIndex
    from enrich.article_stats import article_stats, format_stats
    from enrich.consumer_lag import group_lag
    from enrich.dead_letter_admin import read_dead_letters, replay_dead_letters
    from enrich.enricher import Enricher
    from enrich.mapping_migration import migrate, pending
    from enrich.query_expansion import NameTable, expand_query, whole_query_names
    from enrich.reprocess import count_selected, reprocess
    from enrich.search import SearchFilters, search_articles
    from enrich.tagger import Tagger
    from enrich.tagging_eval import format_report, run_tagging_eval
    from enrich.taxonomy import load_taxonomy
    from enrich.worker import run_worker

_PUBLIC = {
    "AlertEngine": "enrich.alerts",
    "load_alert_rules": "enrich.alerts",
    "Enricher": "enrich.enricher",
    "run_worker": "enrich.worker",
    "ArticleIndex": "enrich.article_index",
    "search_articles": "enrich.search",
    "SearchFilters": "enrich.search",
    "NameTable": "enrich.query_expansion",
    "expand_query": "enrich.query_expansion",
    "whole_query_names": "enrich.query_expansion",
    "article_stats": "enrich.article_stats",
    "format_stats": "enrich.article_stats",
    "migrate": "enrich.mapping_migration",
    "pending": "enrich.mapping_migration",
    "load_taxonomy": "enrich.taxonomy",
    "Tagger": "enrich.tagger",
    "run_tagging_eval": "enrich.tagging_eval",
    "format_report": "enrich.tagging_eval",
    "read_dead_letters": "enrich.dead_letter_admin",
    "replay_dead_letters": "enrich.dead_letter_admin",
    "reprocess": "enrich.reprocess",
    "count_selected": "enrich.reprocess",
    "group_lag": "enrich.consumer_lag",
}

__all__ = [
    "ArticleIndex",
    "Enricher",
    "NameTable",
    "SearchFilters",
    "Tagger",
    "article_stats",
    "count_selected",
    "expand_query",
    "format_report",
    "format_stats",
    "group_lag",
    "load_taxonomy",
    "migrate",
    "pending",
    "read_dead_letters",
    "replay_dead_letters",
    "reprocess",
    "run_tagging_eval",
    "run_worker",
    "search_articles",
    "whole_query_names",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'enrich' has no public name {name!r}")
    return getattr(import_module(module), name)
