"""A short passage around the matched terms, with the terms marked, in the text as published.

Matching runs on normalised text (case-folded, Arabic diacritics removed), whose offsets do not
point into the original; offset_map.py maps them back. When it cannot (rare compositions across
characters), the passage is cut from the normalised text instead, which is still readable.

The snippet is HTML-escaped text with `<mark>…</mark>` around hits, the shape Elasticsearch
highlighting has; `plain_snippet` and `slack_snippet` render it for other channels.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

from enrich.alerts.rules.offset_map import OffsetLookup, offset_map
from enrich.tagging.text_normalize import is_word_char

Span = tuple[int, int]
_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)
_SPACE = re.compile(r"\s+")
WIDTH = 240
# How far past its first hit a snippet can reach in normalised text.
SNIPPET_REACH = 2 * WIDTH


def _to_original(spans: Sequence[Span], origin: OffsetLookup) -> list[Span]:
    mapped = []
    for start, end in spans:
        first = origin[start]
        last = origin[end - 1] + 1 if end > start else first
        mapped.append((first, last))
    return mapped


def _widen(text: str, start: int, end: int) -> tuple[int, int]:
    """Move the cut points outwards to whole words."""
    while start > 0 and is_word_char(text[start - 1]):
        start -= 1
    while end < len(text) and is_word_char(text[end]):
        end += 1
    return start, end


def highlight_snippet(
    text: str, normalized: str, spans: Sequence[Span], *, width: int = WIDTH
) -> str:
    """About `width` characters around the first hit, hits inside wrapped in <mark>."""
    return snippet_with_map(
        text, normalized, spans, lambda upto: offset_map(text, normalized, upto), width=width
    )


def snippet_with_map(
    text: str,
    normalized: str,
    spans: Sequence[Span],
    origin_for: Callable[[int], OffsetLookup | None],
    *,
    width: int = WIDTH,
) -> str:
    """highlight_snippet with the offset map supplied by the caller: `origin_for(n)` maps the
    normalised offsets below n (None: it cannot)."""
    if not spans:
        return html.escape(_SPACE.sub(" ", text[:width]).strip(), quote=False)
    spans = sorted(spans)
    reach = spans[0][1] + 2 * width  # the window cannot extend past this in normalised text
    spans = [span for span in spans if span[1] <= reach]
    origin = origin_for(reach)
    source = text if origin is not None else normalized
    hits = sorted(_to_original(spans, origin) if origin is not None else spans)
    first_start, first_end = hits[0]
    margin = max(0, (width - (first_end - first_start)) // 2)
    start, end = _widen(source, max(0, first_start - margin), min(len(source), first_end + margin))
    parts = ["…" if start > 0 else ""]
    cursor = start
    for hit_start, hit_end in hits:
        if hit_start < cursor or hit_end > end:
            continue
        parts.append(html.escape(source[cursor:hit_start], quote=False))
        parts.append(f"<mark>{html.escape(source[hit_start:hit_end], quote=False)}</mark>")
        cursor = hit_end
    parts.append(html.escape(source[cursor:end], quote=False))
    parts.append("…" if end < len(source) else "")
    return _SPACE.sub(" ", "".join(parts)).strip()


def plain_snippet(snippet: str) -> str:
    """`…the <mark>Idlib</mark> front…` → `…the [Idlib] front…`."""
    return html.unescape(_MARK.sub(r"[\1]", snippet))


def slack_snippet(snippet: str) -> str:
    """Slack mrkdwn: hits in bold; &, < and > stay escaped as Slack requires."""
    return _MARK.sub(r"*\1*", snippet)
