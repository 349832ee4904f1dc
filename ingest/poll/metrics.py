"""Prometheus metrics of the ingest stage (feeds polled, articles fetched/extracted/produced,
errors by kind). Exposed by the process that runs the poller when `NEWSWATCH_METRICS_PORT` is
set."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

FEEDS_POLLED = Counter(
    "newswatch_feeds_polled_total", "Feed polls by outcome", ["outcome"]
)
FEED_ERRORS = Counter("newswatch_feed_errors_total", "Feed poll errors by kind", ["kind"])
LEASE_RENEWALS = Counter(
    "newswatch_feed_lease_renewals_total",
    "Renewals of feed leases held during long polls (renewed | lost | failed)", ["result"],
)
ENTRIES_SEEN = Counter("newswatch_feed_entries_total", "Feed entries read", ["state"])
PAGES_FETCHED = Counter("newswatch_pages_fetched_total", "Article page fetches", ["outcome"])
ARTICLES_EXTRACTED = Counter(
    "newswatch_articles_extracted_total", "Articles built, by body source", ["source"]
)
ARTICLES_PRODUCED = Counter("newswatch_articles_produced_total", "Articles acked by Kafka")
PRODUCE_ERRORS = Counter("newswatch_produce_errors_total", "Articles Kafka did not ack")
EXTRACT_SECONDS = Histogram(
    "newswatch_extract_seconds", "Extraction time per page",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
DRIFTING_DOMAINS = Gauge(
    "newswatch_extraction_drifting_domains",
    "Domains whose extracted text shrank or failed sharply (site template changed?)",
    multiprocess_mode="mostrecent",  # set by flow-run processes (ingest.common.metrics_server)
)
FEED_POLL_SECONDS = Histogram("newswatch_feed_poll_seconds", "Wall time of one feed's poll")
