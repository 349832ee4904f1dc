"""Where a mention stands in its sentence: in a list of short items, or in a dateline.

A country named as one of several participants ("how Russia, Iran, Turkiye, Arab states and the
US will respond") is a passing mention, and so is a dateline ("TEHRAN – ..."): the place the
reporter files from. Both are read from punctuation alone, so they work the same in every
language; the tagger decides what they weigh (see config/topics.yaml, `scoring`).

Lists are read from text already passed through normalize_text (offsets are into it); datelines
from the text as published, whose dashes normalisation turns into spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A sentence ends at . ! ? ؟ followed by a space or the end, or at a line break ("12.6" does not).
_SENTENCE_END = re.compile(r"[.!?؟…](?=\s|$)|\n")
# List separators: commas and semicolons in Latin and Arabic script, and the stand-alone words
# for "and"/"or" in the taxonomy's languages. Arabic glues its "و" to the next word, so Arabic
# lists without commas are not seen as lists (a known limit).
_CONJUNCTION = r"(?:and|or|und|oder|et|ou|и|или|ve|veya|ile|و|va|یا|يا|او)"
# A comma followed by a conjunction (", and") counts as a conjunction.
_LIST_SEPARATOR = re.compile(rf"\s*[,،;؛]\s*(?:{_CONJUNCTION}\s+)?|\s+{_CONJUNCTION}\s+")
_WORD = re.compile(r"\w[\w']*")
# "TEHRAN –", "DAMASCUS, Dec 3 (Reuters) -", "طهران - ": a short head, then a dash between spaces.
_DATELINE = re.compile(r"^\W{0,3}(?P<head>[^\n.!?؟–—]{1,60}?)\s*[–—-]{1,2}\s")
# A place, a date and an agency: "damascus, dec 3 (reuters)". Longer heads are a clause.
_DATELINE_MAX_WORDS = 6


@dataclass(frozen=True)
class _Item:
    start: int
    end: int
    # The separator that ends this item: "," (comma, semicolon), "and" (a conjunction) or "".
    separator: str


def sentence_starts(text: str) -> list[int]:
    """Offsets where each sentence of the text begins (0 first), by the same rule as lists."""
    return [0, *(match.end() for match in _SENTENCE_END.finditer(text))]


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    begin = 0
    for match in _SENTENCE_END.finditer(text, 0, start):
        begin = match.end()
    stop = _SENTENCE_END.search(text, end)
    return begin, stop.start() if stop else len(text)


def _items(text: str, begin: int, stop: int) -> list[_Item]:
    items = []
    for match in _LIST_SEPARATOR.finditer(text, begin, stop):
        separator = "," if match.group().strip() in (",", "،", ";", "؛") else "and"
        items.append(_Item(begin, match.start(), separator))
        begin = match.end()
    items.append(_Item(begin, stop, ""))
    return items


def in_enumeration(text: str, start: int, end: int, max_words: int) -> bool:
    """True when the mention is one short item of a list of at least three items."""
    return enumeration_span(text, start, end, max_words) is not None


def enumeration_span(text: str, start: int, end: int, max_words: int) -> tuple[int, int] | None:
    """(start, end) of the list the mention is a short item of, or None when it is in none.

    A list is a run of short items (at most `max_words` words), bounded by the items on either
    side (the first may carry leading words, the last the predicate), whose separators are commas
    and at most one final conjunction: "how Russia, Iran, Turkiye, Arab states and the US will
    respond". "A wedge between Assad and Iran, his wartime backer" is no list: its conjunction
    comes before the comma. Two shapes of the languages' lists are read as well:
    * the last item carries the predicate ("Россия, Турция и Иран договорились о зонах"): a
      mention at the head of the item after the final conjunction is an item of the list;
    * a comma closes the list before the predicate ("Rusya, Türkiye ve İran, Suriye'de ...").
    """
    items = _items(text, *_sentence(text, start, end))
    index = max(i for i, item in enumerate(items) if item.start <= start)

    def short(i: int) -> bool:
        return len(_WORD.findall(text, items[i].start, items[i].end)) <= max_words

    if len(items) < 3:
        return None
    after_conjunction = index > 0 and items[index - 1].separator == "and"
    head_of_last = (
        not short(index)
        and after_conjunction
        and len(_WORD.findall(text, items[index].start, end)) <= max_words
    )
    if not short(index) and not head_of_last:
        return None
    first = index
    while first > 0 and short(first - 1):
        first -= 1
    last = index
    if not head_of_last:
        while last < len(items) - 1 and short(last + 1):
            last += 1
    first = max(first - 1, 0)
    if not head_of_last:
        last = min(last + 1, len(items) - 1)
    separators = "".join(items[i].separator[0] for i in range(first, last))
    if last - first < 2 or re.fullmatch(",+(?:a,?)?", separators) is None:
        return None
    return items[first].start, items[last].end


def dateline_head(body: str) -> str | None:
    """The dateline opening a body as published, up to its dash ("TEHRAN", "DAMASCUS, Dec 3
    (Reuters)"), or None when the body opens otherwise. Read from the published text, because
    normalisation turns hyphens into spaces."""
    match = _DATELINE.match(body)
    if match is None:
        return None
    words = _WORD.findall(match.group("head"))
    if not words or len(words) > _DATELINE_MAX_WORDS:
        return None
    # In scripts with case a dateline's place is in capitals ("TEHRAN –") unless an agency
    # follows it ("Damascus (AFP) -"); "Iran-backed militias – the report says –" is a clause.
    place = words[0]
    if place.upper() != place.lower() and not place.isupper() and "(" not in match.group("head"):
        return None
    return body[: match.end("head")]
