"""The extraction processes' warm-up: dateparser's per-locale patterns are built by importing
the module the pool's forkserver preloads, not by the first page that needs a date."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ingest.extract.extraction import FORKSERVER_PRELOAD

_COUNT = ("from dateparser.languages.dictionary import Dictionary; "
          "print(sum(len(v) for v in Dictionary._split_regex_cache.values()))")


def _patterns_after(imports: str) -> int:
    """Locale patterns dateparser holds in a fresh interpreter after `imports`."""
    out = subprocess.run([sys.executable, "-c", f"{imports}; {_COUNT}"],
                         capture_output=True, text=True, check=True, timeout=120)
    return int(out.stdout.strip())


def test_importing_the_warmup_builds_the_locale_patterns() -> None:
    assert _patterns_after("import ingest.extract.extraction") == 0
    assert _patterns_after("import ingest.extract.extractor_warmup") > 100


def test_the_forkserver_preloads_the_warmup() -> None:
    assert "ingest.extract.extractor_warmup" in FORKSERVER_PRELOAD


@pytest.mark.parametrize("module", FORKSERVER_PRELOAD)
def test_every_preloaded_module_imports(module: str) -> None:
    # multiprocessing's forkserver skips a preload that fails to import, silently.
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, timeout=120)
