"""Hops between an article's timings, and percentiles over them (pure).

A hop is the time between two consecutive stages of `Timings` (published -> discovered -> ...
-> indexed); the end-to-end spans are what an analyst feels: publication -> searchable and
discovery -> searchable. "Searchable" in a stored document is `timings.indexed` (the bulk
request was built); the worker's histograms use the moment Elasticsearch acknowledged it.
A hop whose two stamps are not both known is left out, never guessed; a negative one (a feed
dating an entry in the future, clocks of two hosts apart) is clamped to zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Final

from ingest.message.article import TIMING_KEYS, Timings


@dataclass(frozen=True)
class Span:
    name: str
    start: str  # a key of Timings
    end: str


HOPS: Final[tuple[Span, ...]] = tuple(
    Span(f"{a}_to_{b}", a, b) for a, b in pairwise(TIMING_KEYS)
)
# The end-to-end spans stored documents can answer (alert delivery lives in the alerts index).
END_TO_END: Final[tuple[Span, ...]] = (
    Span("published_to_searchable", "published", "indexed"),
    Span("discovered_to_searchable", "discovered", "indexed"),
)
SEARCHABLE_TO_ALERT: Final = "searchable_to_alert_delivered"

# Histogram buckets: 50 ms to a day (publication -> searchable is hours for a feed polled late).
BUCKETS: Final[tuple[float, ...]] = (
    0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
    3600.0, 7200.0, 21600.0, 86400.0,
)


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def span_seconds(timings: Timings, spans: Sequence[Span]) -> dict[str, float]:
    """Seconds of each span whose two stamps are known."""
    found: dict[str, float] = {}
    for span in spans:
        value = seconds_between(getattr(timings, span.start), getattr(timings, span.end))
        if value is not None:
            found[span.name] = value
    return found


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (what numpy calls 'linear'), q in [0, 100]."""
    if not sorted_values:
        raise ValueError("no values")
    rank = (len(sorted_values) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return sorted_values[low]
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


@dataclass(frozen=True)
class SpanStats:
    count: int
    p50: float | None
    p95: float | None
    max: float | None


def summarize(values: Iterable[float]) -> SpanStats:
    ordered = sorted(values)
    if not ordered:
        return SpanStats(0, None, None, None)
    return SpanStats(len(ordered), percentile(ordered, 50), percentile(ordered, 95), ordered[-1])


def summarize_spans(
    rows: Iterable[Mapping[str, float]], names: Sequence[str]
) -> dict[str, SpanStats]:
    """p50/p95/max per span name over rows of {span name: seconds}."""
    collected: dict[str, list[float]] = {name: [] for name in names}
    for row in rows:
        for name, value in row.items():
            if name in collected:
                collected[name].append(value)
    return {name: summarize(values) for name, values in collected.items()}
