"""The search request and query-text rules, without a server (enrich/search/search.py,
enrich/search/search_fields.py)."""

from __future__ import annotations

from datetime import date, datetime

from enrich.search.search import (
    SEARCH_FIELDS,
    SearchFilters,
    build_query,
    fields_for,
    has_words,
    query_languages,
    to_simple_query_string,
)
from enrich.search.search_fields import SEARCH_LANGUAGES, language_fields, script_language


def test_operators_become_simple_query_string_syntax() -> None:
    assert to_simple_query_string("Idlib AND Syria") == "Idlib + Syria"
    assert to_simple_query_string("Idlib OR Aleppo") == "Idlib | Aleppo"
    assert to_simple_query_string("Idlib NOT Turkey") == "Idlib -Turkey"
    assert to_simple_query_string("war and peace") == "war and peace"  # lower case: words


def test_has_words_in_any_script() -> None:
    assert not has_words("") and not has_words("?! ... --") and not has_words("«»")
    assert has_words("إدلب") and has_words("Идлиб") and has_words("1948") and has_words("漢")


def test_every_language_field_is_searched_titles_weigh_most() -> None:
    fields = dict(f.split("^") for f in SEARCH_FIELDS if "^" in f)
    for lang in SEARCH_LANGUAGES:
        assert f"title_{lang}" in fields and f"text_{lang}" in fields
    assert float(fields["title"]) > float(fields["title_ru"]) > float(fields["text"]) \
        > float(fields["text_ru"])
    body = build_query("Сирия")
    text = body["query"]["bool"]["must"][0]["simple_query_string"]
    assert text["default_operator"] == "and"
    assert text["fields"] == ["title^4.0", "title_ru^3.0", "text^1.5", "text_ru^1.0", "summary"]
    assert set(body["highlight"]["fields"]) == {"title", "title_ru", "text", "text_ru"}


def test_a_query_searches_the_fields_of_its_scripts() -> None:
    assert query_languages("Сирия") == ("ru",)
    assert query_languages("إدلب") == ("ar", "fa")
    assert query_languages("Suriye'de") == ("en", "tr", "fr", "de")
    assert query_languages("Idlib OR Идлиб OR إدلب") == SEARCH_LANGUAGES
    assert query_languages("საქართველო 1948") == ()
    assert fields_for("საქართველო") == ["title^4.0", "text^1.5", "summary"]


def test_star_and_empty_match_everything_newest_first() -> None:
    for query in ("*", ""):
        body = build_query(query, sort="relevance")
        assert body["query"]["bool"]["must"] == [{"match_all": {}}]
        assert body["sort"][0] == {"published": {"order": "desc", "missing": "_last"}}


def test_filters() -> None:
    clauses = SearchFilters(topic="idlib", languages=("ar", "fa"), feeds=("f",),
                            places=("saraqib",), actors=("hts",), since=date(2024, 1, 1),
                            until=date(2024, 1, 31)).clauses()
    assert {"term": {"topics": "idlib"}} in clauses
    assert {"terms": {"language": ["ar", "fa"]}} in clauses
    assert {"terms": {"places": ["saraqib"]}} in clauses
    # A bare until date includes its whole day; a time is taken as given.
    # Dated by published, else fetched (enrich/index/article_date.py).
    assert {"range": {"published_or_fetched": {"gte": "2024-01-01", "lt": "2024-02-01"}}} \
        in clauses
    until = SearchFilters(until=datetime(2024, 1, 31, 12)).clauses()
    assert until == [{"range": {"published_or_fetched": {"lte": "2024-01-31T12:00:00"}}}]


def test_language_fields_follow_the_detected_language_or_the_script() -> None:
    assert language_fields("ru", "Сирия", "текст") == {"title_ru": "Сирия", "text_ru": "текст"}
    assert language_fields("ka", "საქართველო", "x") == {}  # no analysis of its own
    assert language_fields(None, "", "В Сирии") == {"text_ru": "В Сирии"}
    assert script_language("کتاب‌ها را خواندم") == "fa"
    assert script_language("في إدلب") == "ar"
    assert script_language("Idlib and Aleppo") is None
    assert script_language("Suriyeyle görüşme") == "tr"
    assert language_fields("az", "Suriyeyle", "") == {"title_tr": "Suriyeyle"}
