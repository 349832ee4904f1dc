"""The extract stage: real pages, hostile pages, and a pool that survives its workers."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import random
import signal
import time
import zlib

import pytest

from ingest.extract.extraction import (
    MAX_HTML_BYTES,
    Extracted,
    ExtractionFailed,
    ExtractorPool,
    extract_html,
)
from tests.conftest import CORPORA

EVAL = CORPORA / "pages" / "trafilatura-eval"
HACKERNOON = "https://hackernoon.com/how-to-scrape-google-with-python-bo7d2tal"


def corpus_page(url: str) -> tuple[dict[str, object], bytes]:
    item = json.loads((EVAL / "evaldata.json").read_text(encoding="utf-8"))[url]
    return item, gzip.decompress((EVAL / f"{item['file']}.gz").read_bytes())


def article_page(body: str, head: str = "") -> str:
    return f"<html><head>{head}</head><body><article>{body}</article></body></html>"


def slow_page(attributes: int = 20_000) -> bytes:
    """Takes the extractor seconds: attribute handling grows with the square of their number
    (100,000 attributes on one element took 64 s)."""
    attrs = " ".join(f'a{i}="x"' for i in range(attributes))
    return f"<html><body><div {attrs}><p>hi there</p></div></body></html>".encode()


def wait_until_busy(pool: ExtractorPool) -> int:
    deadline = time.monotonic() + 60
    while not pool.busy_worker_pids():
        assert time.monotonic() < deadline, "no worker picked the job up"
        time.sleep(0.005)
    return pool.busy_worker_pids()[0]


# --- one page ---------------------------------------------------------------------------
def test_real_page_gives_body_without_boilerplate_and_its_metadata() -> None:
    item, html = corpus_page(HACKERNOON)
    result = extract_html(html, HACKERNOON)
    for snippet in item["with"]:  # type: ignore[attr-defined]
        assert snippet in result.text
    for snippet in item["without"]:  # type: ignore[attr-defined]
        assert snippet not in result.text
    assert result.title == item["title"]
    assert result.date == item["date"]
    assert result.duration_ms > 0


def test_a_lead_printed_above_the_article_is_put_back_in_front_of_the_text() -> None:
    """trafilatura keeps this page's body but drops the teaser above it; the page prints it
    and carries it as its meta description, so the stage restores it (see lead_recovery)."""
    url = ("https://www.forstpraxis.de/"
           "pilotprojekt-heizen-mit-pellets-aus-laub-so-funktioniert-es-21677")
    item, html = corpus_page(url)
    import trafilatura

    alone = trafilatura.extract(html, url=url, include_comments=False)
    assert alone is not None and "In Reichenbach in der Lausitz" not in alone
    result = extract_html(html, url)
    assert result.text.startswith("In Reichenbach in der Lausitz wird eine neue Idee")
    for snippet in item["with"]:  # type: ignore[attr-defined]
        assert snippet in result.text
    for snippet in item["without"]:  # type: ignore[attr-defined]
        assert snippet not in result.text


def test_a_description_the_page_does_not_print_stays_out_of_the_text() -> None:
    lead = "Rescue teams in Idlib searched for survivors after a night of shelling."
    body = "<p>" + "Shelling hit Idlib overnight, residents said on Sunday. " * 8 + "</p>"
    head = f'<meta name="description" content="{lead}">'
    printed = extract_html(article_page(body, head).replace(
        "<body>", f'<body><header><p class="teaser">{lead}</p></header>'))
    assert printed.text.startswith(lead + "\n")
    unprinted = extract_html(article_page(body, head))
    assert lead not in unprinted.text and unprinted.description == lead


def test_text_and_title_come_out_nfc_composed() -> None:
    decomposed = "Cafe\u0301 de\u0301ja\u0300 vu"
    html = article_page(f"<p>{decomposed} in the old town. " * 10 + "</p>",
                        head=f"<title>{decomposed}</title>")
    result = extract_html(html, "https://example.org/a")
    assert "Café déjà vu" in result.text
    assert "\u0301" not in result.text
    assert result.title == "Café déjà vu"


def test_undeclared_windows_1251_bytes_are_decoded() -> None:
    body = "<p>" + "Сирия и Идлиб: обстрелы продолжаются, сообщают жители. " * 20 + "</p>"
    result = extract_html(article_page(body).encode("cp1251"), "https://example.ru/a")
    assert "Идлиб: обстрелы продолжаются" in result.text


def test_page_with_no_article_gives_no_usable_text() -> None:
    html = (b"<html><head><title>Home</title></head><body><nav><a href='/'>Home</a>"
            b"<a href='/about'>About</a></nav></body></html>")
    try:
        result = extract_html(html, "https://example.org/")
    except ExtractionFailed as exc:
        assert exc.kind == "no_content"
    else:
        # At most the navigation words: short enough for the caller's fallback to the feed
        # entry (article_builder.MIN_PAGE_TEXT_CHARS).
        assert len(result.text) < 50


@pytest.mark.parametrize(
    ("html", "kind", "reason"),
    [
        (b"", "empty", "empty page"),
        ("  \n\t ", "empty", "empty page"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 20, "not_html", "PDF"),
        (gzip.compress(b"<html><body><p>zipped</p></body></html>"), "not_html", "gzip"),
        (b"\x89PNG\r\n\x1a\n" + bytes(500), "not_html", "PNG"),
        (b"<html>\x00\x01\x02" + bytes(2000), "not_html", "binary"),
        (b"<html><body></body></html>", "no_content", "no main content"),
    ],
)
def test_input_that_is_not_an_article_fails_with_a_clear_reason(
    html: bytes | str, kind: str, reason: str
) -> None:
    with pytest.raises(ExtractionFailed) as info:
        extract_html(html, "https://example.org/x")
    assert info.value.kind == kind
    assert reason in str(info.value)


def test_oversized_page_is_refused_before_parsing() -> None:
    with pytest.raises(ExtractionFailed) as info:
        extract_html(b"<p>" + b"a" * MAX_HTML_BYTES, "https://example.org/big")
    assert info.value.kind == "too_large"
    assert f"{MAX_HTML_BYTES:,}" in str(info.value)


@pytest.mark.parametrize(
    "html",
    [
        random.Random(7).randbytes(200_000).replace(b"\x00", b"\x01"),  # garbage, no NULs
        b"<html><body>" + b"<div>" * 100_000 + b"<p>deep text</p>" + b"</div>" * 100_000,
        b"<html><body>" + b"<div><span><b>" * 50_000 + b"text never closed",
        b"<html><body><p>" + b"\x00" * 100 + b"NUL bytes inside a paragraph " * 20 + b"</p>",
        "<?xml version='1.0' encoding='utf-8'?><html><body><p>" + "Declared. " * 50 + "</p>",
        b"<html><body><p>" + "кириллица ".encode("koi8-r") * 100 + b"</p></body></html>",
        b"<html><body><p>" + zlib.compress(b"x" * 10_000) + b"</p></body></html>",
    ],
    ids=["random-bytes", "nested-100k", "unclosed-150k", "nul-in-text", "xml-declaration",
         "koi8-r", "binary-in-body"],
)
def test_hostile_markup_ends_in_a_result_or_a_clear_failure(html: bytes | str) -> None:
    try:
        result = extract_html(html, "https://example.org/hostile")
    except ExtractionFailed as exc:
        assert exc.kind in {"no_content", "not_html", "extractor_error"}
        assert str(exc)
    else:
        assert isinstance(result, Extracted)
        assert result.text.strip()


def test_extraction_failed_keeps_kind_and_duration_across_processes() -> None:
    exc = ExtractionFailed("no main content found", kind="no_content", duration_ms=12.5)
    copy = pickle.loads(pickle.dumps(exc))
    assert (str(copy), copy.kind, copy.duration_ms) == ("no main content found", "no_content",
                                                        12.5)


# --- the pool ---------------------------------------------------------------------------
def test_pool_map_returns_results_in_order_and_never_raises() -> None:
    _, real = corpus_page(HACKERNOON)
    jobs = [(HACKERNOON, real), ("https://example.org/empty", b""), (HACKERNOON, real)]
    with ExtractorPool(2) as pool:
        results = list(pool.map(jobs))
    assert isinstance(results[0], Extracted)
    assert isinstance(results[1], ExtractionFailed) and results[1].kind == "empty"
    assert isinstance(results[2], Extracted) and results[2].text == results[0].text


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL], ids=["segfault", "killed"])
def test_worker_dying_mid_page_fails_that_page_only_and_the_pool_goes_on(
    sig: signal.Signals,
) -> None:
    _, real = corpus_page(HACKERNOON)
    with ExtractorPool(1) as pool:
        doomed = pool.submit("https://example.org/slow", slow_page())
        queued = pool.submit(HACKERNOON, real)
        os.kill(wait_until_busy(pool), sig)
        failed = doomed.result(timeout=120)
        assert isinstance(failed, ExtractionFailed)
        assert failed.kind == "worker_died"
        assert f"exit code {-sig}" in str(failed)
        assert isinstance(queued.result(timeout=120), Extracted)
        assert isinstance(pool.submit(HACKERNOON, real).result(timeout=120), Extracted)
        assert pool.stats.worker_deaths == 1


def test_page_running_past_the_timeout_fails_and_its_worker_is_replaced() -> None:
    quick = article_page("<p>" + "A short dateless paragraph of plain words. " * 5 + "</p>")
    with ExtractorPool(1, job_timeout_s=1.0) as pool:
        first_pid = pool.worker_pids()[0]
        stuck = pool.submit("https://example.org/slow", slow_page(60_000))  # ~20 s alone
        after = pool.submit("https://example.org/quick", quick)
        failed = stuck.result(timeout=120)
        assert isinstance(failed, ExtractionFailed) and failed.kind == "timeout"
        assert "longer than 1 s" in str(failed)
        assert first_pid not in pool.worker_pids()
        # The page queued behind it is not blamed: a fresh worker extracts it.
        done = after.result(timeout=120)
        assert isinstance(done, Extracted) and "dateless paragraph" in done.text
        assert pool.stats.timeouts == 1


def test_pool_submit_after_close_is_refused() -> None:
    pool = ExtractorPool(1)
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit("https://example.org/", b"<p>late</p>")
