"""Language identification: right on the region's languages, None rather than a guess."""

from __future__ import annotations

import json

import pytest

from enrich.tagging.language import detect_language
from tests.conftest import CORPORA


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The army withdrew from the city after a week of heavy fighting, officials said.", "en"),
        ("قالت وزارة الخارجية إن المحادثات ستستأنف الأسبوع المقبل في العاصمة.", "ar"),
        ("سخنگوی وزارت امور خارجه گفت که مذاکرات هفته آینده از سر گرفته می‌شود.", "fa"),
        # Persian typed with Arabic yeh and kaf, as older Iranian agency copy is
        (
            "سخنگوي وزارت خارجه گفت كه مذاكرات هفته آينده از سر گرفته مي شود و دولت آماده است.",
            "fa",
        ),
        ("Dışişleri Bakanlığı, görüşmelerin gelecek hafta yeniden başlayacağını açıkladı.", "tr"),
        (
            "Министерство заявило, что переговоры возобновятся на следующей неделе.",
            "ru",
        ),
        (
            "Le ministère a annoncé la reprise des pourparlers la semaine prochaine.",
            "fr",
        ),
        (
            "Das Außenministerium kündigte an, die Gespräche in der kommenden Woche fortzusetzen.",
            "de",
        ),
        ("משרד החוץ הודיע כי השיחות יתחדשו בשבוע הבא בבירה.", "he"),
    ],
)
def test_detects_the_regions_languages(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "OK", "12 345 678 — 2024", "Idlib!"])
def test_too_little_text_is_unknown(text: str) -> None:
    assert detect_language(text) is None


def test_a_short_mixed_line_stays_unknown() -> None:
    """CLD2 is unsure and gives Turkish 55% of a greeting in three languages: not an answer."""
    assert detect_language("Merhaba dünya hello world привет мир") is None


def test_unsure_but_mostly_one_language_is_that_language() -> None:
    """CLD2 withholds its reliable flag from this Turkish news lead (headline repeated)."""
    title = "İdlib'e hava saldırısı: Ölü ve yaralılar var"
    lead = (
        "Beşşar Esad rejiminin, Suriye'nin İdlib gerginliği azaltma bölgesi içindeki sivil "
        "yerleşimlere düzenlediği hava saldırısında ölü ve yaralılar var."
    )
    assert detect_language(f"{title}\n{title}\n\n{lead}") == "tr"


def test_control_characters_and_lone_surrogates_do_not_break_detection() -> None:
    text = "\x00\x07 The ministry said \ud800 talks would resume next week in the capital.\x9f"
    assert detect_language(text) == "en"


def test_accuracy_on_the_labelled_news_items() -> None:
    """Title plus text, as the worker calls it: the labelled languages are the truth."""
    lines = (CORPORA / "tagging" / "items.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    answers = [detect_language(f"{i['title']}\n{i['text'][:2000]}") for i in items]
    right = sum(a == i["lang"] for a, i in zip(answers, items, strict=True))
    wrong = [
        (i["id"], a) for a, i in zip(answers, items, strict=True) if a not in (i["lang"], None)
    ]
    assert right / len(items) >= 0.95
    assert wrong == []
