"""Analyst search over the articles alias: every language's fields at once, a small documented
query syntax, filters, highlighting of the form that matched, near-duplicate clusters collapsed
to their best hit unless asked for all.

Query syntax (Elasticsearch's `simple_query_string`, which never fails on odd input):
  Idlib Saraqib        both words (all words are required)
  Idlib AND Syria      the same; `AND` is an operator, never a word to look for
  Idlib OR Aleppo      either (also `Idlib | Aleppo`)
  Idlib NOT Turkey     without Turkey (also `Idlib -Turkey`)
  "Jisr al-Shughur"    the exact phrase
  Sarāq*               words starting with Sarāq
  *                    everything, newest first
Each word is looked up in the language-neutral fields (`title`, `text`) and in every
language's own fields (`title_ar`, `text_ru`, ...), so a dictionary form also finds the
inflected, prefixed and suffixed forms in the article's language. A title match weighs more
than a body match, and the neutral (unstemmed) title the most, so an exact title match
outranks a stemmed body match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from elasticsearch import Elasticsearch
from pydantic import BaseModel

from enrich.index.article_date import ARTICLE_DATE_FIELD
from enrich.search.search_fields import (
    NEUTRAL_TEXT,
    NEUTRAL_TITLE,
    SEARCH_LANGUAGES,
    text_field,
    title_field,
)

# Boosts: exact (neutral) title > stemmed title in the article's language > exact body >
# stemmed body. The stemmed fields also match the exact forms, so an exact word scores on both.
TITLE_BOOST = 4.0
LANGUAGE_TITLE_BOOST = 3.0
TEXT_BOOST = 1.5
LANGUAGE_TEXT_BOOST = 1.0

SEARCH_FIELDS = [
    f"{NEUTRAL_TITLE}^{TITLE_BOOST}",
    *(f"{title_field(lang)}^{LANGUAGE_TITLE_BOOST}" for lang in SEARCH_LANGUAGES),
    f"{NEUTRAL_TEXT}^{TEXT_BOOST}",
    *(f"{text_field(lang)}^{LANGUAGE_TEXT_BOOST}" for lang in SEARCH_LANGUAGES),
    "summary",
]
HIGHLIGHT_FIELDS = [
    NEUTRAL_TITLE,
    *(title_field(lang) for lang in SEARCH_LANGUAGES),
    NEUTRAL_TEXT,
    *(text_field(lang) for lang in SEARCH_LANGUAGES),
]

# A language's own analysis only changes words of its script (the Russian rules do nothing to
# "Idlib", the Turkish ones nothing to إدلب), and every article also has the neutral fields.
# So a query is run on the neutral fields plus the fields of the languages whose script it is
# written in: the same hits, fewer fields to search (each field costs a pass on the embedded
# server). A query in a script none of them covers searches the neutral fields only.
SCRIPT_LANGUAGES: dict[str, tuple[str, ...]] = {
    "latin": ("en", "fr", "de", "tr"),
    "cyrillic": ("ru",),
    "arabic": ("ar", "fa"),
}
_SCRIPTS = {
    "latin": re.compile("[A-Za-z\u00c0-\u024f]"),
    "cyrillic": re.compile("[\u0400-\u04ff]"),
    "arabic": re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]"),
}


def query_languages(query: str) -> tuple[str, ...]:
    """The languages whose fields can match the query differently from the neutral ones."""
    found = [lang for script, pattern in _SCRIPTS.items() if pattern.search(query)
             for lang in SCRIPT_LANGUAGES[script]]
    return tuple(lang for lang in SEARCH_LANGUAGES if lang in found)


def fields_for(query: str) -> list[str]:
    """SEARCH_FIELDS narrowed to the neutral fields and the query's scripts' languages."""
    languages = set(query_languages(query))
    return [f for f in SEARCH_FIELDS
            if "_" not in f.split("^")[0] or f.split("^")[0].split("_")[1] in languages]


SOURCE_FIELDS = ["id", "title", "url", "published", "topics", "domain", "cluster_id", "language",
                 "feed", "places", "actors"]

MATCH_ALL = "*"

_OPERATORS = {"AND": "+", "OR": "|", "NOT": "-"}
_WORD = re.compile(r"\w", re.UNICODE)


class QueryError(ValueError):
    """The query cannot be searched as given (the message says why and what to type)."""


def has_words(query: str) -> bool:
    """Whether the query has anything to look for: a letter or digit in any script."""
    return bool(_WORD.search(query))


def to_simple_query_string(query: str) -> str:
    """Rewrite the upper-case operators AND, OR, NOT into simple_query_string's `+ | -`, so
    they are never searched for as words (lower-case "and" stays a word, as in Lucene)."""
    out: list[str] = []
    negate_next = False
    for token in query.split():
        if token in _OPERATORS:
            if token == "NOT":
                negate_next = True
            else:
                out.append(_OPERATORS[token])
            continue
        out.append(f"-{token}" if negate_next else token)
        negate_next = False
    return " ".join(out)


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on what is searched; each list is "any of these"."""

    topic: str | None = None
    since: date | datetime | None = None
    until: date | datetime | None = None
    languages: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()

    def clauses(self) -> list[dict[str, Any]]:
        clauses: list[dict[str, Any]] = []
        if self.topic:
            clauses.append({"term": {"topics": self.topic}})
        for field_name, values in (("language", self.languages), ("feed", self.feeds),
                                   ("places", self.places), ("actors", self.actors)):
            if values:
                clauses.append({"terms": {field_name: list(values)}})
        span: dict[str, str] = {}
        if self.since:
            span["gte"] = self.since.isoformat()
        if self.until:
            # A bare date means the whole day: up to its end.
            span["lte" if isinstance(self.until, datetime) else "lt"] = (
                self.until.isoformat() if isinstance(self.until, datetime)
                else _next_day(self.until).isoformat())
        if span:
            # published, else fetched: undated articles count (enrich/index/article_date.py)
            clauses.append({"range": {ARTICLE_DATE_FIELD: span}})
        return clauses


