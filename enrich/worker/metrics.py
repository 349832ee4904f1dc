"""Prometheus metrics of the enrichment stage."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECORDS_CONSUMED = Counter("newswatch_records_consumed_total", "Kafka records read by workers")
ARTICLES_INDEXED = Counter("newswatch_articles_indexed_total", "Articles acked by Elasticsearch")
DEAD_LETTERS = Counter("newswatch_dead_letters_total", "Records sent to the DLQ", ["kind"])
RECORD_RETRIES = Counter("newswatch_record_retries_total",
                         "Records enriched again after an unexpected error")
ALERT_EVALUATION_ERRORS = Counter(
    "newswatch_alert_evaluation_errors_total",
    "Alert rules that raised on an article (the rule is named in the log)")
INDEX_RETRIES = Counter("newswatch_index_retries_total", "Bulk items retried (429/5xx)")
INDEX_OUTAGES = Counter("newswatch_index_unavailable_total", "Bulk requests that found ES down")
COMMITS = Counter("newswatch_offset_commits_total", "Offset commits", ["outcome"])
BATCH_SECONDS = Histogram("newswatch_batch_seconds", "Wall time from poll to commit per batch")
CONSUMER_LAG = Gauge("newswatch_consumer_lag", "Records not yet committed", ["partition"])
TOPICS_TAGGED = Counter("newswatch_topics_tagged_total", "Topic tags given", ["topic"])
INDEX_ROLLOVERS = Counter("newswatch_index_rollovers_total",
                          "Rollover checks of the articles alias", ["outcome"])
DEDUP_POINTERS_EXPIRED = Counter("newswatch_dedup_pointers_expired_total",
                                 "Band pointers deleted for being older than the window")
