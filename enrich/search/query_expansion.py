"""`newswatch search --any-language`: one name in every script.

A query word (or run of words) that names a known place, actor or topic is replaced by an OR
group of all of that entry's names from config/places.yaml, actors.yaml and topics.yaml, so
`Idlib` also finds إدلب, Идлиба and İdlib'de. Why from the gazetteers and not from a
translation service: they are the names analysts already curate, versioned with the config.

What counts as naming an entry: its id, any of its names or ambiguous names, compared without
case, diacritics, Arabic/Persian letter variants, apostrophes or hyphens. What is searched: its
unambiguous names only (an ambiguous name like "Esad" or الأسد stays in the query only if the
analyst typed it). Places win over actors, actors over topics; for a topic, the first name of
each language is used (its label's translations), not its whole term list.
Pure: the name table is built from loaded config, so it is tested without files or servers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from enrich.entities.gazetteer_config import Entry, load_gazetteer_config
from enrich.tagging.taxonomy import Taxonomy, load_taxonomy

MAX_NAME_WORDS = 6

_LETTER_VARIANTS = str.maketrans({"ی": "ي", "ى": "ي", "ک": "ك", "ة": "ه", "ۀ": "ه", "ـ": None,
                                  "\u200c": " ", "'": " ", "’": " ", "-": " ", "*": None})


def name_key(name: str) -> str:
    """How names are compared: no case, no diacritics (İ, é, Arabic hamza and short vowels),
    one letter per Arabic/Persian variant, apostrophes and hyphens as spaces."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = stripped.casefold().translate(_LETTER_VARIANTS)
    return " ".join(folded.split())


@dataclass(frozen=True)
class NamedEntry:
    kind: str  # place | actor | topic
    id: str
    names: tuple[str, ...]  # what is searched, display order: English first


@dataclass(frozen=True)
class Expansion:
    typed: str
    entry: NamedEntry

    def describe(self) -> str:
        return f"{self.typed} -> {self.entry.kind} {self.entry.id}: {' | '.join(self.entry.names)}"


def _searchable(name: str) -> str:
    """A gazetteer name as a search term: Russian stems lose their `*` (the Russian analysis
    reaches the case endings itself)."""
    return name.rstrip("*").strip()


def _ordered_names(names: dict[str, list[str]]) -> list[str]:
    languages = sorted(names, key=lambda lang: (lang != "en", lang))
    out: list[str] = []
    seen: set[str] = set()
    for language in languages:
        for name in names[language]:
            term = _searchable(name)
            key = term.casefold()  # İdlib and Idlib, إدلب and ادلب: all shown, as typed in config
            if key and key not in seen:
                seen.add(key)
                out.append(term)
    return out


class NameTable:
    """Every known entry under each of its trigger keys."""

    def __init__(self, entries: Iterable[tuple[NamedEntry, Iterable[str]]]) -> None:
        self._by_key: dict[str, NamedEntry] = {}
        for entry, triggers in entries:
            for trigger in triggers:
                key = name_key(trigger)
                if key:
                    self._by_key.setdefault(key, entry)  # first wins: places, actors, topics

    def lookup(self, words: str) -> NamedEntry | None:
        return self._by_key.get(name_key(words))

    @classmethod
    def from_config(cls, places: Iterable[Entry], actors: Iterable[Entry],
                    taxonomy: Taxonomy | None) -> NameTable:
        rows: list[tuple[NamedEntry, list[str]]] = []
        for kind, entries in (("place", places), ("actor", actors)):
            for e in entries:
                triggers = [e.id, e.id.replace("-", " ")]
                triggers += [n for names in e.names.values() for n in names]
                triggers += [n for names in e.ambiguous_names.values() for n in names]
                rows.append((NamedEntry(kind, e.id, tuple(_ordered_names(e.names))), triggers))
        if taxonomy is not None:
            for topic_id, spec in taxonomy.topics.items():
                firsts = {lang: terms[:1] for lang, terms in spec.names.items() if terms}
                triggers = [topic_id, spec.label, *(t[0] for t in firsts.values())]
                rows.append((NamedEntry("topic", topic_id, tuple(_ordered_names(firsts))),
                             triggers))
        return cls(rows)

    @classmethod
    def from_config_dir(cls, config_dir: Path) -> NameTable:
        gazetteer = load_gazetteer_config(config_dir / "actors.yaml", config_dir / "places.yaml")
        taxonomy_path = config_dir / "topics.yaml"
        taxonomy = load_taxonomy(taxonomy_path) if taxonomy_path.exists() else None
        return cls.from_config(gazetteer.places.places, gazetteer.actors.actors, taxonomy)


# Query pieces: a quoted phrase, an operator or parenthesis, or a bare word.
_PIECE = re.compile(r'"[^"]*"|[()|+]|\S+')
_OPERATORS = {"AND", "OR", "NOT", "|", "+", "(", ")"}


def _group(names: Iterable[str], typed: str) -> str:
    names = list(names)
    if name_key(typed) not in {name_key(n) for n in names}:
        names.append(typed)
    quoted = [f'"{n}"' if re.search(r"[\s\-'’]", n) else n for n in names]
    return "(" + " | ".join(quoted) + ")"


def expand_query(query: str, table: NameTable) -> tuple[str, list[Expansion]]:
    """The query with each run of words naming a known entry replaced by an OR group of its
    names, and the expansions made. Operators, prefixes (`Idl*`) and negated words stay."""
    pieces = _PIECE.findall(query)
    out: list[str] = []
    used: list[Expansion] = []
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        if piece.startswith('"') and piece.endswith('"') and len(piece) > 1:
            entry = table.lookup(piece.strip('"'))
            if entry:
                used.append(Expansion(piece.strip('"'), entry))
                out.append(_group(entry.names, piece.strip('"')))
            else:
                out.append(piece)
            i += 1
            continue
        if piece in _OPERATORS or piece.startswith("-") or piece.endswith("*"):
            out.append(piece)
            i += 1
            continue
        matched = False
        for n in range(min(MAX_NAME_WORDS, len(pieces) - i), 0, -1):
            words = pieces[i:i + n]
            if any(w in _OPERATORS or w.startswith('"') for w in words):
                continue
            typed = " ".join(words)
            entry = table.lookup(typed)
            if entry:
                used.append(Expansion(typed, entry))
                out.append(_group(entry.names, typed))
                i += n
                matched = True
                break
        if not matched:
            out.append(piece)
            i += 1
    return " ".join(out), used


def whole_query_names(query: str, expansions: list[Expansion]) -> list[str]:
    """When the whole query is one known name, all the names to search for it (the entry's and
    what was typed): the search then looks each up in its own script's fields only. Empty when
    the query has anything else in it."""
    if len(expansions) != 1 or name_key(query.strip().strip('"')) != name_key(
            expansions[0].typed):
        return []
    names = list(expansions[0].entry.names)
    if name_key(expansions[0].typed) not in {name_key(n) for n in names}:
        names.append(expansions[0].typed)
    return names