def _next_day(day: date) -> date:
    return date.fromordinal(day.toordinal() + 1)


class SearchHit(BaseModel):
    id: str
    title: str
    url: str
    published: str | None
    topics: list[str]
    highlight: list[str]
    score: float | None
    language: str | None = None
    feed: str | None = None
    places: list[str] = []
    actors: list[str] = []
    domain: str | None = None
    cluster_id: str | None = None
    cluster_size: int | None = None


def _text_query(query: str) -> dict[str, Any]:
    if not query.strip() or query.strip() == MATCH_ALL:
        return {"match_all": {}}
    return {
        "simple_query_string": {
            "query": to_simple_query_string(query),
            "fields": fields_for(query),
            "default_operator": "and",
            "flags": "AND|OR|NOT|PHRASE|PREFIX|PRECEDENCE|WHITESPACE|ESCAPE",
        }
    }


def _quoted(name: str) -> str:
    return f'"{name}"' if re.search(r"[\s\-'’]", name) else name


# A name that is one run of letters/digits is one token for every analyser of the mapping.
_ONE_WORD = re.compile(r"\w+")


def _names_query(names: Sequence[str]) -> dict[str, Any]:
    """Any of these names (an --any-language expansion of the whole query).

    The one-word names go into ONE `multi_match` (most_fields, operator or) over the fields of
    all their scripts: the same hits and nearly the same scores as one `simple_query_string`
    clause per name (which Elasticsearch also scores as most_fields), but the embedded server
    (noida-db 0.2.3) makes one pass over the documents per leaf query and field, and a match
    query costs one pass however many words it has, where `a | b | c` costs one per word
    (issue 11: 1,000 articles, `Syria`'s fifteen names 9.3 s -> about 0.9 s for the one-word
    part). A language's analysis leaves other scripts' words as the neutral field has them, so
    searching a Latin name in `text_ru` too adds no hit. Multi-word names stay phrases, grouped
    by script, each looked up only in its own script's fields."""
    words = [n for n in names if _ONE_WORD.fullmatch(n)]
    should: list[dict[str, Any]] = []
    if words:
        should.append({"multi_match": {"query": " ".join(words),
                                       "fields": fields_for(" ".join(words)),
                                       "type": "most_fields", "operator": "or"}})
    groups: dict[tuple[str, ...], list[str]] = {}
    for name in names:
        if not _ONE_WORD.fullmatch(name):
            groups.setdefault(query_languages(name), []).append(name)
    should += [
        {"simple_query_string": {"query": " | ".join(_quoted(n) for n in group),
                                 "fields": fields_for(group[0]), "default_operator": "and",
                                 "flags": "OR|PHRASE|WHITESPACE"}}
        for group in groups.values()
    ]
    return {"bool": {"minimum_should_match": 1, "should": should}}


