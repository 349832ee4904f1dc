"""`--any-language`: query words naming a known place, actor or topic become all their names
(enrich/search/query_expansion.py), with the project's own gazetteers and taxonomy."""

from __future__ import annotations

import pytest

from enrich.search.query_expansion import NameTable, expand_query, name_key, whole_query_names
from enrich.search.search import build_query
from tests.conftest import REPO


@pytest.fixture(scope="module")
def table() -> NameTable:
    return NameTable.from_config_dir(REPO / "config")


def test_name_key_ignores_case_diacritics_and_letter_variants() -> None:
    assert name_key("İdlib") == name_key("IDLIB") == name_key("idlib")
    assert name_key("إدلب") == name_key("ادلب")
    assert name_key("سوریه") == name_key("سوريه")
    assert name_key("Jisr al-Shughur") == name_key("jisr al shughur")


def test_a_place_in_any_script_expands_to_all_its_names(table: NameTable) -> None:
    for typed in ("Idlib", "إدلب", "Идлиб", "İdlib", "idlib"):
        query, used = expand_query(typed, table)
        assert [(u.entry.kind, u.entry.id) for u in used] == [("place", "idlib")]
        for name in ("Idlib", "إدلب", "İdlib", "Идлиб", "ادلب"):
            assert name in query
        assert query.startswith("(") and query.endswith(")")


def test_multi_word_names_become_phrases_and_the_rest_stays(table: NameTable) -> None:
    query, used = expand_query("Bashar al-Assad AND Idl* -Turkey harbour", table)
    assert [u.entry.id for u in used] == ["bashar-al-assad"]
    assert '"Bashar al-Assad"' in query and '"بشار الأسد"' in query
    assert query.endswith(") AND Idl* -Turkey harbour")


def test_ambiguous_names_are_searched_only_when_typed(table: NameTable) -> None:
    query, _ = expand_query("Assad", table)
    assert "Esad |" not in query and "الأسد |" not in query.replace('"بشار الأسد"', "")
    query, used = expand_query("Esad", table)
    assert used[0].entry.id == "bashar-al-assad" and query.endswith("| Esad)")


def test_nothing_known_nothing_expanded(table: NameTable) -> None:
    assert expand_query("harbour festival", table) == ("harbour festival", [])


def test_a_whole_query_naming_one_entry_gives_its_names(table: NameTable) -> None:
    _, used = expand_query("Idlib", table)
    names = whole_query_names("Idlib", used)
    assert "إدلب" in names and "Идлиб" in names and "Idlib" in names
    _, used = expand_query("Idlib shelling", table)
    assert whole_query_names("Idlib shelling", used) == []


def test_one_word_names_share_one_match_and_phrases_keep_their_scripts_fields() -> None:
    body = build_query("", any_of_names=["Idlib", "إدلب", "Идлиб", "Jisr al-Shughur",
                                         "Джиср-эш-Шугур"])
    should = body["query"]["bool"]["must"][0]["bool"]["should"]
    words = [c["multi_match"] for c in should if "multi_match" in c]
    assert len(words) == 1  # one leaf query for all one-word names, whatever their script
    assert words[0]["query"] == "Idlib إدلب Идлиб"
    assert words[0]["operator"] == "or" and words[0]["type"] == "most_fields"
    assert {"text_ru^1.0", "text_ar^1.0", "text_fa^1.0", "text_en^1.0", "text^1.5"} <= set(
        words[0]["fields"])
    by_query = {c["simple_query_string"]["query"]: c["simple_query_string"]["fields"]
                for c in should if "simple_query_string" in c}
    assert set(by_query) == {'"Jisr al-Shughur"', '"Джиср-эш-Шугур"'}
    assert "text_ru^1.0" in by_query['"Джиср-эш-Шугур"']
    assert "text_en^1.0" not in by_query['"Джиср-эш-Шугур"']
    assert "text_ru^1.0" not in by_query['"Jisr al-Shughur"']
    assert {"text_ru", "text_ar", "text_en"} <= set(body["highlight"]["fields"])
