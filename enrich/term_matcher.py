"""One Aho-Corasick automaton over many terms, with word boundaries in every script.

Used by the topic tagger and by alert rules, so "Idlib" means the same thing in both. The cost
of a search grows with the text, not with the number of terms.

Term syntax (after normalisation, see text_normalize):
* a plain term matches as a whole word or phrase: "syria" does not fire inside "assyrian";
* a trailing `*` makes it a prefix: "сири*" matches "сирия", "сирии", "сирийский";
* Arabic-script terms also match behind attached proclitics (و ف ب ل ك, with or without the
  article ال): "وإدلب", "بإدلب", "والسوري" find "ادلب" and "سوري", because Arabic writes those
  particles glued to the next word.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import ahocorasick

from enrich.text_normalize import is_arabic_script, is_word_char, normalize_text

K = TypeVar("K", bound=Hashable)

# Longest first, so "وال" is tried before "و".
ARABIC_PROCLITICS = ("وال", "فال", "بال", "كال", "لل", "ال", "و", "ف", "ب", "ل", "ك")


@dataclass(frozen=True)
class TermHit(Generic[K]):
    key: K
    term: str  # the term as written in the config
    start: int  # offsets into the normalised text
    end: int


@dataclass(frozen=True)
class _Pattern(Generic[K]):
    key: K
    term: str
    prefix: bool
    arabic: bool


def _left_ok(text: str, start: int, arabic: bool, depth: int = 0) -> bool:
    if start == 0 or not is_word_char(text[start - 1]):
        return True
    if not arabic or depth == 2:
        return False
    # Up to two stacked proclitics ("وب" + term, "وال" + term).
    for clitic in ARABIC_PROCLITICS:
        begin = start - len(clitic)
        if begin >= 0 and text[begin:start] == clitic and _left_ok(text, begin, True, depth + 1):
            return True
    return False


class TermMatcher(Generic[K]):
    """Find every occurrence of many (key, term) pairs in a text."""

    def __init__(self, terms: Iterable[tuple[K, str]]) -> None:
        self._automaton = ahocorasick.Automaton()
        table: dict[str, list[_Pattern[K]]] = {}
        for key, term in terms:
            prefix = term.endswith("*")
            needle = normalize_text(term.rstrip("*")).strip()
            if not needle:
                continue
            table.setdefault(needle, []).append(
                _Pattern(key, term, prefix, is_arabic_script(needle))
            )
        for needle, patterns in table.items():
            self._automaton.add_word(needle, (needle, tuple(patterns)))
        self.size = len(table)
        if table:
            self._automaton.make_automaton()

    def find_normalized(self, text: str) -> Iterator[TermHit[K]]:
        """Search text already passed through normalize_text."""
        if not self.size:
            return
        for end_index, (needle, patterns) in self._automaton.iter(text):
            end = end_index + 1
            start = end - len(needle)
            right_boundary = end == len(text) or not is_word_char(text[end])
            for pattern in patterns:
                if not (pattern.prefix or right_boundary):
                    continue
                if not _left_ok(text, start, pattern.arabic):
                    continue
                yield TermHit(pattern.key, pattern.term, start, end)

    def find(self, text: str) -> Iterator[TermHit[K]]:
        return self.find_normalized(normalize_text(text))
