"""One Aho-Corasick automaton over many terms, with word boundaries in every script.

Used by the topic tagger and by alert rules, so "Idlib" means the same thing in both. The cost
of a search grows with the text, not with the number of terms.

Term syntax (after normalisation, see text_normalize):
* a plain term matches as a whole word or phrase: "syria" does not fire inside "assyrian";
* a trailing `*` makes it a prefix: "сири*" matches "сирия", "сирии", "сирийский";
* Arabic-script terms also match behind attached proclitics, in their grammatical order
  (conjunction و ف, preposition ب ل ك, article ال; ل + ال written لل): "وإدلب", "بإدلب",
  "والسوري", "للاذقية" find "ادلب", "سوري", "اللاذقيه"; "الورقة" does not find "رقه".
* With a language per term (`languages`), terms also take that language's inflection
  (enrich/tagging/word_forms.py): Turkish case suffixes without an apostrophe ("Suriyeyle",
  "İranla";
  such hits say `suffixed`, and a caller may accept them only in Turkish text), Russian case
  forms of one-word names ("Идлибе", "Ираном"), the joined spelling of Persian compounds listed
  with a zero-width non-joiner ("احمدینژاد").
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import ahocorasick

from enrich.tagging.text_normalize import is_arabic_script, is_word_char, normalize_text
from enrich.tagging.word_forms import (
    arabic_prefix_ok,
    persian_joined_variants,
    russian_forms,
    turkish_suffix_ok,
)

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class TermHit(Generic[K]):
    key: K
    term: str  # the term as written in the config
    start: int  # offsets into the normalised text
    end: int
    # The word goes on with an inflection the term's language allows without an apostrophe
    # (Turkish "Suriyeyle"); `end` is still the end of the term.
    suffixed: bool = False


@dataclass(frozen=True)
class _Pattern(Generic[K]):
    key: K
    term: str
    prefix: bool
    arabic: bool
    article: bool = False  # an Arabic term that starts with ال
    after_lam: bool = False  # the ال term behind the preposition ل ("للغوطه", "للاذقيه")
    turkish: bool = False  # takes Turkish suffixes without an apostrophe


def _word_start(text: str, start: int) -> int:
    while start > 0 and is_word_char(text[start - 1]):
        start -= 1
    return start


def _word_end(text: str, end: int) -> int:
    while end < len(text) and is_word_char(text[end]):
        end += 1
    return end


def _left_ok(text: str, start: int, pattern: _Pattern[K]) -> bool:
    if start == 0 or not is_word_char(text[start - 1]):
        return True
    if not pattern.arabic:
        return False
    prefix = text[_word_start(text, start) : start]
    return arabic_prefix_ok(prefix, term_has_article=pattern.article, after_lam=pattern.after_lam)


class TermMatcher(Generic[K]):
    """Find every occurrence of many (key, term) pairs in a text.

    `languages` maps a key to the language its term is listed under (ISO 639-1), which turns
    on that language's word forms; without it terms match as written (plus Arabic proclitics).
    """

    def __init__(
        self,
        terms: Iterable[tuple[K, str]],
        languages: Callable[[K], str | None] | None = None,
    ) -> None:
        self._automaton = ahocorasick.Automaton()
        table: dict[str, list[_Pattern[K]]] = {}

        def add(needle: str, pattern: _Pattern[K]) -> None:
            patterns = table.setdefault(needle, [])
            if not any(p.key == pattern.key and p.after_lam == pattern.after_lam for p in patterns):
                patterns.append(pattern)

        for key, term in terms:
            prefix = term.endswith("*")
            needle = normalize_text(term.rstrip("*")).strip()
            if not needle:
                continue
            language = languages(key) if languages is not None else None
            arabic = is_arabic_script(needle)
            article = arabic and needle.startswith("ال") and len(needle) > 3
            turkish = language == "tr" and not prefix and not arabic
            base = _Pattern(key, term, prefix, arabic, article=article, turkish=turkish)
            add(needle, base)
            if article:
                with_lam = _Pattern(key, term, prefix, True, after_lam=True)
                add("لل" + needle[2:], with_lam)  # ل + الغوطه = للغوطه
                if needle[2] == "ل":
                    add(needle[1:], with_lam)  # ل + اللاذقيه = للاذقيه (one lam dropped)
            if language == "ru" and not prefix and " " not in term.strip():
                for form in russian_forms(needle):
                    add(form, base)
            if language == "fa":
                for joined in persian_joined_variants(term, needle):
                    add(joined, base)
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
                suffixed = False
                if not (pattern.prefix or right_boundary):
                    if not pattern.turkish:
                        continue
                    if not turkish_suffix_ok(text[end : _word_end(text, end)]):
                        continue
                    suffixed = True
                if not _left_ok(text, start, pattern):
                    continue
                yield TermHit(pattern.key, pattern.term, start, end, suffixed)

    def find(self, text: str) -> Iterator[TermHit[K]]:
        return self.find_normalized(normalize_text(text))
