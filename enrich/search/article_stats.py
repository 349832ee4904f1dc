"""`newswatch stats`: what the index holds over a window, for analysts and ops.

Articles per day, per topic, per language, per source (feed), and the places and actors named
most, all as Elasticsearch aggregations in one request (nothing is read document by document,
so it costs the same on a million articles as on a hundred). Days and windows follow
`published_or_fetched` (enrich/index/article_date.py), so undated articles count on the day they
were
fetched. Aggregations used are the ones both Elasticsearch 8 and the embedded server answer:
filter, terms, missing, date_histogram.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from elasticsearch import Elasticsearch
from pydantic import BaseModel

from enrich.index.article_date import ARTICLE_DATE_FIELD

UNKNOWN = "(unknown)"


class Count(BaseModel):
    key: str
    count: int


class ArticleStats(BaseModel):
    since: str | None
    until: str | None
    topic: str | None
    total: int
    per_day: list[Count]
    topics: list[Count]
    languages: list[Count]
    sources: list[Count]
    places: list[Count]
    actors: list[Count]


def stats_request(
    *, since: date | datetime | None = None, until: date | datetime | None = None,
    topic: str | None = None, top: int = 10,
) -> dict[str, Any]:
    """The aggregation request (pure, tested without a server)."""
    filters: list[dict[str, Any]] = []
    span: dict[str, str] = {}
    if since:
        span["gte"] = since.isoformat()
    if until:
        span["lte"] = until.isoformat()
    if span:
        filters.append({"range": {ARTICLE_DATE_FIELD: span}})
    if topic:
        filters.append({"term": {"topics": topic}})
    return {
        "size": 0,
        "track_total_hits": True,
        "query": {"bool": {"filter": filters}},
        "aggs": {
            "per_day": {"date_histogram": {"field": ARTICLE_DATE_FIELD,
                                           "calendar_interval": "day", "format": "yyyy-MM-dd",
                                           "min_doc_count": 0}},
            "topics": {"terms": {"field": "topics", "size": 100}},
            "no_topic": {"missing": {"field": "topics"}},
            "languages": {"terms": {"field": "language", "size": 100}},
            "no_language": {"missing": {"field": "language"}},
            "sources": {"terms": {"field": "feed", "size": max(top, 20)}},
            "places": {"terms": {"field": "places", "size": top}},
            "actors": {"terms": {"field": "actors", "size": top}},
        },
    }


def _buckets(aggs: dict[str, Any], name: str) -> list[Count]:
    return [Count(key=str(b.get("key_as_string", b["key"])), count=int(b["doc_count"]))
            for b in aggs.get(name, {}).get("buckets", [])]


def _with_missing(counts: list[Count], aggs: dict[str, Any], name: str, label: str) -> list[Count]:
    missing = int(aggs.get(name, {}).get("doc_count", 0))
    return [*counts, Count(key=label, count=missing)] if missing else counts


def parse_stats(response: dict[str, Any], *, since: date | datetime | None = None,
                until: date | datetime | None = None, topic: str | None = None) -> ArticleStats:
    """The response of `stats_request` as counts (pure)."""
    aggs = response.get("aggregations", {})
    total = response["hits"]["total"]
    return ArticleStats(
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
        topic=topic,
        total=int(total["value"] if isinstance(total, dict) else total),
        per_day=_buckets(aggs, "per_day"),
        topics=_with_missing(_buckets(aggs, "topics"), aggs, "no_topic", "(none)"),
        languages=_with_missing(_buckets(aggs, "languages"), aggs, "no_language", UNKNOWN),
        sources=_buckets(aggs, "sources"),
        places=_buckets(aggs, "places"),
        actors=_buckets(aggs, "actors"),
    )


def article_stats(
    es: Elasticsearch, alias: str, *, since: date | datetime | None = None,
    until: date | datetime | None = None, topic: str | None = None, top: int = 10,
) -> ArticleStats:
    body = stats_request(since=since, until=until, topic=topic, top=top)
    response = es.search(index=alias, **body).body
    return parse_stats(response, since=since, until=until, topic=topic)


def format_stats(stats: ArticleStats, *, bar_width: int = 40) -> str:
    """Readable tables for a terminal."""
    window = f"since {stats.since}" if stats.since else "all time"
    if stats.until:
        window += f" until {stats.until}"
    lines = [f"{stats.total} articles {window}" + (f", topic {stats.topic}" if stats.topic
                                                    else "")]
    peak = max((c.count for c in stats.per_day), default=0)
    if stats.per_day:
        lines += ["", "per day"]
        for c in stats.per_day:
            bar = "#" * (round(c.count / peak * bar_width) if peak else 0)
            lines.append(f"  {c.key}  {c.count:>7}  {bar}")
    for title, counts in (("per topic", stats.topics), ("per language", stats.languages),
                          ("per source", stats.sources), ("top places", stats.places),
                          ("top actors", stats.actors)):
        lines += ["", title]
        if not counts:
            lines.append("  -")
        width = max((len(c.key) for c in counts), default=0)
        for c in counts:
            share = f"{c.count / stats.total:6.1%}" if stats.total else ""
            lines.append(f"  {c.key:<{width}}  {c.count:>7}  {share}")
    return "\n".join(lines)
