"""Word forms the matcher accepts around a term, on real words from news copy."""

from __future__ import annotations

import pytest

from enrich.tagging.term_matcher import TermMatcher
from enrich.tagging.text_normalize import normalize_text
from enrich.tagging.word_forms import (
    arabic_prefix_ok,
    persian_joined_variants,
    russian_forms,
    turkish_suffix_ok,
)


@pytest.mark.parametrize(
    ("word", "name"),
    [
        ("Suriyeyle", "Suriye"),  # instrumental, no apostrophe
        ("Suriyede", "Suriye"),
        ("Suriyeden", "Suriye"),
        ("Suriyeye", "Suriye"),
        ("Suriyenin", "Suriye"),
        ("Suriyedeki", "Suriye"),  # locative + relative -ki
        ("İranla", "İran"),
        ("İrandan", "İran"),
        ("İranın", "İran"),  # genitive with dotless ı, folded to i
        ("İrana", "İran"),
        ("Tahranda", "Tahran"),
        ("İdlibde", "İdlib"),
        ("İdlibdeki", "İdlib"),
        ("Afrinden", "Afrin"),
        ("Şamda", "Şam"),
    ],
)
def test_turkish_case_suffixes_without_an_apostrophe(word: str, name: str) -> None:
    folded_word, folded_name = normalize_text(word), normalize_text(name)
    assert folded_word.startswith(folded_name)
    assert turkish_suffix_ok(folded_word[len(folded_name) :])


@pytest.mark.parametrize(
    ("word", "name"),
    [
        ("Şampiyon", "Şam"),  # champion, not Damascus
        ("Şamar", "Şam"),  # a slap
        ("Suriyeli", "Suriye"),  # a Syrian: an adjective, listed as such
        ("İranlı", "İran"),
        ("Hamas", "Hama"),
        ("Hamam", "Hama"),
    ],
)
def test_other_words_that_start_like_a_name_are_not_its_forms(word: str, name: str) -> None:
    folded_word, folded_name = normalize_text(word), normalize_text(name)
    assert not turkish_suffix_ok(folded_word[len(folded_name) :])


@pytest.mark.parametrize(
    ("prefix", "has_article"),
    [
        ("و", False),  # وإدلب
        ("ب", False),  # بإدلب
        ("وب", False),  # وبإدلب
        ("لل", False),  # للسوريين: ل + ال
        ("وال", False),  # والسوري
        ("فبال", False),
        ("ب", True),  # بالغوطة = ب + الغوطة
        ("و", True),
    ],
)
def test_arabic_proclitics_in_their_order(prefix: str, has_article: bool) -> None:
    assert arabic_prefix_ok(prefix, term_has_article=has_article)


@pytest.mark.parametrize(
    ("prefix", "has_article"),
    [
        ("الو", False),  # الورقة "the paper" is not ال + و + رقة
        ("الف", False),  # الفرقة "the division" is not ال + ف + رقة
        ("بو", False),  # a preposition never precedes a conjunction
        ("ال", True),  # the term has its article already
        ("ل", True),  # ل + الغوطة is written للغوطة, found as its own spelling
        ("م", False),
    ],
)
def test_arabic_letters_out_of_order_are_another_word(prefix: str, has_article: bool) -> None:
    assert not arabic_prefix_ok(prefix, term_has_article=has_article)


def test_arabic_terms_in_running_text() -> None:
    matcher = TermMatcher([("raqqa", "رقه"), ("latakia", "اللاذقيه"), ("ghouta", "الغوطه")])
    found = lambda text: sorted(h.key for h in matcher.find(text))  # noqa: E731
    assert found("تنافس روسي إيراني على الورقة السورية") == []
    assert found("مقاتلين من الفرقة 30") == []
    assert found("وصلت التعزيزات إلى الرقة") == ["raqqa"]
    assert found("قافلة مساعدات للاذقية") == ["latakia"]
    assert found("عاد السكان للغوطة الشرقية") == ["ghouta"]
    assert found("وبالغوطة قصف") == ["ghouta"]


@pytest.mark.parametrize(
    ("name", "forms"),
    [
        ("иран", {"ирана", "ирану", "ираном", "иране"}),  # на границе с Ираном
        ("идлиб", {"идлиба", "идлибу", "идлибом", "идлибе"}),
        ("сирия", {"сирии", "сирию", "сирией"}),
        ("ракка", {"ракки", "ракке", "ракку", "раккой"}),
        ("дейр эз зор", {"дейр эз зора", "дейр эз зоре"}),  # Дейр-эз-Зора, hyphens folded
    ],
)
def test_russian_case_forms(name: str, forms: set[str]) -> None:
    assert forms <= set(russian_forms(name))
    assert name in russian_forms(name)


def test_russian_indeclinable_names_have_no_forms() -> None:
    assert russian_forms("алеппо") == () and russian_forms("кобани") == ()
    assert russian_forms("hama") == ()


def test_russian_forms_in_running_text() -> None:
    matcher = TermMatcher([("iran", "Иран"), ("idlib", "Идлиб")], languages=lambda key: "ru")
    text = "Два пограничника погибли на границе с Ираном; удары по Идлибу продолжаются"
    assert sorted(h.key for h in matcher.find(text)) == ["idlib", "iran"]
    assert [h.key for h in matcher.find("Иранская делегация")] == []  # an adjective


def test_persian_compounds_with_zwnj_space_or_nothing() -> None:
    term = "احمدی\u200cنژاد"
    assert persian_joined_variants(term, normalize_text(term)) == (normalize_text("احمدینژاد"),)
    assert persian_joined_variants("تهران", "تهران") == ()
    matcher = TermMatcher([("ahmadinejad", term), ("khamenei", "خامنه\u200cای")],
                          languages=lambda key: "fa")
    for text in ("احمدی\u200cنژاد گفت", "احمدی نژاد گفت", "احمدینژاد گفت", "خامنهای", "خامنه ای"):
        assert len(list(matcher.find(text))) == 1, text
