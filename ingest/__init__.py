"""ingest: feed registry and state, safe HTTP fetching, extraction, the Article message and
its Kafka producer.

What other packages may use is named here; everything else is private to ingest. Names are
imported lazily so that a light import (an extraction subprocess, a CLI `--help`) does not pay
for Kafka, Elasticsearch and trafilatura.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real types for mypy; at run time names load on first use
    from ingest.article import SCHEMA_VERSION, Article, ExtractionInfo, Timings
    from ingest.canonical_url import article_id, canonicalize_url
    from ingest.es_client import make_es
    from ingest.extraction import ExtractionFailed, extract_html
    from ingest.feeds_config import FeedConfig, load_feeds
    from ingest.kafka_topics import ensure_topics
    from ingest.log_setup import configure_logging
    from ingest.metrics_server import serve_metrics
    from ingest.poll_run import poll_once, prepare_ingest
    from ingest.settings import Settings
    from ingest.yaml_config import ConfigError, format_loc, load_yaml_model, parse_yaml_model

_PUBLIC = {
    # the message contract enrich reads
    "Article": "ingest.article",
    "ExtractionInfo": "ingest.article",
    "Timings": "ingest.article",
    "SCHEMA_VERSION": "ingest.article",
    "article_id": "ingest.canonical_url",
    "canonicalize_url": "ingest.canonical_url",
    # settings, config files and the clients every process builds the same way
    "Settings": "ingest.settings",
    "ConfigError": "ingest.yaml_config",
    "load_yaml_model": "ingest.yaml_config",
    "parse_yaml_model": "ingest.yaml_config",
    "format_loc": "ingest.yaml_config",
    "make_es": "ingest.es_client",
    "ensure_topics": "ingest.kafka_topics",
    "configure_logging": "ingest.log_setup",
    "serve_metrics": "ingest.metrics_server",
    # what flows/ orchestrates
    "FeedConfig": "ingest.feeds_config",
    "load_feeds": "ingest.feeds_config",
    "poll_once": "ingest.poll_run",
    "poll_due": "ingest.poll_run",
    "FeedRegistry": "ingest.feed_registry",
    "prepare_ingest": "ingest.poll_run",
    "extract_html": "ingest.extraction",
    "ExtractionFailed": "ingest.extraction",
}

__all__ = [
    "SCHEMA_VERSION",
    "Article",
    "ConfigError",
    "ExtractionFailed",
    "ExtractionInfo",
    "FeedConfig",
    "Settings",
    "Timings",
    "article_id",
    "canonicalize_url",
    "configure_logging",
    "ensure_topics",
    "extract_html",
    "format_loc",
    "load_feeds",
    "load_yaml_model",
    "make_es",
    "parse_yaml_model",
    "poll_once",
    "prepare_ingest",
    "serve_metrics",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'ingest' has no public name {name!r}")
    return getattr(import_module(module), name)
