"""How fresh newswatch was over a window, from what is stored: p50/p95/max per hop and end to
end (`newswatch freshness`).

Articles: the `timings` of the documents indexed in the window. Elasticsearch computes the
percentiles itself (a `percentiles` aggregation over a script taking the difference of two
date fields, in a `filter` aggregation keeping only documents that have both, so no document
is transferred); a server without that aggregation or without scripts in aggregations
(the embedded noida-db 0.2.3 answers "Unknown aggregation type [percentiles]") gets the
fallback: the window's `timings` are read (only that field) and the percentiles computed here,
exactly. Elasticsearch's are TDigest estimates, close to exact at these counts.

Alerts: searchable -> delivered from the alerts index (`indexed_at`, written right after the
article's bulk ack, to each channel's `delivered_at`), always computed here: alerts are few.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from elasticsearch import ApiError, Elasticsearch, NotFoundError, helpers

from ingest.message.article import Timings, iso_utc
from ingest.message.timing_hops import (
    END_TO_END,
    HOPS,
    SEARCHABLE_TO_ALERT,
    Span,
    SpanStats,
    seconds_between,
    span_seconds,
    summarize,
    summarize_spans,
)

SPANS: tuple[Span, ...] = HOPS + END_TO_END
# How many documents the fallback reads at most (newest first): enough for a day of a busy
# deployment; a longer window should be asked of a server with the aggregation.
FALLBACK_LIMIT = 200_000

# Milliseconds from one date field to another, never negative (clocks of two hosts apart).
_SPAN_SCRIPT = (
    "Math.max(0L, doc[params.end].value.toInstant().toEpochMilli()"
    " - doc[params.start].value.toInstant().toEpochMilli())"
)


@dataclass
class FreshnessReport:
    since: datetime
    until: datetime
    documents: int
    method: Literal["aggregation", "documents"]
    spans: dict[str, SpanStats] = field(default_factory=dict)
    alerts_delivered: int = 0
    truncated: bool = False  # the fallback read only the newest FALLBACK_LIMIT documents

    def to_json(self) -> dict[str, Any]:
        return {
            "since": iso_utc(self.since), "until": iso_utc(self.until),
            "documents": self.documents, "method": self.method, "truncated": self.truncated,
            "spans": {name: {"count": s.count, "p50_s": _ms(s.p50), "p95_s": _ms(s.p95),
                             "max_s": _ms(s.max)} for name, s in self.spans.items()},
        }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def window_query(since: datetime, until: datetime) -> dict[str, Any]:
    return {"range": {"timings.indexed": {"gte": iso_utc(since), "lte": iso_utc(until)}}}


def aggregation_body(spans: tuple[Span, ...] = SPANS) -> dict[str, Any]:
    """One filter aggregation per span, holding percentiles and max of its script."""
    aggs: dict[str, Any] = {}
    for span in spans:
        start, end = f"timings.{span.start}", f"timings.{span.end}"
        script = {"source": _SPAN_SCRIPT, "params": {"start": start, "end": end}}
        aggs[span.name] = {
            "filter": {"bool": {"filter": [{"exists": {"field": start}},
                                           {"exists": {"field": end}}]}},
            "aggs": {"pct": {"percentiles": {"script": script, "percents": [50, 95]}},
                     "max": {"max": {"script": script}}},
        }
    return aggs


class AggregationUnsupported(Exception):
    """The server cannot compute these aggregations: use the fallback."""


def parse_aggregations(
    aggregations: Mapping[str, Any], spans: tuple[Span, ...] = SPANS
) -> dict[str, SpanStats]:
    """Seconds per span from Elasticsearch's answer (milliseconds, percentiles keyed "50.0")."""
    found: dict[str, SpanStats] = {}
    for span in spans:
        bucket = aggregations[span.name]
        count = int(bucket["doc_count"])
        if count == 0:
            found[span.name] = SpanStats(0, None, None, None)
            continue
        values = bucket["pct"]["values"]
        p50, p95, top = values.get("50.0"), values.get("95.0"), bucket["max"]["value"]
        if p50 is None or p95 is None or top is None:
            # Documents matched but no value came back: the script did not run.
            raise AggregationUnsupported(f"no values for {span.name} over {count} documents")
        found[span.name] = SpanStats(count, p50 / 1000, p95 / 1000, top / 1000)
    return found


