"""Article body extraction with trafilatura, run in a long-lived process pool.

Extraction is CPU-bound and holds the GIL (threads give no speed-up, STACK-NOTES), so a poll
run keeps one pool of processes for its whole life and feeds it pages as they arrive.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

import trafilatura

EXTRACTOR_VERSION = f"trafilatura {trafilatura.__version__}"


@dataclass(frozen=True)
class Extracted:
    title: str | None
    text: str
    author: str | None
    date: str | None  # ISO date as the extractor found it; may be invented, see poller
    sitename: str | None
    description: str | None
    language: str | None
    duration_ms: float


class ExtractionFailed(Exception):
    pass


def extract_html(html: str | bytes, url: str | None = None) -> Extracted:
    """Extract the main text and metadata of one page (pure: no I/O).

    Comments and formatting are off: that is where trafilatura scores best on the evaluation
    corpus (F1 0.926 vs 0.921 with defaults), and analysts search body text, not comments.
    """
    started = time.perf_counter()
    try:
        doc = trafilatura.bare_extraction(
            html,
            url=url,
            include_comments=False,
            include_formatting=False,
            include_tables=True,
            with_metadata=True,
        )
    except Exception as exc:  # trafilatura raises many kinds on hostile markup
        raise ExtractionFailed(f"{type(exc).__name__}: {exc}") from exc
    elapsed = (time.perf_counter() - started) * 1000
    if doc is None:
        raise ExtractionFailed("no main content found")
    text = (doc.text or "").strip()
    return Extracted(
        title=doc.title or None,
        text=text,
        author=doc.author or None,
        date=doc.date or None,
        sitename=doc.sitename or None,
        description=doc.description or None,
        language=doc.language or None,
        duration_ms=elapsed,
    )


def _extract_job(job: tuple[str, bytes]) -> Extracted | ExtractionFailed:
    url, html = job
    try:
        return extract_html(html, url)
    except ExtractionFailed as exc:
        return exc


class ExtractorPool:
    """A pool of extraction processes that lives as long as the poll run that owns it.

    Processes are started with `forkserver`, not `fork`: the parent already runs Kafka and HTTP
    threads, and forking a process with threads can deadlock the child on a held lock.
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["trafilatura"])
        self._pool = ProcessPoolExecutor(max_workers=processes, mp_context=context)

    def submit(self, url: str, html: bytes) -> Future[Extracted | ExtractionFailed]:
        return self._pool.submit(_extract_job, (url, html))

    def map(self, jobs: Iterable[tuple[str, bytes]]) -> Iterator[Extracted | ExtractionFailed]:
        return self._pool.map(_extract_job, jobs, chunksize=4)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
