"""`newswatch eval extraction`: scoring as trafilatura scores itself, through the real stage."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from ingest.extract.extraction_eval import (
    EvalCorpusError,
    EvalPage,
    SnippetCounts,
    format_extraction_report,
    is_held_out,
    load_eval_pages,
    run_extraction_eval,
    score_page,
)
from tests.conftest import CORPORA

EVAL = CORPORA / "pages" / "trafilatura-eval"

PAGE = EvalPage(
    url="https://example.org/a",
    file="a.html",
    with_snippets=("Idlib was shelled", "rescue teams\nreached the town"),
    without_snippets=("Most read", "Subscribe"),
)


def test_found_and_missing_snippets_are_counted_both_ways() -> None:
    text = "Idlib was shelled overnight. Most read: football."
    assert score_page(text, PAGE) == SnippetCounts(
        true_positives=1, false_negatives=1, false_positives=1, true_negatives=1
    )


def test_whitespace_differences_do_not_count_as_misses() -> None:
    text = "Idlib  was\nshelled; rescue teams reached   the town."
    counts = score_page(text, PAGE)
    assert (counts.true_positives, counts.false_negatives) == (2, 0)


def test_an_empty_text_misses_every_wanted_snippet_and_leaks_none() -> None:
    assert score_page("", PAGE) == SnippetCounts(0, 2, 0, 2)


def test_precision_recall_f1_follow_the_summed_counts() -> None:
    counts = SnippetCounts(8, 2, 2, 8) + SnippetCounts(1, 1, 0, 1)
    assert counts == SnippetCounts(9, 3, 2, 9)
    assert counts.precision == pytest.approx(9 / 11)
    assert counts.recall == pytest.approx(9 / 12)
    assert counts.f1 == pytest.approx(2 * 9 / (2 * 9 + 2 + 3))
    assert SnippetCounts().f1 == 0.0 and SnippetCounts().precision == 0.0


def write_corpus(root: Path, pages: dict[str, tuple[bytes, list[str], list[str]]]) -> Path:
    index = {}
    for name, (html, with_, without) in pages.items():
        (root / f"{name}.gz").write_bytes(gzip.compress(html))
        index[f"https://example.org/{name}"] = {"file": name, "with": with_, "without": without}
    (root / "evaldata.json").write_text(json.dumps(index), encoding="utf-8")
    return root


def test_eval_runs_pages_through_the_stage_and_counts_failures(tmp_path: Path) -> None:
    body = "<p>" + "Shelling hit Idlib overnight, residents said on Sunday. " * 8 + "</p>"
    article = (f"<html><body><nav>Most read Subscribe</nav><article>{body}</article>"
               "<footer>Imprint and contact details</footer></body></html>").encode()
    corpus = write_corpus(tmp_path, {
        "good.html": (article, ["Shelling hit Idlib overnight"], ["Imprint and contact"]),
        "empty.html": (b"", ["anything at all"], ["nothing"]),
    })
    report = run_extraction_eval(corpus, processes=1)
    assert report.pages == 2
    assert report.counts == SnippetCounts(1, 1, 0, 2)
    assert report.failures == {"empty": 1}
    assert len(report.page_ms) >= 1
    text = format_extraction_report(report)
    assert "precision 1.000" in text and "recall 0.500" in text and "F1 0.667" in text
    assert "ms/page" in text and "failed pages: 1 (empty 1)" in text
    assert not report.meets_target
    held = [u for u in ("https://example.org/good.html", "https://example.org/empty.html")
            if is_held_out(u)]
    assert report.held_out_pages == len(held)
    assert f"held-out {len(held)} pages" in text


def test_the_held_out_split_is_a_stable_three_tenths_of_the_pages() -> None:
    urls = [f"https://example.org/article/{i}" for i in range(2000)]
    held = [u for u in urls if is_held_out(u)]
    assert 540 < len(held) < 660  # 30% +- 3 points
    assert held == [u for u in urls if is_held_out(u)]
    assert is_held_out("https://example.org/article/0") == is_held_out(
        "https://example.org/article/0")


def test_a_missing_page_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "evaldata.json").write_text(json.dumps(
        {"https://example.org/x": {"file": "x.html", "with": ["a"], "without": ["b"]}}
    ), encoding="utf-8")
    with pytest.raises(EvalCorpusError, match=r"x\.html\.gz"):
        run_extraction_eval(tmp_path)


def test_a_missing_or_malformed_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EvalCorpusError, match=r"evaldata\.json: not found"):
        load_eval_pages(tmp_path)
    (tmp_path / "evaldata.json").write_text('{"https://e.org/": {"file": "e.html"}}')
    with pytest.raises(EvalCorpusError, match="lacks file/with/without"):
        load_eval_pages(tmp_path)


def test_real_corpus_subset_scores_like_trafilatura_on_it() -> None:
    """30 real pages, two processes: a broken stage (empty texts, boilerplate kept, pool
    mix-ups between pages) falls far below what trafilatura reaches on them (F1 about 0.93)."""
    pages = load_eval_pages(EVAL, limit=30)
    report = run_extraction_eval(EVAL, processes=2, limit=30)
    assert report.pages == 30
    wanted = sum(len(p.with_snippets) for p in pages)
    unwanted = sum(len(p.without_snippets) for p in pages)
    c = report.counts
    assert c.true_positives + c.false_negatives == wanted
    assert c.false_positives + c.true_negatives == unwanted
    assert report.f1 > 0.85
    held = [p for p in pages if is_held_out(p.url)]
    h = report.held_out_counts
    assert report.held_out_pages == len(held) > 0
    assert h.true_positives + h.false_negatives == sum(len(p.with_snippets) for p in held)
