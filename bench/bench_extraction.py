"""The extract stage against raw trafilatura, side by side on the same real pages.

"Raw trafilatura" is `trafilatura.bare_extraction` called directly in this process with the
stage's own options (`TRAFILATURA_OPTIONS`: body and metadata), so the ratios show what the
stage adds or gains around the same work: the input checks, the lead recovery
(`ingest.extract.lead_recovery`: a look for the description in the page when the text lacks it) and
NFC step, pickling pages to the worker processes and results back, and the second core.

Every mode first runs once untimed over the pages (imports, dateparser's per-locale regexes
and the like are paid by a long-lived pool once, not per page); then ROUNDS timed rounds,
rotating which mode goes first, and each mode keeps its best round: noise from other
processes only ever slows a round down. Beside wall-clock pages/s, the CPU time each mode
spends (in this process and in its workers) is recorded: it does not depend on what else the
machine runs, so the stage's own overhead stays readable on a busy machine.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trafilatura

from bench.framework import BenchContext, Row, at_least, info
from ingest.extract.extraction import (
    TRAFILATURA_OPTIONS,
    ExtractionFailed,
    ExtractorPool,
    extract_html,
)
from ingest.extract.extraction_eval import load_eval_pages, read_page_html

PAGES = 120
ROUNDS = 5

Page = tuple[str, bytes]


def sample_pages(corpus: Path, count: int = PAGES) -> list[Page]:
    """`count` pages spread evenly over the corpus (same ones every run), in memory."""
    pages = load_eval_pages(corpus)
    step = len(pages) / count
    chosen = [pages[int(i * step)] for i in range(min(count, len(pages)))]
    return [(page.url, read_page_html(corpus, page)) for page in chosen]


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc); 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Mode:
    run: Callable[[list[Page]], int]
    cpu_s: Callable[[], float] = time.process_time  # CPU spent so far on this mode's work


def _raw(pages: list[Page]) -> int:
    for url, html in pages:
        trafilatura.bare_extraction(html, url=url, **TRAFILATURA_OPTIONS)
    return len(pages)


def _text_only(pages: list[Page]) -> int:
    for url, html in pages:
        trafilatura.extract(html, url=url, include_comments=False, include_formatting=False)
    return len(pages)


def _in_process(pages: list[Page]) -> int:
    for url, html in pages:
        with contextlib.suppress(ExtractionFailed):
            extract_html(html, url)
    return len(pages)


def _pool_mode(pool: ExtractorPool) -> Mode:
    def run(pages: list[Page]) -> int:
        return sum(1 for _ in pool.map(pages))

    def cpu_s() -> float:
        return time.process_time() + sum(process_cpu_s(p) for p in pool.worker_pids())

    return Mode(run, cpu_s)


@dataclass
class Measured:
    pages_per_s: float = 0.0  # best round, wall clock
    cpu_ms_per_page: float = float("inf")  # least CPU of a round, all processes of the mode


def measure(modes: dict[str, Mode], pages: list[Page], rounds: int = ROUNDS) -> dict[str, Measured]:
    for mode in modes.values():
        mode.run(pages)
    best = {name: Measured() for name in modes}
    names = list(modes)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            mode, result = modes[name], best[name]
            cpu_before, started = mode.cpu_s(), time.perf_counter()
            count = mode.run(pages)
            elapsed, cpu = time.perf_counter() - started, mode.cpu_s() - cpu_before
            result.pages_per_s = max(result.pages_per_s, count / elapsed)
            result.cpu_ms_per_page = min(result.cpu_ms_per_page, cpu * 1000 / count)
    return best


def rows(ctx: BenchContext) -> list[Row]:
    pages = sample_pages(ctx.corpora / "pages" / "trafilatura-eval")
    with ExtractorPool(1) as one, ExtractorPool(2) as two:
        m = measure({
            "raw": Mode(_raw),
            "text_only": Mode(_text_only),
            "in_process": Mode(_in_process),
            "pool1": _pool_mode(one),
            "pool2": _pool_mode(two),
        }, pages)
    raw = m["raw"].pages_per_s
    n = len(pages)
    return [
        at_least(f"extract stage, 1 process vs raw trafilatura, 1 process ({n} pages)",
                 "x", 0.9, m["pool1"].pages_per_s / raw),
        at_least(f"extract stage, 2 processes vs raw trafilatura, 1 process ({n} pages)",
                 "x", 1.8, m["pool2"].pages_per_s / raw),
        info("extract_html in the caller's process vs raw trafilatura", "x",
             m["in_process"].pages_per_s / raw),
        info("trafilatura.extract, text only (no metadata) vs raw trafilatura", "x",
             m["text_only"].pages_per_s / raw),
        info("raw trafilatura (bare_extraction, body + metadata), 1 process", "pages/s", raw),
        info("extract stage, 1 process", "pages/s", m["pool1"].pages_per_s),
        info("extract stage, 2 processes", "pages/s", m["pool2"].pages_per_s),
        info("CPU per page: raw trafilatura", "ms", m["raw"].cpu_ms_per_page),
        info("CPU per page: extract stage, 2 processes (workers + caller)", "ms",
             m["pool2"].cpu_ms_per_page),
    ]
