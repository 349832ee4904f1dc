"""The shared matching layer: normalisation and the multi-term automaton with word boundaries."""

from __future__ import annotations

import pytest

from enrich.tagging.term_matcher import TermHit, TermMatcher
from enrich.tagging.text_normalize import is_arabic_script, is_word_char, normalize_text


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("İDLİB", "idlib"),
        ("IDLIB", "idlib"),
        ("ıdlıb", "idlib"),
        ("Idlib", "idlib"),
        # harakat and tatweel vanish; hamza-alef forms and teh marbuta fold
        ("إدْلِب", "ادلب"),
        ("ســـوريـــة", "سوريه"),
        ("أريحا", "اريحا"),
        # Persian keheh and yeh, Arabic alef maksura
        ("کشور", "كشور"),
        ("ایران", "ايران"),
        ("مستشفى", "مستشفي"),
        # ZWNJ between a Persian word and its suffix becomes a space
        ("سوری\u200cها", "سوري ها"),
        ("Ёлка", "елка"),
        ("Suriye’de", "suriye'de"),
        ("Maʿarrat", "ma'arrat"),
        ("Harekâtı", "harekati"),
        ("Deir ez-Zor", "deir ez zor"),
        ("İ̇", "i"),
        ("Дейр-эз-Зор", "дейр эз зор"),
        ("ＳＹＲＩＡ", "syria"),
    ],
)
def test_normalize_text_folds_script_variants(raw: str, folded: str) -> None:
    assert normalize_text(raw) == folded


def test_hyphens_become_spaces_and_dashes_stay() -> None:
    assert normalize_text("Iran-backed – al‑Fu'a") == "iran backed – al fu'a"


def test_normalising_character_by_character_equals_normalising_the_whole() -> None:
    """Alert snippets map offsets back to the published text through this property."""
    text = "İDLİB'deki  ســوريا,\nСирии — Ma’arrat al-Nu'man\u200cها Harekâtı ёлка ﻻ Ｉran"
    assert "".join(normalize_text(c) for c in text) == normalize_text(text)


def test_normalize_text_is_idempotent() -> None:
    text = "İdlib'deki  ســوريا, Сирии — Ma’arrat al-Nu'man\u200cها"
    once = normalize_text(text)
    assert normalize_text(once) == once


def test_word_chars_and_scripts() -> None:
    assert is_word_char("a") and is_word_char("ş") and is_word_char("ب") and is_word_char("7")
    assert is_word_char("\u0301")  # combining mark continues a word
    assert not is_word_char("'") and not is_word_char("-") and not is_word_char(" ")
    assert is_arabic_script("ادلب") and is_arabic_script("ایران")
    assert not is_arabic_script("Idlib") and not is_arabic_script("Идлиб")


def keys(matcher: TermMatcher[str], text: str) -> list[str]:
    return [hit.key for hit in matcher.find(text)]


def test_whole_words_only_in_every_script() -> None:
    matcher = TermMatcher([("syria", "Syria"), ("iran", "Iran"), ("iran", "ايران")])
    assert keys(matcher, "Assyrian reliefs from Nineveh") == []
    assert keys(matcher, "Miranda and Hançerkıran met in Iraq") == []
    assert keys(matcher, "Syria's war; Iran's role") == ["syria", "iran"]
    assert keys(matcher, "صايرانيات") == []


def test_prefix_terms_reach_endings_but_not_other_words() -> None:
    matcher = TermMatcher([("syria", "Сирийск*"), ("syria", "Suriyeli*")])
    assert keys(matcher, "сирийская армия, сирийских беженцев") == ["syria", "syria"]
    assert keys(matcher, "Suriyeliler ve Suriyelilerin") == ["syria", "syria"]
    assert keys(matcher, "несирийский") == []


def test_apostrophe_suffixes_keep_the_word_boundary() -> None:
    matcher = TermMatcher([("syria", "Suriye"), ("idlib", "İdlib")])
    assert keys(matcher, "Suriye'de ve İdlib’deki saldırılar") == ["syria", "idlib"]


def test_arabic_proclitics_attach_but_do_not_invent_words() -> None:
    matcher = TermMatcher([("idlib", "إدلب"), ("iran", "ايران")])
    assert keys(matcher, "بريف إدلب وفي وإدلب ولإيران") == ["idlib", "idlib", "iran"]
    assert keys(matcher, "قرب لادلب") == ["idlib"]
    # "س" is not a proclitic
    assert keys(matcher, "سادلب") == []


def test_hits_carry_term_and_offsets_into_the_normalised_text() -> None:
    matcher = TermMatcher([("idlib", "Idlib"), ("syria", "Syria")])
    text = "North SYRIA: strikes near İdlib"
    normalised = normalize_text(text)
    hits = list(matcher.find(text))
    assert hits == [TermHit("syria", "Syria", 6, 11), TermHit("idlib", "Idlib", 26, 31)]
    assert [normalised[h.start : h.end] for h in hits] == ["syria", "idlib"]
    assert list(matcher.find_normalized(normalised)) == hits


def test_phrases_match_across_hyphen_and_space_variants() -> None:
    matcher = TermMatcher([("idlib", "Jisr al-Shughur")])
    assert keys(matcher, "near Jisr al Shughur and Jisr Al-Shughur") == ["idlib", "idlib"]


def test_one_needle_many_keys_and_empty_matchers() -> None:
    matcher = TermMatcher([("a", "Iran"), ("b", "IRAN"), ("c", "  ")])
    assert sorted(keys(matcher, "Iran")) == ["a", "b"]
    assert matcher.size == 1
    assert list(TermMatcher([]).find("Iran")) == []


def test_fold_table_commutes_with_case_folding() -> None:
    """Why one pass after casefold() is enough: case folding leaves every replacement as it
    is, no replacement is itself folded again, and every cased variant of a folded character
    reaches the table through casefold()."""
    from enrich.tagging.text_normalize import _FOLD

    for char, replacement in _FOLD.items():
        assert replacement.casefold() == replacement
        assert not set(replacement) & set(_FOLD)
        for variant in {char.upper(), char.lower(), char.title()}:
            assert normalize_text(variant) == normalize_text(char) or variant == char
