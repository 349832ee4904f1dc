"""One article as the rules see it: its text folded like the tagger folds it, the automaton's
hits in it, and — only when a rule fires — highlighted snippets quoted from the original."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from enrich.alerts.rules.offset_map import OffsetLookup, offset_map
from enrich.alerts.rules.snippet import SNIPPET_REACH, snippet_with_map
from enrich.tagging.text_normalize import fold_for_matching

Span = tuple[int, int]


def article_text(doc: Mapping[str, Any]) -> str:
    """The text rules are matched against: title, then body."""
    title = doc.get("title") or ""
    text = doc.get("text") or ""
    return f"{title}\n{text}" if title else str(text)


fold = fold_for_matching


def normalized_article_text(doc: Mapping[str, Any]) -> str:
    """The folded article_text, title and body folded apart: the tagger and the gazetteer
    fold exactly those two strings, and normalize_text caches what it folded."""
    title = str(doc.get("title") or "")
    body = fold(str(doc.get("text") or ""))
    return f"{fold(title)}\n{body}" if title else body


@dataclass
class _OriginCache:
    map: OffsetLookup | None = None
    covers: int = 0  # normalised offsets below this are mapped
    failed: bool = False


@dataclass(frozen=True)
class ArticleScan:
    """One pass of the automaton over one article, shared by every rule it reaches."""

    text: str  # article_text(doc), as published
    normalized: str
    spans: dict[str, list[Span]]  # term as written -> occurrences in `normalized`

    @cached_property
    def _origin(self) -> _OriginCache:
        return _OriginCache()

    def origin_upto(self, upto: int) -> OffsetLookup | None:
        """Offsets in `normalized` below `upto` → offsets in `text`. Folded as far as the
        snippets of this article need, once: usually just the title and the first lines."""
        cache = self._origin
        if cache.covers < upto and not cache.failed:
            # first: just what was asked; if a later snippet needs more, the whole text
            cache.covers = len(self.normalized) if cache.covers else upto
            cache.map = offset_map(self.text, self.normalized, cache.covers)
            cache.failed = cache.map is None
        return cache.map

    def prepare_snippets(self, term_groups: Iterable[Sequence[str]]) -> None:
        """Map offsets once, as far as the snippets of all these matches (each one's found
        terms) will reach. Takes the terms, not the matches, so this module does not depend on
        rule_matching, which depends on it."""
        firsts = [
            min(self.spans[term][0][1] for term in terms if self.spans.get(term))
            for terms in term_groups
            if any(self.spans.get(term) for term in terms)
        ]
        if firsts:
            self.origin_upto(max(firsts) + SNIPPET_REACH)

    @cached_property
    def _snippets(self) -> dict[tuple[str, ...], str]:
        return {}

    def snippet(self, terms: list[str]) -> str:
        """The highlighted passage for these found terms; rules that fire on the same terms
        share it."""
        key = tuple(sorted(terms))
        cached = self._snippets.get(key)
        if cached is None:
            spans = [span for term in key for span in self.spans.get(term, [])]
            cached = snippet_with_map(self.text, self.normalized, spans, self.origin_upto)
            self._snippets[key] = cached
        return cached
