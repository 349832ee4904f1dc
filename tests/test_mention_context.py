"""Lists and datelines, read from punctuation in any language."""

from __future__ import annotations

import pytest

from enrich.tagging.mention_context import dateline_head, in_enumeration
from enrich.tagging.text_normalize import normalize_text


def enumerated(sentence: str, word: str) -> bool:
    text = normalize_text(sentence)
    start = text.index(normalize_text(word))
    return in_enumeration(text, start, start + len(word), max_words=3)


@pytest.mark.parametrize(
    ("sentence", "word"),
    [
        ("Questions over how Russia, Iran, Turkiye, Arab states and the US will respond.", "iran"),
        ("The guarantors Russia, Iran and Turkey met in Astana on Monday.", "iran"),
        ("Iran, Russia and Turkey signed the memorandum.", "iran"),
        ("Делегации России, Ирана и Турции встретились в Астане.", "ирана"),
        ("دعم الشعوب في فلسطين، سوريا، العراق والبحرين ولبنان", "سوريا"),
        ("نمایندگان روسیه، ایران و ترکیه در آستانه دیدار کردند", "ایران"),
        ("Rusya, İran ve Türkiye garantör ülkeler olarak bir araya geldi.", "iran"),
        # The last item carries the predicate, or a comma closes the list before it.
        ("Страны-гаранты Россия, Турция и Иран договорились о зонах деэскалации.", "иран"),
        ("The guarantors Russia, Turkey and Iran agreed on four de-escalation zones.", "iran"),
        ("سه کشور ضامن روسیه، ترکیه و ایران درباره مناطق کاهش تنش توافق کردند", "ایران"),
        ("Garantör ülkeler Rusya, Türkiye ve İran, Suriye'de çatışmasızlık konusunda anlaştı.",
         "iran"),
    ],
)
def test_an_item_of_a_list_is_enumerated(sentence: str, word: str) -> None:
    assert enumerated(sentence, word)


@pytest.mark.parametrize(
    ("sentence", "word"),
    [
        (
            "The US sees a window to drive a wedge between Assad and Iran, his wartime backer.",
            "iran",
        ),
        ("The talks focused on Iran and the situation in Syria.", "iran"),
        (
            "The sides discussed the situation in Syria, Iran's activity in the state and more.",
            "iran",
        ),
        ("25 killed as Assad, Russia bomb civilians in Idlib, Aleppo", "idlib"),
        ("Strikes on Idlib and Aleppo killed 25 people.", "idlib"),
        ("In Syria, the war goes on, and Iran, meanwhile, waits.", "iran"),
        ("Iran.", "iran"),
        ("Talks with Russia and Iran continued on Monday in Geneva.", "iran"),
        ("Russia, Turkey and the EU welcomed the deal and Iran rejected it.", "iran"),
    ],
)
def test_a_mention_in_a_clause_is_not_enumerated(sentence: str, word: str) -> None:
    assert not enumerated(sentence, word)


def test_lists_do_not_span_sentences() -> None:
    text = normalize_text("They visited Vienna, Geneva, Rome. Iran too.")
    start = text.index("iran")
    assert not in_enumeration(text, start, start + 4, max_words=3)


@pytest.mark.parametrize(
    ("body", "head"),
    [
        ("TEHRAN – The Ground Forces of the Army are recruiting.", "TEHRAN"),
        ("DAMASCUS, Dec 3 (Reuters) - Shelling resumed overnight.", "DAMASCUS, Dec 3 (Reuters)"),
        ("طهران - أعلنت الحكومة اليوم", "طهران"),
        ("MOSCOW — Talks on Syria resumed.", "MOSCOW"),
        ("Damascus (AFP) - Shelling resumed.", "Damascus (AFP)"),
    ],
)
def test_datelines_are_recognised(body: str, head: str) -> None:
    assert dateline_head(body) == head


@pytest.mark.parametrize(
    "body",
    [
        "Tehran raised fuel prices on Friday, officials said - again.",
        "Iran-backed militias – the report says – moved south.",
        "The army said.\nTEHRAN – later",
        "",
    ],
)
def test_a_plain_opening_is_not_a_dateline(body: str) -> None:
    assert dateline_head(body) is None
