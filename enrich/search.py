"""Analyst search over the articles alias: full text with highlighting, topic and date filters,
near-duplicate clusters collapsed to their best hit unless asked for all."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from elasticsearch import Elasticsearch
from pydantic import BaseModel

from enrich.article_date import since_filter

SEARCH_FIELDS = ["title^3", "title.english^2", "text", "text.english", "summary"]


class SearchHit(BaseModel):
    id: str
    title: str
    url: str
    published: str | None
    topics: list[str]
    highlight: list[str]
    score: float | None
    domain: str | None = None
    cluster_id: str | None = None
    cluster_size: int | None = None


def build_query(
    query: str,
    *,
    topic: str | None = None,
    since: date | datetime | None = None,
    sort: Literal["relevance", "newest"] = "relevance",
    collapse: bool = True,
    size: int = 10,
) -> dict[str, Any]:
    """The search request body (pure, so its shape is tested without a server)."""
    filters: list[dict[str, Any]] = []
    if topic:
        filters.append({"term": {"topics": topic}})
    if since:
        filters.append(since_filter(since))  # published, else fetched: undated ones count
    must: dict[str, Any] = (
        {"multi_match": {"query": query, "fields": SEARCH_FIELDS, "type": "best_fields"}}
        if query.strip()
        else {"match_all": {}}
    )
    body: dict[str, Any] = {
        "query": {"bool": {"must": [must], "filter": filters}},
        "size": size,
        "_source": ["id", "title", "url", "published", "topics", "domain", "cluster_id"],
        "highlight": {
            "pre_tags": ["<em>"],
            "post_tags": ["</em>"],
            "fields": {
                "title": {"number_of_fragments": 0},
                "text": {"fragment_size": 160, "number_of_fragments": 2},
                "text.english": {"fragment_size": 160, "number_of_fragments": 2},
            },
        },
        "track_total_hits": True,
    }
    if sort == "newest":
        body["sort"] = [{"published": {"order": "desc", "missing": "_last"}}, "_score"]
    if collapse:
        body["collapse"] = {"field": "cluster_id"}
        body["aggs"] = {"clusters": {"terms": {"field": "cluster_id", "size": size * 5}}}
    return body


def _highlight(hit: dict[str, Any]) -> list[str]:
    found = hit.get("highlight") or {}
    fragments: list[str] = []
    for field in ("title", "text", "text.english"):
        for fragment in found.get(field, []):
            if fragment not in fragments:
                fragments.append(fragment)
    return fragments


def search_articles(
    es: Elasticsearch,
    alias: str,
    query: str,
    *,
    topic: str | None = None,
    since: date | datetime | None = None,
    sort: Literal["relevance", "newest"] = "relevance",
    collapse: bool = True,
    size: int = 10,
) -> tuple[int, list[SearchHit]]:
    body = build_query(query, topic=topic, since=since, sort=sort, collapse=collapse, size=size)
    response = es.search(index=alias, **body)
    sizes = {
        b["key"]: b["doc_count"]
        for b in response.get("aggregations", {}).get("clusters", {}).get("buckets", [])
    }
    hits = []
    for hit in response["hits"]["hits"]:
        source = hit["_source"]
        hits.append(
            SearchHit(
                id=hit["_id"],
                title=source.get("title", ""),
                url=source.get("url", ""),
                published=source.get("published"),
                topics=source.get("topics") or [],
                highlight=_highlight(hit),
                score=hit.get("_score"),
                domain=source.get("domain"),
                cluster_id=source.get("cluster_id"),
                cluster_size=sizes.get(source.get("cluster_id") or ""),
            )
        )
    total = response["hits"]["total"]
    return (total["value"] if isinstance(total, dict) else int(total)), hits
