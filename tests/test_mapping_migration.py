"""Moving a deployment's stored articles onto the new mapping (enrich/index/mapping_migration.py),
on
the embedded Elasticsearch: an index created with the old mapping (the template as it was
before per-language analysis, tests/fixtures/articles-template-v1.json) is migrated behind the
alias with no lost and no doubled id, searches answer throughout, and an interrupted run
resumes."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from enrich.index.article_index import ArticleIndex, articles_template
from enrich.index.mapping_migration import (
    compat_properties,
    index_versions,
    migrate,
    next_index_name,
    pending,
    template_version,
    upgrade_document,
)
from enrich.search.search import search_articles
from enrich.worker.enricher import Enricher
from enrich.worker.loop import run_worker
from ingest.common.es_client import make_es
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from ingest.message.article import Article
from tests.conftest import REPO
from tests.support.articles import make_article
from tests.support.cli import invoke
from tests.support.kafka_tools import produce_articles

OLD_TEMPLATE = REPO / "tests" / "fixtures" / "articles-template-v1.json"
RUSSIAN = "В Сирии продолжаются переговоры о перемирии, сообщили в Москве."


def _articles(n: int) -> list[Article]:
    out = [make_article(i) for i in range(n)]
    out[0] = make_article(0, title="Переговоры", text=RUSSIAN).model_copy(
        update={"language": "ru"})
    return out


def _old_doc(enricher: Enricher, article: Article) -> dict[str, Any]:
    """What the worker wrote before per-language fields existed."""
    return {k: v for k, v in enricher.enrich(article).items()
            if not k.startswith(("title_", "text_"))}


@pytest.fixture
def es(settings: Settings) -> Iterator[Elasticsearch]:
    client = make_es(settings)
    yield client
    client.close()


@pytest.fixture
def old_deployment(settings: Settings, es: Elasticsearch) -> list[Article]:
    """The articles alias as the previous release left it: one index on the old mapping."""
    alias = settings.articles_alias
    old = json.loads(OLD_TEMPLATE.read_text("utf-8"))
    old["index_patterns"] = [f"{alias}-*"]
    es.indices.put_index_template(name=alias, **old)
    es.indices.create(index=f"{alias}-000001", aliases={alias: {"is_write_index": True}})
    enricher = Enricher.from_settings(settings)
    articles = _articles(23)
    for article in articles:
        es.index(index=alias, id=article.id, document=_old_doc(enricher, article))
    es.indices.refresh(index=alias)
    return articles


def _ids_per_index(es: Elasticsearch, alias: str) -> Counter[str]:
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=10000, query={"match_all": {}}, source=False)
    return Counter(hit["_id"] for hit in hits["hits"]["hits"])


def test_pure_helpers() -> None:
    assert next_index_name("newswatch-articles-000007") == "newswatch-articles-000008"
    new = {"title": {"type": "text", "analyzer": "nw_neutral"},
           "title_ru": {"type": "text", "analyzer": "nw_ru"}, "feed": {"type": "keyword"},
           "stats": {"type": "keyword"}}
    assert compat_properties(new, {"title": {}, "feed": {}}) == {
        "title_ru": {"type": "text", "analyzer": "standard"}, "stats": {"type": "keyword"}}
    doc = upgrade_document({"title": "Т", "text": RUSSIAN, "language": "ru", "text_en": "x"})
    assert doc["text_ru"] == RUSSIAN and "text_en" not in doc


def test_old_index_is_migrated_with_no_lost_or_doubled_id(
    settings: Settings, es: Elasticsearch, old_deployment: list[Article]
) -> None:
    alias = settings.articles_alias
    ids = {a.id for a in old_deployment}
    # A worker starts on the new release: the template and a new write index are installed.
    ArticleIndex(es, alias).ensure()
    state = index_versions(es, alias)
    assert state.write_index == f"{alias}-000002"
    current = template_version(articles_template(alias, 1, 0))
    assert current > 1
    assert state.versions == {f"{alias}-000001": 1, f"{alias}-000002": current}
    # An article stored in the old index is still rewritten there (its home), not refused.
    ensure_topics(settings)
    produce_articles(settings, [old_deployment[1]])
    stats = run_worker(settings, until_idle_s=1)
    assert stats.indexed == 1 and stats.dead_lettered == 0
    assert _ids_per_index(es, alias) == Counter(ids)

    template = articles_template(alias, 1, 0)
    assert pending(es, alias, template) == {f"{alias}-000001": len(ids)}
    seen_during: list[set[str]] = []

    def check_search_answers(_moved: int) -> None:
        _, hits = search_articles(es, alias, "*", collapse=False, size=100)
        seen_during.append({h.id for h in hits})

    result = migrate(es, alias, template, batch_size=5, progress=check_search_answers)
    assert result.deleted == len(ids) and result.dropped_indices == [f"{alias}-000001"]
    assert len(seen_during) == 5 and all(seen == ids for seen in seen_during)
    assert _ids_per_index(es, alias) == Counter(ids)  # each id exactly once
    assert list(es.indices.get_alias(name=alias)) == [f"{alias}-000002"]
    # The migrated Russian article is now found by its dictionary form.
    _, hits = search_articles(es, alias, "Сирия")
    assert [h.id for h in hits] == [old_deployment[0].id]


def test_an_interrupted_migration_resumes_from_the_cli(
    settings: Settings, es: Elasticsearch, old_deployment: list[Article]
) -> None:
    alias = settings.articles_alias
    ids = {a.id for a in old_deployment}
    template = articles_template(alias, 1, 0)
    ArticleIndex(es, alias).ensure()

    class Stop(Exception):
        pass

    def stop_after_two_batches(_moved: int, calls: list[int] = []) -> None:  # noqa: B006
        calls.append(1)
        if len(calls) == 2:
            raise Stop

    with pytest.raises(Stop):
        migrate(es, alias, template, batch_size=4, progress=stop_after_two_batches)
    assert pending(es, alias, template) == {f"{alias}-000001": len(ids) - 8}
    assert _ids_per_index(es, alias) == Counter(ids)

    code, output = invoke("index", "migrate", "--dry-run")
    assert code == 0 and f"{alias}-000001: {len(ids) - 8} articles" in output
    code, output = invoke("index", "migrate", "--batch-size", "4")
    assert code == 0, output
    assert f"migrated {len(ids) - 8} articles" in output
    assert _ids_per_index(es, alias) == Counter(ids)
    code, output = invoke("index", "migrate")
    assert code == 0 and "nothing to migrate" in output
