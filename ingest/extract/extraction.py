"""Article body extraction with trafilatura, run in a long-lived process pool.

Extraction is CPU-bound and holds the GIL (threads give no speed-up, STACK-NOTES), so a poll
run keeps one pool of processes for its whole life and feeds it pages as they arrive.
After trafilatura, the stage puts back a lead that the page prints but trafilatura left out
(`ingest.extract.lead_recovery`). Pages come from sites nobody here controls: every way a page can
go
wrong ends in `ExtractionFailed` with a reason and a stable `kind` for metrics, never in a
crashed or hung pool (see `ingest.extract.supervised_pool`).
"""

from __future__ import annotations

import time
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import trafilatura
from trafilatura.settings import Document

from ingest.extract.lead_recovery import with_lead
from ingest.extract.supervised_pool import JobTimedOut, PoolStats, SupervisedPool, WorkerDied

# Names what made the text: trafilatura's version and the stage's own step after it.
EXTRACTOR_VERSION = f"trafilatura {trafilatura.__version__} + lead recovery"

# The one trafilatura call of this stage; the eval and the bench use exactly these options.
# Chosen by measurement on two public benchmarks (trafilatura 2.3.1): trafilatura-eval (990
# pages, snippet F1, see extraction_eval) and Mozilla Readability's test pages (121 pages
# with >= 100 words, bag-of-words F1 per page, averaged; github.com/mozilla/readability,
# test/test-pages). Comments and formatting off, tables in: 0.926 / 0.934.
# Every alternative scored lower on the larger set (larger set / smaller set):
#   favor_precision 0.922 / 0.929      favor_recall 0.920 / 0.938 (a gain on the smaller only)
#   fast, no fallback 0.920 / 0.923    favor_precision + fast 0.908 / 0.890
#   tables out 0.922 / 0.927           deduplicate 0.922 / 0.919        comments in 0.924
# Other extractors as a second opinion: readability-lxml 0.873 (0.972 on Readability's own
# pages, whose expected texts it was built to reproduce), resiliparse 0.843 / 0.927 (recall
# 0.959, precision 0.751). Choosing per page between these, gated on length ratios, never
# gained more than 0.002; nor did filling trafilatura's gaps with resiliparse's lines, nor a
# paragraph classifier on trafilatura's own output (5-fold CV). What gained is putting back
# the lead trafilatura leaves out (`ingest.extract.lead_recovery`): 0.926 -> 0.936.
# With the lead recovery on top (all / held-out 30% / Readability pages): these options
# 0.936 / 0.940 / 0.933; favor_precision 0.935 / 0.940 / 0.929; favor_precision with a
# re-run of these options when its text is under 1,500 chars 0.938 / 0.943 / 0.940, but
# 18% more CPU per page than raw trafilatura (23.0 -> 27.1 ms), past the 10% the stage may
# cost; the same with a fast re-run 0.936, no better than these options on the tuning 70%.
# A line classifier dropping short boilerplate lines (words and shape, logistic regression
# trained on the 70%): at the threshold 5-fold CV chose, held-out unchanged (0.940) and
# Readability's pages 0.933 -> 0.925; at a laxer one held-out 0.945 but Readability 0.932.
# Earlier: retrying with favor_recall under 100 chars (+0.0005), cutting short trailing or
# leading lines (no gain), taking the favor_precision text when it keeps >= 90% of the
# default's length (0.928, but two extractions per page: half the throughput).
# Metadata is extracted with the body because pages fetched outside a feed (`newswatch
# extract`) have no other title or date, and the description is the lead recovery's input.
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "include_comments": False,
    "include_formatting": False,
    "include_tables": True,
    "with_metadata": True,
}

# Above the fetcher's body cap (10 MiB) so a fetched page is never refused for size here;
# what is refused is a page that did not come through the fetcher's limits.
MAX_HTML_BYTES = 16 * 1024 * 1024
# A page still running after this long is pathological (one 1 MB page with 100,000
# attributes on one element took 64 s); its worker is killed and replaced.
DEFAULT_JOB_TIMEOUT_S = 30.0
# Per worker address-space cap: a runaway page fails with MemoryError instead of taking the
# machine down. A 7 MB page of 100,000 paragraphs peaked at 0.5 GiB of address space.
DEFAULT_MEMORY_LIMIT_MB = 2048

# Leading bytes that say "this is not an HTML page" before any parsing is spent on it.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "gzip-compressed bytes (decompress before extracting)"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class Extracted:
    title: str | None
    text: str
    author: str | None
    date: str | None  # ISO date as the extractor found it; may be invented, see article_builder
    sitename: str | None
    description: str | None
    language: str | None
    duration_ms: float