def _aggregated(es: Elasticsearch, index: str, query: dict[str, Any]) -> tuple[int, dict[str,
                                                                                   SpanStats]]:
    try:
        answer = es.search(index=index, size=0, query=query, aggs=aggregation_body(),
                           track_total_hits=True)
    except ApiError as exc:
        if exc.meta.status == 400:  # unknown aggregation type, scripts disabled, ...
            raise AggregationUnsupported(str(exc)[:300]) from exc
        raise
    total = int(answer["hits"]["total"]["value"])
    return total, parse_aggregations(answer.get("aggregations") or {})


def _stored_timings(es: Elasticsearch, index: str, query: dict[str, Any]) -> Iterator[Timings]:
    for hit in helpers.scan(es, index=index, query={"query": query, "_source": ["timings"]},
                            size=1000, preserve_order=False):
        yield Timings.model_validate((hit.get("_source") or {}).get("timings") or {})


def _from_documents(es: Elasticsearch, index: str, query: dict[str, Any]) -> tuple[
        int, dict[str, SpanStats], bool]:
    rows: list[dict[str, float]] = []
    truncated = False
    for timings in _stored_timings(es, index, query):
        if len(rows) >= FALLBACK_LIMIT:
            truncated = True
            break
        rows.append(span_seconds(timings, SPANS))
    return len(rows), summarize_spans(rows, [s.name for s in SPANS]), truncated


def alert_delivery_seconds(es: Elasticsearch, alerts_index: str, since: datetime,
                           until: datetime) -> list[float]:
    """Searchable -> delivered, one value per channel that took an alert of the window."""
    query = {"bool": {"filter": [
        {"term": {"doc_type": "alert"}},
        {"range": {"indexed_at": {"gte": iso_utc(since), "lte": iso_utc(until)}}},
    ]}}
    values: list[float] = []
    try:
        hits = helpers.scan(es, index=alerts_index, size=1000,
                            query={"query": query, "_source": ["indexed_at", "deliveries"]})
        for hit in hits:
            source = hit.get("_source") or {}
            searchable = _date(source.get("indexed_at"))
            for delivery in source.get("deliveries") or []:
                value = seconds_between(searchable, _date(delivery.get("delivered_at")))
                if value is not None:
                    values.append(value)
    except NotFoundError:  # no alert was ever recorded
        return []
    return values


def _date(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return Timings.model_validate({"indexed": value}).indexed


def freshness_report(
    es: Elasticsearch, articles: str, alerts: str, *, since: datetime, until: datetime,
    method: Literal["auto", "aggregation", "documents"] = "auto",
) -> FreshnessReport:
    """p50/p95/max per span over the articles indexed in [since, until] (and the alerts
    recorded then). `method="auto"`: aggregations, else the fallback."""
    query = window_query(since, until)
    truncated = False
    used: Literal["aggregation", "documents"] = "aggregation"
    try:
        try:
            if method == "documents":
                raise AggregationUnsupported("asked for")
            total, spans = _aggregated(es, articles, query)
        except AggregationUnsupported:
            if method == "aggregation":
                raise
            used = "documents"
            total, spans, truncated = _from_documents(es, articles, query)
    except NotFoundError:  # nothing was ever indexed
        total, spans = 0, {s.name: SpanStats(0, None, None, None) for s in SPANS}
    delivered = alert_delivery_seconds(es, alerts, since, until)
    spans[SEARCHABLE_TO_ALERT] = summarize(delivered)
    return FreshnessReport(since, until, total, used, spans, len(delivered), truncated)
