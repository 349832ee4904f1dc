"""`newswatch eval tagging`: the report's arithmetic, its input errors, a run on the real set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enrich.tagging_eval import (
    LabelledItem,
    Scores,
    format_report,
    load_items,
    run_tagging_eval,
    score_predictions,
)
from enrich.taxonomy import load_taxonomy
from tests.conftest import CORPORA

REPO = Path(__file__).resolve().parent.parent
ITEMS = CORPORA / "tagging" / "items.jsonl"
TOPICS = ("syria", "idlib", "iran")


def item(id: str, lang: str, **labels: bool) -> LabelledItem:
    full = {topic: labels.get(topic, False) for topic in TOPICS}
    return LabelledItem(id=id, lang=lang, title=f"title {id}", labels=full)


def test_scores_count_and_ratios() -> None:
    scores = Scores()
    for expected, predicted in [(True, True), (True, True), (True, False), (False, True)]:
        scores.add(expected, predicted)
    scores.add(False, False)
    assert (scores.tp, scores.fp, scores.fn, scores.tn, scores.support) == (2, 1, 1, 1, 3)
    assert scores.precision == pytest.approx(2 / 3)
    assert scores.recall == pytest.approx(2 / 3)
    assert scores.f1 == pytest.approx(2 / 3)
    assert Scores().precision is None and Scores().recall is None and Scores().f1 is None


def test_report_per_topic_per_language_and_misclassified_ids() -> None:
    pairs = [
        (item("a", "en", syria=True, idlib=True), ["idlib", "syria"]),
        (item("b", "en", iran=True), []),
        (item("c", "ar", syria=True), ["syria", "iran"]),
        (item("d", "ar"), []),
    ]
    report = score_predictions(pairs, list(TOPICS), "v1")
    assert report.items == 4
    assert report.items_per_language == {"ar": 2, "en": 2}
    assert (report.per_topic["syria"].tp, report.per_topic["syria"].fp) == (2, 0)
    assert (report.per_topic["iran"].fn, report.per_topic["iran"].fp) == (1, 1)
    assert report.per_language["en"]["iran"].fn == 1
    assert report.per_language["ar"]["iran"].fp == 1
    assert [m.id for m in report.misclassified] == ["b", "c"]
    assert report.misclassified[1].expected == ["syria"]
    assert report.misclassified[1].predicted == ["iran", "syria"]
    text = format_report(report)
    assert "Language ar (2 items)" in text and "b [en] expected iran got -" in text


def test_a_malformed_line_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    good = {"id": "x", "lang": "en", "title": "t", "text": "", "labels": {"syria": True}}
    path.write_text(json.dumps(good) + "\n\n{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"items\.jsonl:3: not a labelled item"):
        load_items(path)
    path.write_text(json.dumps({"id": "x", "lang": "en"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"items\.jsonl:1: not a labelled item"):
        load_items(path)


def test_run_on_the_labelled_corpus() -> None:
    """Structure and sanity on the real set; the numbers themselves are printed, not pinned."""
    lines = [json.loads(line) for line in ITEMS.read_text(encoding="utf-8").splitlines() if line]
    taxonomy = load_taxonomy(REPO / "config" / "topics.yaml")
    report = run_tagging_eval(ITEMS, taxonomy)

    assert report.items == len(lines)
    assert report.taxonomy_version == taxonomy.version
    assert sum(report.items_per_language.values()) == len(lines)
    assert set(report.per_language) == {line["lang"] for line in lines}
    for topic in TOPICS:
        scores = report.per_topic[topic]
        assert scores.support == sum(line["labels"][topic] for line in lines)
        assert scores.tp + scores.fp + scores.fn + scores.tn == len(lines)
        assert scores.precision is not None and 0.8 <= scores.precision <= 1
        assert scores.recall is not None and 0.8 <= scores.recall <= 1
        by_language = sum(cells[topic].support for cells in report.per_language.values())
        assert by_language == scores.support
    ids = {line["id"] for line in lines}
    assert {m.id for m in report.misclassified} <= ids
    text = format_report(report)
    for name in (*TOPICS, *report.per_language):
        assert name in text
    assert json.dumps(report.summary())  # JSON-able for a --json flag