class ExtractionFailed(Exception):
    """No usable text came out of a page. `kind` is a stable label for metrics and health:
    empty, too_large, not_html, no_content, extractor_error, timeout, worker_died."""

    def __init__(self, reason: str, kind: str = "extractor_error",
                 duration_ms: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.duration_ms = duration_ms

    def __reduce__(self) -> tuple[Any, ...]:
        # Crosses the process boundary: keep kind and duration, not only the message.
        return (type(self), (self.reason, self.kind, self.duration_ms))


def _refusal(html: str | bytes) -> ExtractionFailed | None:
    """Why this input is not worth parsing, if it is not."""
    size = len(html)
    if size > MAX_HTML_BYTES:
        return ExtractionFailed(
            f"page is {size:,} {'bytes' if isinstance(html, bytes) else 'characters'}, over"
            f" the {MAX_HTML_BYTES:,} this stage accepts",
            kind="too_large",
        )
    if not html.strip():
        return ExtractionFailed("empty page", kind="empty")
    if isinstance(html, bytes):
        head = html[:1024]
        for magic, what in _MAGIC:
            if head.startswith(magic):
                return ExtractionFailed(f"not HTML: {what}", kind="not_html")
        if b"\x00" in head and not head.startswith(_UTF16_BOMS):
            return ExtractionFailed("not HTML: binary content (NUL bytes)", kind="not_html")
    return None


def _nfc(value: str | None) -> str | None:
    # trafilatura.extract() returns NFC; bare_extraction() does not. Composed characters keep
    # matching what people type in searches (and 3 more snippets of the corpus).
    return unicodedata.normalize("NFC", value) if value else None


def extract_html(html: str | bytes, url: str | None = None) -> Extracted:
    """Extract the main text and metadata of one page (pure: no I/O).

    Raises ExtractionFailed for input that is not a page, a page without main content, or an
    extractor error; a short text is returned as is (the caller decides what is too short).
    """
    started = time.perf_counter()
    refusal = _refusal(html)
    if refusal is not None:
        raise refusal
    try:
        doc = trafilatura.bare_extraction(html, url=url, **TRAFILATURA_OPTIONS)
    except Exception as exc:  # trafilatura raises many kinds on hostile markup
        raise ExtractionFailed(
            f"extractor error: {type(exc).__name__}: {exc}",
            kind="extractor_error",
            duration_ms=(time.perf_counter() - started) * 1000,
        ) from exc
    text = _nfc((doc.text or "").strip()) if isinstance(doc, Document) else None
    if not isinstance(doc, Document) or not text:
        raise ExtractionFailed("no main content found", kind="no_content",
                               duration_ms=(time.perf_counter() - started) * 1000)
    text = with_lead(text, _nfc(doc.description), _nfc(doc.title), html)
    elapsed = (time.perf_counter() - started) * 1000
    return Extracted(
        title=_nfc(doc.title),
        text=text,
        author=doc.author or None,
        date=doc.date or None,
        sitename=doc.sitename or None,
        description=doc.description or None,
        language=doc.language or None,
        duration_ms=elapsed,
    )


def _extract_job(job: tuple[str | None, str | bytes]) -> Extracted | ExtractionFailed:
    url, html = job
    try:
        return extract_html(html, url)
    except ExtractionFailed as exc:
        return exc


def _failed_job(exc: BaseException, job: tuple[str | None, str | bytes]) -> ExtractionFailed:
    """What the caller sees when the pool, not the page, ended the job."""
    if isinstance(exc, JobTimedOut):
        return ExtractionFailed(
            f"extraction ran longer than {exc.timeout_s:g} s; its process was replaced",
            kind="timeout",
        )
    if isinstance(exc, WorkerDied):
        return ExtractionFailed(
            f"extraction process died (exit code {exc.exitcode}) on this page; replaced",
            kind="worker_died",
        )
    return ExtractionFailed(f"extractor error: {type(exc).__name__}: {exc}")


# What the pool's forkserver imports before it forks extraction processes (the second only for
# a warm pool). A name that does not import is skipped without a word by multiprocessing (a
# test imports each).
FORKSERVER_PRELOAD = ("ingest.extract.extraction", "ingest.extract.extractor_warmup")


class ExtractorPool:
    """A pool of extraction processes that lives as long as the poll run that owns it.

    Thread-safe: the poller's page threads submit concurrently. Futures always resolve to an
    `Extracted` or an `ExtractionFailed` value, never to an exception. Processes start from a
    forkserver that has imported trafilatura once and warmed its date parser
    (extractor_warmup.py): not `fork`, because the parent already runs Kafka and HTTP threads
    and forking a process with threads can deadlock the child.
    """

    def __init__(
        self,
        processes: int,
        *,
        job_timeout_s: float | None = DEFAULT_JOB_TIMEOUT_S,
        memory_limit_mb: int | None = DEFAULT_MEMORY_LIMIT_MB,
        warm: bool = True,
    ) -> None:
        """`warm`: build dateparser's patterns in the forkserver first (1.8 s, once per
        process that starts pools). Worth it for a pool that reads many pages; a command
        that extracts a few files starts faster without it. The forkserver is shared by every
        pool of a process, so the first pool decides."""
        self.processes = processes
        self._pool: SupervisedPool[tuple[str | None, str | bytes],
                                   Extracted | ExtractionFailed] = SupervisedPool(
            _extract_job,
            processes,
            job_timeout_s=job_timeout_s,
            memory_limit_bytes=memory_limit_mb * 1024 * 1024 if memory_limit_mb else None,
            preload=list(FORKSERVER_PRELOAD if warm else FORKSERVER_PRELOAD[:1]),
            failure_value=_failed_job,
            name="extractor",
        )

    @property
    def stats(self) -> PoolStats:
        return self._pool.stats

    def worker_pids(self) -> list[int]:
        return self._pool.worker_pids()

    def busy_worker_pids(self) -> list[int]:
        return self._pool.busy_worker_pids()

    def submit(self, url: str | None, html: str | bytes) -> Future[Extracted | ExtractionFailed]:
        return self._pool.submit((url, html))

    def map(
        self, jobs: Iterable[tuple[str | None, str | bytes]]
    ) -> Iterator[Extracted | ExtractionFailed]:
        """Results in input order. At most a few pages per process are in flight, so a long
        iterable of pages is never held in memory all at once."""
        window: deque[Future[Extracted | ExtractionFailed]] = deque()
        in_flight = self.processes * 4
        for url, html in jobs:
            window.append(self.submit(url, html))
            if len(window) >= in_flight:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
