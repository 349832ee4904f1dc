"""Undated articles stay visible: one date field, `published_or_fetched`, that every time filter
uses (Kibana's data view, `newswatch search --since`, `newswatch reprocess --since`), while
`published` keeps only the source's own date."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from enrich.index.article_date import ARTICLE_DATE_FIELD, article_date, since_filter
from enrich.index.article_index import ArticleIndex
from enrich.index.reprocess import selection_query
from enrich.search.search import build_query, search_articles
from enrich.worker.enricher import Enricher, EnrichmentVersion
from ingest.common.settings import Settings
from ingest.message.article import Article, ExtractionInfo
from tests.support.articles import make_article

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.from_config_dir(REPO / "config")


def _undated(n: int, fetched: datetime) -> Article:
    article = make_article(n, title=f"Undated harbour notice {n}")
    return article.model_copy(update={
        "published": None, "fetched": fetched, "extraction": ExtractionInfo(date_source="none"),
    })


def _dated(n: int, published: datetime, fetched: datetime) -> Article:
    return make_article(n, title=f"Dated harbour report {n}").model_copy(
        update={"published": published, "fetched": fetched})


def test_the_rule_published_else_fetched() -> None:
    fetched, published = "2026-12-06T09:30:00Z", "2026-12-03T07:00:00Z"
    assert article_date({"published": None, "fetched": fetched}) == fetched
    assert article_date({"fetched": fetched}) == fetched
    assert article_date({"published": published, "fetched": fetched}) == published


def test_the_enricher_writes_the_date_apart_from_the_sources_own(enricher: Enricher) -> None:
    undated = enricher.enrich(_undated(1, NOW), now=NOW)
    assert undated["published"] is None  # the source gave no date: none is invented
    assert undated[ARTICLE_DATE_FIELD] == undated["fetched"]
    assert datetime.fromisoformat(undated[ARTICLE_DATE_FIELD]) == NOW
    published = NOW - timedelta(days=2)
    dated = enricher.enrich(_dated(2, published, NOW), now=NOW)
    assert dated[ARTICLE_DATE_FIELD] == dated["published"]
    assert datetime.fromisoformat(dated[ARTICLE_DATE_FIELD]) == published


def test_the_field_is_mapped_as_a_date_in_the_template() -> None:
    template = json.loads((REPO / "infra/elasticsearch/articles-template.json").read_text())
    assert template["template"]["mappings"]["properties"][ARTICLE_DATE_FIELD] == {"type": "date"}


def test_kibana_data_view_and_its_charts_use_the_same_field() -> None:
    objects = [json.loads(line) for line in
               (REPO / "infra/kibana/saved-objects.ndjson").read_text().splitlines()]
    (view,) = [o for o in objects if o["type"] == "index-pattern"]
    assert view["attributes"]["timeFieldName"] == ARTICLE_DATE_FIELD
    (saved_search,) = [o for o in objects if o["type"] == "search"]
    assert saved_search["attributes"]["sort"][0][0] == ARTICLE_DATE_FIELD
    for vis in (o for o in objects if o["type"] == "visualization"):
        for agg in json.loads(vis["attributes"]["visState"])["aggs"]:
            if agg["type"] == "date_histogram":
                assert agg["params"]["field"] == ARTICLE_DATE_FIELD


def test_search_and_reprocess_since_filter_on_the_same_field() -> None:
    since = NOW.date() - timedelta(days=7)
    body = build_query("harbour", since=since)
    assert since_filter(since) in body["query"]["bool"]["filter"]
    version = EnrichmentVersion("t1", "g1")
    assert since_filter(since) in selection_query(version, since=since)["bool"]["filter"]


def test_reprocess_selects_documents_that_lack_the_date_field() -> None:
    (current,) = [clause for clause in selection_query(EnrichmentVersion("t1", "g1"))["bool"]
                  ["must_not"]]
    assert {"exists": {"field": ARTICLE_DATE_FIELD}} in current["bool"]["filter"]


# --- against the embedded Elasticsearch ---------------------------------------------------


@pytest.fixture
def es(settings: Settings) -> Iterator[Elasticsearch]:
    client = Elasticsearch(settings.es_url, request_timeout=30)
    ArticleIndex(client, settings.articles_alias).ensure()
    yield client
    client.indices.delete(index=f"{settings.articles_alias}-000001", ignore_unavailable=True)
    client.indices.delete_index_template(name=settings.articles_alias)
    client.close()


@pytest.mark.integration
def test_an_undated_article_is_found_by_since_and_an_old_one_is_not(
    settings: Settings, es: Elasticsearch, enricher: Enricher
) -> None:
    now = datetime.now(UTC)
    undated = _undated(10, fetched=now - timedelta(hours=2))
    old = _dated(11, published=now - timedelta(days=40), fetched=now - timedelta(hours=1))
    recent = _dated(12, published=now - timedelta(days=1), fetched=now - timedelta(hours=1))
    outcome = ArticleIndex(es, settings.articles_alias).write(
        [enricher.enrich(a) for a in (undated, old, recent)], refresh=True)
    assert not outcome.rejected and not outcome.retryable
    since = (now - timedelta(days=7)).date()

    _, hits = search_articles(es, settings.articles_alias, "harbour", since=since, collapse=False)
    assert {h.id for h in hits} == {undated.id, recent.id}

    # What Kibana's time picker sends for "last 7 days" on the data view's time field.
    last_week = {"range": {ARTICLE_DATE_FIELD: {"gte": "now-7d", "lte": "now"}}}
    found = es.search(index=settings.articles_alias, query=last_week, size=10)["hits"]["hits"]
    assert {h["_id"] for h in found} == {undated.id, recent.id}
    # The old time field left the undated article out: the defect this field closes.
    by_published = {"range": {"published": {"gte": "now-7d", "lte": "now"}}}
    found = es.search(index=settings.articles_alias, query=by_published, size=10)["hits"]["hits"]
    assert undated.id not in {h["_id"] for h in found}
