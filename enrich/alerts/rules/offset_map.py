"""From offsets in normalised text back to offsets in the text as published.

Matching runs on `normalize_text(text)`, whose offsets do not point into the original: case
folding can lengthen a character (ß → ss), Arabic diacritics vanish, and a few steps depend on
context (a hyphen between letters becomes a space; whitespace runs may collapse). Snippets must
quote the original, so this module maps the few offsets a snippet needs.

How, cheaply: fold each distinct character alone through a translation table (C speed); then
walk the folded text and the normalised text together, jumping over equal stretches with
slice comparisons, and stopping only where they differ — which the context-dependent steps
explain (hyphen ↔ space, surplus whitespace). The result is a piecewise map with one
breakpoint per difference, not a list as long as the article: a 50,000-character page costs a
few dozen slice comparisons. Anything else that differs (a combining mark composed across two
characters) yields no map, and the caller quotes the normalised text instead.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from typing import Protocol

from enrich.tagging.text_normalize import normalize_text

_HYPHENS = frozenset("-\u2010\u2011\u2012\u2043\ufe63")


@functools.lru_cache(maxsize=8192)
def _fold(char: str) -> str:
    return normalize_text(char)


class OffsetLookup(Protocol):
    def __getitem__(self, offset: int) -> int: ...


class OffsetMap:
    """A piecewise-linear map: offsets from `starts[i]` on advance one for one from
    `targets[i]`."""

    def __init__(self, starts: list[int], targets: list[int]) -> None:
        self._starts = starts
        self._targets = targets

    def __getitem__(self, offset: int) -> int:
        piece = bisect_right(self._starts, offset) - 1
        return self._targets[piece] + (offset - self._starts[piece])


def _common_run(a: str, i: int, b: str, j: int) -> int:
    """Length of the longest equal stretch of a[i:] and b[j:], found with slice comparisons."""
    limit = min(len(a) - i, len(b) - j)
    if a[i:i + limit] == b[j:j + limit]:
        return limit
    low, high, step = 0, limit, 32
    while step < high and a[i:i + step] == b[j:j + step]:
        low, step = step, step * 2
    high = min(step, high)
    while high - low > 1:
        middle = (low + high) // 2
        if a[i:i + middle] == b[j:j + middle]:
            low = middle
        else:
            high = middle
    return low


def _fold_map(text: str, table: dict[int, str]) -> tuple[str, OffsetMap]:
    """The per-character fold of `text` and the map from its offsets back to `text`."""
    folded = text.translate(table)
    uneven = [chr(code) for code, value in table.items() if len(value) != 1]
    if not uneven:
        return folded, OffsetMap([0], [0])
    starts, targets = [0], [0]
    position = 0  # in folded
    last = 0  # in text
    for found in re.finditer("[" + re.escape("".join(uneven)) + "]", text):
        index = found.start()
        position += index - last
        width = len(table[ord(text[index])])
        for step in range(width):  # every folded character of it points at the original one
            starts.append(position + step)
            targets.append(index)
        position += width
        last = index + 1
        starts.append(position)
        targets.append(last)
    # pieces of width 0 (a removed diacritic) leave two breakpoints at one offset: keep the last
    merged: dict[int, int] = {}
    for start, target in zip(starts, targets, strict=True):
        merged[start] = target
    keys = sorted(merged)
    return folded, OffsetMap(keys, [merged[k] for k in keys])


def offset_map(text: str, normalized: str, upto: int | None = None) -> OffsetLookup | None:
    """Map offsets of `normalized` (= normalize_text(text)) to offsets of `text` — up to
    offset `upto` only, when given (a snippet near the start needs no more, and the text
    after it is then never folded); None when the two cannot be aligned."""
    goal = len(normalized) if upto is None else min(upto, len(normalized))
    ratio = len(text) / max(1, len(normalized))  # > 1 where diacritics were dropped
    limit = len(text) if upto is None else min(len(text), int(goal * ratio * 1.1) + 64)
    while True:
        aligned = _align(text[:limit], normalized[:goal], whole=limit >= len(text))
        if aligned is not _SHORT:
            return aligned if isinstance(aligned, _Chained) else None
        limit = min(len(text), limit * 2)


_SHORT = object()  # the prefix of the text ran out before the goal: fold more of it


def _align(text: str, normalized: str, *, whole: bool) -> object:
    table = {ord(c): _fold(c) for c in set(text)}
    folded, back = _fold_map(text, table)
    starts, targets = [0], [0]
    i = j = 0
    while j < len(normalized):
        run = _common_run(folded, i, normalized, j)
        i += run
        j += run
        if j >= len(normalized):
            break
        if i >= len(folded) and not whole:
            return _SHORT
        want = normalized[j]
        have = folded[i] if i < len(folded) else ""
        if want.isspace() and (have.isspace() or have in _HYPHENS) and have:
            i += 1
            j += 1
        elif not want.isspace() and have.isspace():
            while i < len(folded) and folded[i].isspace():
                i += 1  # surplus whitespace the whole-text pass collapsed
            if i >= len(folded) and not whole:
                return _SHORT
        else:
            return None
        if starts[-1] == j:
            targets[-1] = i
        else:
            starts.append(j)
            targets.append(i)
    # The end maps to the end, whatever trailing whitespace the normalisation dropped.
    if starts[-1] == len(normalized):
        targets[-1] = len(folded)
    else:
        starts.append(len(normalized))
        targets.append(len(folded))
    return _Chained(OffsetMap(starts, targets), back)


class _Chained:
    """normalized → folded → text."""

    def __init__(self, first: OffsetLookup, second: OffsetLookup) -> None:
        self._first = first
        self._second = second

    def __getitem__(self, offset: int) -> int:
        return self._second[self._first[offset]]
