"""Prometheus histograms of freshness: seconds per hop and end to end.

One module for both sides: the poller observes the hops up to `produced`, the worker those
after (and the end-to-end spans when Elasticsearch acknowledged the document), the alert
delivery step the time from searchable to delivered. Each process exports what it observed.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Histogram

from ingest.message.article import Timings
from ingest.message.timing_hops import (
    BUCKETS,
    HOPS,
    SEARCHABLE_TO_ALERT,
    seconds_between,
    span_seconds,
)

HOP_SECONDS = Histogram(
    "newswatch_freshness_hop_seconds",
    "Seconds between two consecutive stages of an article (hop: published_to_discovered, ...)",
    ["hop"], buckets=BUCKETS,
)
END_TO_END_SECONDS = Histogram(
    "newswatch_freshness_end_to_end_seconds",
    "Seconds from publication / discovery to searchable (Elasticsearch acked the document), "
    "and from searchable to an alert delivered",
    ["span"], buckets=BUCKETS,
)

_POLLER_HOPS = tuple(h for h in HOPS if h.end in ("discovered", "fetched", "extracted",
                                                  "produced"))
_WORKER_HOPS = tuple(h for h in HOPS if h.end in ("consumed", "indexed"))


def observe_produced(timings: Timings) -> None:
    """The poller, once Kafka acknowledged the article."""
    for name, value in span_seconds(timings, _POLLER_HOPS).items():
        HOP_SECONDS.labels(name).observe(value)


def observe_searchable(timings: Timings, acked: datetime) -> None:
    """The worker, once Elasticsearch acknowledged the document at `acked`."""
    for name, value in span_seconds(timings, _WORKER_HOPS).items():
        HOP_SECONDS.labels(name).observe(value)
    for start in ("published", "discovered"):
        span = seconds_between(getattr(timings, start), acked)
        if span is not None:
            END_TO_END_SECONDS.labels(f"{start}_to_searchable").observe(span)


def observe_alert_delivered(searchable: datetime, delivered: datetime) -> None:
    value = seconds_between(searchable, delivered)
    if value is not None:
        END_TO_END_SECONDS.labels(SEARCHABLE_TO_ALERT).observe(value)
