"""Search in the region's languages, on the embedded Elasticsearch: each analyzer proven with
`_analyze` on real words, then the real items of the tagging development set indexed through
the worker (Kafka -> worker -> Elasticsearch) and found by the dictionary form of a place."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from enrich.index.article_index import ArticleIndex
from enrich.search.search_eval import QUERIES, item_article, relevant
from enrich.worker.loop import run_worker
from infra.embedded_stack import StackEndpoints
from ingest.common.es_client import make_es
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from tests.conftest import CORPORA
from tests.support.cli import invoke
from tests.support.isolated_settings import isolated_settings
from tests.support.kafka_tools import produce_articles

ITEMS = CORPORA / "tagging" / "items.jsonl"


# --- each analyzer on real words ------------------------------------------------------------
@pytest.fixture(scope="module")
def analysis_index(embedded_stack: StackEndpoints) -> Iterator[tuple[Elasticsearch, str]]:
    es = Elasticsearch(embedded_stack.es_url, request_timeout=30)
    alias = f"nwan{uuid.uuid4().hex[:8]}-articles"
    ArticleIndex(es, alias).ensure()
    yield es, alias
    es.indices.delete(index=list(es.indices.get_alias(name=alias)))
    es.close()


def _tokens(index: tuple[Elasticsearch, str], analyzer: str, text: str) -> list[str]:
    es, alias = index
    return [t["token"] for t in es.indices.analyze(index=alias, analyzer=analyzer,
                                                   text=text)["tokens"]]


@pytest.mark.parametrize(("analyzer", "forms", "stem"), [
    # Arabic: conjunction و/ف, prepositions ب/ل/ك, the article ال, alef with hamza, tatweel.
    ("nw_ar", "إدلب وإدلب بإدلب لإدلب فإدلب وبإدلب ادلب إدلـــب", "ادلب"),
    ("nw_ar", "سوريا لسوريا وسوريا بسوريا", "سوريا"),
    ("nw_ar", "حلب بحلب وحلب لحلب", "حلب"),  # a three-letter name keeps its clitic forms
    ("nw_ar", "لبنان بلبنان ولبنان", "نان"),  # a name beginning with a clitic letter still pairs
    ("nw_ar", "الوزير بالوزير والوزير وزير", "زير"),
    # Russian: the case endings of Сирия, Иран, Идлиб, Москва.
    ("nw_ru", "Сирия Сирии Сирию Сирией", "сир"),
    ("nw_ru", "Иран Ирана Ирану Ираном Иране", "иран"),
    ("nw_ru", "Идлиб Идлиба Идлибе Идлибом", "идлиб"),
    ("nw_ru", "Москва Москвы Москве Москвой", "москв"),
    # Turkish: suffixes after an apostrophe (' and ’) and glued on; dotted İ typed as I.
    ("nw_tr", "Suriye Suriye'de Suriye’nin Suriyeyle Suriyede SURİYE", "suriy"),
    ("nw_tr", "İdlib İdlib'de Idlib IDLIB İdlib’te", "idlib"),
    # Persian: ‌ها/های after a zero-width non-joiner, the adjectival ی, Arabic ي/ك spellings.
    ("nw_fa", "ایران ایرانی ايران ایران‌ها", "ایران"),
    ("nw_fa", "کشور کشورها كشور کشور‌های", "کشور"),
    # Neutral: case, diacritics, Arabic letter variants and tatweel, ZWNJ, Turkish apostrophes.
    ("nw_neutral", "Idlib IDLIB İdlib İdlib'de idlib’s", "idlib"),
    ("nw_neutral", "إدلب ادلب أدلب إدلـب", "ادلب"),
    ("nw_neutral", "Élysée ELYSEE élysée", "elysee"),
])
def test_analyzer_brings_every_form_to_one_term(
    analysis_index: tuple[Elasticsearch, str], analyzer: str, forms: str, stem: str
) -> None:
    tokens = _tokens(analysis_index, analyzer, forms)
    # Every form is one token with the stem (the neutral one may split off a suffix token).
    assert tokens.count(stem) == len(forms.split()), tokens


def test_analyzers_keep_distinct_words_apart(analysis_index: tuple[Elasticsearch, str]) -> None:
    # Country and adjective stay apart in Arabic (إيراني is "Iranian", not Iran).
    assert _tokens(analysis_index, "nw_ar", "إيران إيراني") == ["ايران", "ايراني"]
    # Short words are not cut down to nothing.
    assert _tokens(analysis_index, "nw_ar", "بلد وبلد") == ["بلد", "بلد"]
    assert _tokens(analysis_index, "nw_ru", "Рим") == ["рим"]
    # ZWNJ splits the Persian plural off in the neutral field too.
    assert _tokens(analysis_index, "nw_neutral", "ایران‌ها") == ["ايران", "ها"]


# --- real items through the worker ------------------------------------------------------------
def _load_items() -> list[dict[str, Any]]:
    return [json.loads(line) for line in ITEMS.read_text("utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def corpus(
    embedded_stack: StackEndpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, list[dict[str, Any]], dict[str, str]]]:
    """Every item of the development set indexed through the worker, language detected by
    the worker as for any article (no hint). Yields settings, items and item id -> article id."""
    with pytest.MonkeyPatch.context() as mp:
        settings = isolated_settings(embedded_stack, tmp_path_factory.mktemp("data"), mp)
        items = _load_items()
        articles = [item_article(item) for item in items]
        ensure_topics(settings)
        produce_articles(settings, articles)
        stats = run_worker(settings, until_idle_s=2)
        assert stats.indexed == len(items) and stats.dead_lettered == 0
        with make_es(settings) as es:
            es.indices.refresh(index=settings.articles_alias)
        yield settings, items, {i["id"]: a.id for i, a in zip(items, articles, strict=True)}


def _found(query: str, *extra: str) -> set[str]:
    code, output = invoke("search", query, "--json", "--all", "--size", "1000", *extra)
    assert code == 0, output
    return {json.loads(line)["id"] for line in output.splitlines() if line.startswith("{")}


@pytest.mark.parametrize("language", ["en", "ar", "fa", "tr", "ru", "fr", "de"])
def test_dictionary_form_finds_the_inflected_forms_in_real_items(
    corpus: tuple[Settings, list[dict[str, Any]], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch, language: str,
) -> None:
    settings, items, ids = corpus
    monkeypatch.setenv("NEWSWATCH_ES_URL", settings.es_url)
    monkeypatch.setenv("NEWSWATCH_ARTICLES_ALIAS", settings.articles_alias)
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(settings.config_dir))
    in_language = [i for i in items if i["lang"] == language]
    relevant_total = found_total = returned_total = 0
    for query, pattern in QUERIES[language]:
        gold = {ids[i["id"]] for i in in_language if relevant(pattern, i["title"], i["text"])}
        got = _found(query) & {ids[i["id"]] for i in in_language}
        relevant_total += len(gold)
        found_total += len(gold & got)
        returned_total += len(got)
        # Each query alone: everything that holds the word in some form is found.
        assert gold <= got, (query, sorted(gold - got))
    assert relevant_total > 0
    assert returned_total and found_total / returned_total >= 0.95  # precision


def test_exact_title_match_outranks_a_stemmed_body_match(settings: Settings) -> None:
    by_id = {i["id"]: i for i in _load_items()}
    body_only = by_id["ru-nerel-139852"]  # "... через Турцию в Сирию ..." in the body only
    other = by_id["ru-nerel-39363"]  # Turkmenistan, no Syria anywhere
    titled = dict(other, id="title-test", title="Сирия: " + other["title"],
                  url="https://items.example/title-test")
    articles = [item_article(body_only), item_article(titled)]
    ensure_topics(settings)
    produce_articles(settings, articles)
    assert run_worker(settings, until_idle_s=1).indexed == 2
    with make_es(settings) as es:
        es.indices.refresh(index=settings.articles_alias)
    code, output = invoke("search", "Сирия", "--json", "--all")
    assert code == 0, output
    hits = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert [h["id"] for h in hits] == [articles[1].id, articles[0].id]
    # The highlight shows the form that matched, not the query.
    assert any("<em>Сирию</em>" in fragment for fragment in hits[1]["highlight"])
    assert [h["language"] for h in hits] == ["ru", "ru"]


def test_any_language_finds_one_place_in_five_languages(
    corpus: tuple[Settings, list[dict[str, Any]], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, items, ids = corpus
    monkeypatch.setenv("NEWSWATCH_ES_URL", settings.es_url)
    monkeypatch.setenv("NEWSWATCH_ARTICLES_ALIAS", settings.articles_alias)
    language_of = {ids[i["id"]]: i["lang"] for i in items}
    plain = {language_of[i] for i in _found("Syria")}
    code, output = invoke("search", "Syria", "--any-language", "--json", "--all", "--size",
                          "1000")
    assert code == 0
    assert "expanded Syria -> place syria: Syria |" in output and "Сирия" in output
    expanded = {language_of[json.loads(line)["id"]] for line in output.splitlines()
                if line.startswith("{")}
    assert {"en", "ar", "fa", "tr", "ru"} <= expanded
    assert not {"ar", "fa", "ru"} & plain  # without the flag, nothing is expanded
