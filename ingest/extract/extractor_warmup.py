"""Imported by the extraction pool's forkserver (ExtractorPool's preload), so that every
extraction process starts warm.

Why: when a page's date is not in its metadata, trafilatura asks htmldate, which asks
dateparser; dateparser's first such question in a process builds split and match patterns for
each of its ~200 locales, about 1.8 s of CPU (measured on these machines; later questions take
milliseconds). Each poll run starts a pool, so without this every extraction process paid it
on a page of the poll, with the page waiting (the first pass over 200 real pages cost 50 ms a
page, the next 34). Paid here once, in the forkserver, the processes forked from it inherit the
patterns: one warm-up per run instead of one per process, and none on a page's path.

Importing this module does the work; nothing else imports it.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)

# A date in a form only dateparser reads (htmldate's own patterns give up on the time zone),
# so every locale is tried once.
_PROBE = "Updated: 2019-03-12 14:00 GMT+3"


def warm_date_parser() -> float:
    """Build dateparser's per-locale patterns through htmldate's own parser (the object
    trafilatura's date extraction uses, with its settings). Seconds spent; 0 when htmldate no
    longer offers that parser (then pages pay it as before; nothing breaks)."""
    started = time.process_time()
    try:
        from htmldate.extractors import get_external_parser
    except ImportError:  # htmldate reorganised: keep extracting, only slower on first dates
        log.warning("extractor warm-up skipped: htmldate has no get_external_parser")
        return 0.0
    get_external_parser().get_date_data(_PROBE)
    return time.process_time() - started


warm_date_parser()
