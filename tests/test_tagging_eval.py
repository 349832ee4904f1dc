"""`newswatch eval tagging`: the report's arithmetic, its input errors, a run on the real set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enrich.tagging.tagging_eval import (
    LabelledItem,
    Scores,
    cross_validate,
    format_cross_validation,
    format_report,
    load_items,
    run_tagging_eval,
    score_predictions,
    target_misses,
)
from enrich.worker.enricher import load_tagger
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
    tagger = load_tagger(REPO / "config")
    report = run_tagging_eval(ITEMS, tagger)

    assert report.items == len(lines)
    assert report.taxonomy_version == tagger.version
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


def test_cross_validation_never_scores_a_fold_with_a_model_fitted_on_it(tmp_path: Path) -> None:
    """Folds are the items' source repositories. Here one archive holds only stories about
    Idlib and the other only passing mentions of Syria labelled negative: held out, each is
    scored by a model that has seen only the other kind, so the cross-validated score is poor,
    while the refit on both archives separates them. A leak between folds would hide that."""
    tagger = load_tagger(REPO / "config")
    rows = []
    for n in range(6):
        rows.append({"id": f"a{n}", "lang": "en", "title": f"Shelling hits Idlib, day {n}",
                     "text": "Aid convoys reached Idlib and Saraqib on Monday.",
                     "labels": {"syria": True, "idlib": True, "iran": False},
                     "source": {"repo": "one/archive"}})
        rows.append({"id": f"b{n}", "lang": "en", "title": f"Markets open, day {n}",
                     "text": "Traders watched bond yields. " * 20 + "A trader once lived in Syria.",
                     "labels": {"syria": False, "idlib": False, "iran": False},
                     "source": {"repo": "two/archive"}})
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")

    cv = cross_validate(path, tagger, l2=5.0)

    assert cv.folds == {"one/archive": 6, "two/archive": 6}
    assert cv.report.items == 12 and cv.rows == 18  # syria and idlib rows of a*, syria of b*
    held_out = cv.report.per_topic["syria"]
    assert (held_out.tp, held_out.fn) == (0, 6)  # fitted on negatives only
    assert {m.id for m in cv.report.misclassified} >= {f"a{n}" for n in range(6)}
    refit = tagger.decide
    for n in range(6):
        assert refit(tagger.tag(rows[2 * n]["title"], rows[2 * n]["text"], "en").features,
                     cv.refit) == ["idlib", "syria"]
        assert refit(tagger.tag(rows[2 * n + 1]["title"], rows[2 * n + 1]["text"], "en").features,
                     cv.refit) == []
    text = format_cross_validation(cv, run_tagging_eval(path, tagger))
    assert "Cross-validated (2 folds by source.repo" in text and "Whole-set fit" in text
    assert "  a0 [en] expected idlib,syria got -" in text


def test_cross_validated_scores_on_the_labelled_corpus() -> None:
    """The numbers are printed by `newswatch eval tagging`; here only their shape and that the
    held-out scores are no better than the fit (they are measured on items the fold's model
    never saw)."""
    tagger = load_tagger(REPO / "config")
    cv = cross_validate(ITEMS, tagger)
    fit = run_tagging_eval(ITEMS, tagger)
    assert sum(cv.folds.values()) == cv.report.items == fit.items
    assert len(cv.folds) >= 5
    held_out_errors = len(cv.report.misclassified)
    assert held_out_errors >= len(fit.misclassified) - 3
    for topic in TOPICS:
        assert cv.report.per_topic[topic].support == fit.per_topic[topic].support


def test_target_misses_name_topic_and_language() -> None:
    pairs = [(item(f"p{n}", "ar", syria=True), ["syria"] if n else []) for n in range(12)]
    report = score_predictions(pairs, list(TOPICS), "v")
    misses = target_misses(report)
    assert "syria recall 0.917 < 0.95" in misses
    assert not any(m.startswith("ar ") for m in misses)  # 0.917 ≥ 0.90 in the language