def build_query(
    query: str,
    *,
    topic: str | None = None,
    since: date | datetime | None = None,
    sort: Literal["relevance", "newest"] = "relevance",
    collapse: bool = True,
    size: int = 10,
    filters: SearchFilters | None = None,
    any_of_names: Sequence[str] = (),
) -> dict[str, Any]:
    """The search request body (pure, so its shape is tested without a server). An empty
    query or `*` matches everything (newest first unless sorted otherwise). `any_of_names`,
    when given, replaces the query text: articles naming any of them."""
    filters = filters or SearchFilters()
    if topic or since:
        filters = SearchFilters(topic=topic or filters.topic, since=since or filters.since,
                                until=filters.until, languages=filters.languages,
                                feeds=filters.feeds, places=filters.places, actors=filters.actors)
    text = _names_query(any_of_names) if any_of_names else _text_query(query)
    searched = {f.split("^")[0] for f in fields_for(" ".join(any_of_names) or query)}
    body: dict[str, Any] = {
        "query": {"bool": {"must": [text], "filter": filters.clauses()}},
        "size": size,
        "_source": SOURCE_FIELDS,
        "track_total_hits": True,
    }
    if "match_all" in text:
        sort = "newest"
    else:
        body["highlight"] = {
            "pre_tags": ["<em>"],
            "post_tags": ["</em>"],
            "require_field_match": True,
            "fields": {
                name: ({"number_of_fragments": 0} if name.startswith("title")
                       else {"fragment_size": 160, "number_of_fragments": 2})
                for name in HIGHLIGHT_FIELDS
                if name in searched
            },
        }
    if sort == "newest":
        body["sort"] = [{"published": {"order": "desc", "missing": "_last"}}, "_score"]
    if collapse:
        body["collapse"] = {"field": "cluster_id"}
        body["aggs"] = {"clusters": {"terms": {"field": "cluster_id", "size": size * 5}}}
    return body


def _highlight(hit: dict[str, Any]) -> list[str]:
    """Highlighted fragments, titles first; the same fragment found through two fields (the
    neutral and the language field) is shown once."""
    found = hit.get("highlight") or {}
    fragments: list[str] = []
    for name in HIGHLIGHT_FIELDS:
        for fragment in found.get(name, []):
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
    filters: SearchFilters | None = None,
    any_of_names: Sequence[str] = (),
) -> tuple[int, list[SearchHit]]:
    body = build_query(query, topic=topic, since=since, sort=sort, collapse=collapse, size=size,
                       filters=filters, any_of_names=any_of_names)
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
                language=source.get("language"),
                feed=source.get("feed"),
                places=source.get("places") or [],
                actors=source.get("actors") or [],
                domain=source.get("domain"),
                cluster_id=source.get("cluster_id"),
                cluster_size=sizes.get(source.get("cluster_id") or ""),
            )
        )
    total = response["hits"]["total"]
    return (total["value"] if isinstance(total, dict) else int(total)), hits
