"""Who and where: actors and places named in an article, and the point to put it on a map.

Matching uses the same TermMatcher as the topic tagger (same normalisation, word boundaries in
every script, Arabic proclitics, `*` prefixes), with one automaton for actors and places
together so overlapping names resolve as one reader would:

* Longest match wins. "فيلق القدس" (the Quds Force) is the actor, not the city القدس inside it;
  "Hafez al-Assad" is not also "Assad"; "Hayat Tahrir al-Sham" is not also "Sham".
* Ambiguous names (see gazetteer_config) count only when the document also names one of their
  context ids through a plain name; a place named stands for the places above it too, and an
  actor for its country ("Assad" confirms "HTS"). Confirmation is one step: two ambiguous
  names cannot confirm each other ("Dana" and "Harem" alone stay unmatched).

`places` lists the places named plus their ancestors (Saraqib → idlib → syria), so a filter on
`places: idlib` finds the article about Saraqib. `actors` lists the actors named.

The main place, whose coordinates become `geo`, is the most specific place that carries the
article's weight. Each mention weighs TITLE_WEIGHT in the title and 1 in the body, and a
place's weight includes the weight of everything under it. Start at the heaviest top-level
place (a country, usually) and step down to the heaviest child while that child holds at least
half of the current weight. "Syria ×3, Idlib ×2, Saraqib ×1" stops at idlib (Saraqib alone is a
passing mention); a title "Shelling in Saraqib" goes down to saraqib. Ties go to the place
named first.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from enrich.entities.gazetteer_config import Actor, GazetteerConfig, Place, load_gazetteer_config
from enrich.tagging.term_matcher import TermHit, TermMatcher
from enrich.tagging.text_normalize import normalize_text

TITLE_WEIGHT = 3
Kind = Literal["actor", "place"]


@dataclass(frozen=True)
class _NameKey:
    kind: Kind
    id: str
    ambiguous: bool


@dataclass
class GazetteerResult:
    actors: list[str]
    places: list[str]
    geo: dict[str, float] | None
    version: str
    main_place: str | None = None
    # How often each actor/place id was named, title mentions counted TITLE_WEIGHT times.
    weights: dict[str, int] = field(default_factory=dict)

    def document_fields(self) -> dict[str, Any]:
        """The fields of the articles index this result fills (`geo` is a geo_point)."""
        return {"actors": self.actors, "places": self.places, "geo": self.geo}


@dataclass(frozen=True)
class _Mention:
    key: _NameKey
    in_title: bool
    order: int  # position of the first mention, title before body


def _longest_non_overlapping(hits: list[TermHit[_NameKey]]) -> list[TermHit[_NameKey]]:
    """Keep the longest of overlapping hits; ties go to the earlier one, then to a plain name."""
    kept_starts: list[int] = []
    kept_ends: list[int] = []
    kept: list[TermHit[_NameKey]] = []
    for hit in sorted(hits, key=lambda h: (-(h.end - h.start), h.start, h.key.ambiguous)):
        index = bisect_left(kept_starts, hit.start)
        overlaps_next = index < len(kept_starts) and kept_starts[index] < hit.end
        overlaps_previous = index > 0 and kept_ends[index - 1] > hit.start
        if overlaps_next or overlaps_previous:
            continue
        kept_starts.insert(index, hit.start)
        kept_ends.insert(index, hit.end)
        kept.append(hit)
    return kept


class Gazetteer:
    def __init__(self, config: GazetteerConfig) -> None:
        self.version = config.version
        self._places: dict[str, Place] = {place.id: place for place in config.places.places}
        self._context: dict[str, frozenset[str]] = {
            entry.id: frozenset(entry.context)
            for entry in [*config.actors.actors, *config.places.places]
        }
        self._actor_country = {
            actor.id: actor.country for actor in config.actors.actors if actor.country
        }
        self._children: dict[str | None, list[str]] = {}
        for place in config.places.places:
            self._children.setdefault(place.parent, []).append(place.id)
        groups: list[tuple[Kind, list[Actor] | list[Place]]] = [
            ("actor", config.actors.actors),
            ("place", config.places.places),
        ]
        terms = [
            (_NameKey(kind, entry.id, ambiguous), name)
            for kind, entries in groups
            for entry in entries
            for name, ambiguous in entry.name_variants()
        ]
        self._matcher: TermMatcher[_NameKey] = TermMatcher(terms)

    def ancestors(self, place_id: str) -> list[str]:
        chain = []
        parent = self._places[place_id].parent
        while parent is not None:
            chain.append(parent)
            parent = self._places[parent].parent
        return chain

    def country_names(self) -> list[tuple[str, str]]:
        """(country id, name) for every plain name of every country: what lists of countries
        ("روسيا وتركيا وإيران") are made of."""
        return [
            (place.id, name)
            for place in self._places.values()
            if place.kind == "country"
            for name, ambiguous in place.name_variants()
            if not ambiguous
        ]

    def country_chain(self, entry_id: str) -> tuple[str, ...]:
        """The places an actor or place id stands in, itself (or an actor's country) first and
        its country last: saraqib → (saraqib, idlib, syria); an actor of Iran → (iran,).
        Empty for an actor without a country and for unknown ids."""
        place_id = self._actor_country.get(entry_id, entry_id)
        if place_id not in self._places:
            return ()
        return (place_id, *self.ancestors(place_id))

    def find(self, title: str, text: str) -> GazetteerResult:
        mentions = self._mentions(title, True, 0) + self._mentions(text, False, len(title) + 1)
        confirmed = self._confirmed(mentions)
        weights: Counter[str] = Counter()
        first: dict[str, int] = {}
        kinds: dict[str, Kind] = {}
        for mention in mentions:
            if mention.key.id not in confirmed:
                continue
            weights[mention.key.id] += TITLE_WEIGHT if mention.in_title else 1
            first[mention.key.id] = min(first.get(mention.key.id, mention.order), mention.order)
            kinds[mention.key.id] = mention.key.kind
        actors = sorted(i for i, kind in kinds.items() if kind == "actor")
        named_places = [i for i, kind in kinds.items() if kind == "place"]
        places = set(named_places)
        for place_id in named_places:
            places.update(self.ancestors(place_id))
        place_weights = {i: weights[i] for i in named_places}
        main = self._main_place(place_weights, first)
        geo = None
        if main is not None:
            geo = {"lat": self._places[main].lat, "lon": self._places[main].lon}
        return GazetteerResult(
            actors=actors,
            places=sorted(places),
            geo=geo,
            version=self.version,
            main_place=main,
            weights=dict(sorted(weights.items())),
        )

    def _mentions(self, text: str, in_title: bool, offset: int) -> list[_Mention]:
        hits = list(self._matcher.find_normalized(normalize_text(text)))
        return [
            _Mention(hit.key, in_title, offset + hit.start)
            for hit in _longest_non_overlapping(hits)
        ]

    def _confirmed(self, mentions: list[_Mention]) -> set[str]:
        plain = {m.key.id for m in mentions if not m.key.ambiguous}
        # A plain mention of a place also stands for every place above it, and an actor for
        # its country: "HTS" beside "Assad" is the Syrian HTS.
        plain_with_ancestors = set(plain)
        for entry_id in plain:
            place_id = self._actor_country.get(entry_id, entry_id)
            if place_id in self._places:
                plain_with_ancestors.add(place_id)
                plain_with_ancestors.update(self.ancestors(place_id))
        confirmed = set(plain)
        for mention in mentions:
            if mention.key.ambiguous and self._context[mention.key.id] & plain_with_ancestors:
                confirmed.add(mention.key.id)
        return confirmed

    def _main_place(self, weights: dict[str, int], first: dict[str, int]) -> str | None:
        if not weights:
            return None
        subtree: Counter[str] = Counter()
        earliest: dict[str, int] = {}
        for place_id, weight in weights.items():
            for node in [place_id, *self.ancestors(place_id)]:
                subtree[node] += weight
                earliest[node] = min(earliest.get(node, first[place_id]), first[place_id])

        def heaviest(candidates: list[str]) -> str | None:
            present = [c for c in candidates if subtree[c] > 0]
            if not present:
                return None
            return min(present, key=lambda c: (-subtree[c], earliest[c]))

        current = heaviest(self._children.get(None, []))
        while current is not None:
            child = heaviest(self._children.get(current, []))
            if child is None or 2 * subtree[child] < subtree[current]:
                return current
            current = child
        return None


def load_gazetteer(actors_path: Path, places_path: Path) -> Gazetteer:
    return Gazetteer(load_gazetteer_config(actors_path, places_path))
