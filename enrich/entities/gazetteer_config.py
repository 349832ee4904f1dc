"""The people-and-places gazetteers as data: `config/actors.yaml` and `config/places.yaml`.

Analysts add a town or a militia by editing YAML, so every mistake a hand edit can make is
caught at load time with the file, line and field: an unknown parent or context id, a cycle of
parents, a duplicate id, a name given to two entries (which would make a match mean two things),
coordinates out of range.

An entry has `names` per language (ISO 639-1) that always count, and optionally
`ambiguous_names` that count only when the same document also names, through a plain name, one
of the ids in `context` (a place id is also satisfied by any place under it, and by an actor
whose `country` it is or contains). That is the guard for
short or common words: "Dana" (a first name; Turkish for veal), "Harem", "Ariha" (Arabic and
Turkish for Jericho), "HTS", "SDF" (Japan's Self-Defense Forces).

Latin names with hyphens or apostrophes also match with a space for the hyphen and without the
apostrophe ("Maarat al-Numan" → "Maarat al Numan", "Ma'arrat" → "Maarrat"), because publishers
transliterate inconsistently.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from enrich.tagging.text_normalize import normalize_text
from ingest.common.yaml_config import ConfigError, format_loc, load_yaml_model

EntryId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2)]
Names = dict[LanguageCode, list[Name]]


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: EntryId
    names: Names
    ambiguous_names: Names = Field(default_factory=dict)
    context: list[EntryId] = Field(default_factory=list)
    note: str | None = None

    @model_validator(mode="after")
    def _names_usable(self) -> Entry:
        if not self.names.get("en"):
            raise ValueError("names.en is required: the English name is the display name")
        if self.ambiguous_names and not self.context:
            raise ValueError("ambiguous_names need a context: ids that must also be named")
        return self

    def name_variants(self) -> Iterator[tuple[str, bool]]:
        """(name, ambiguous) for every spelling that should match, variants included."""
        for names, ambiguous in ((self.names, False), (self.ambiguous_names, True)):
            for spellings in names.values():
                for spelling in spellings:
                    for variant in spelling_variants(spelling):
                        yield variant, ambiguous


class Actor(Entry):
    kind: Literal["person", "armed_group", "state_institution", "organisation"]
    country: EntryId | None = None


class Place(Entry):
    kind: Literal[
        "country",
        "territory",
        "governorate",
        "province",
        "district",
        "city",
        "town",
        "region",
        "site",
    ]
    parent: EntryId | None = None
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class ActorsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Annotated[str, StringConstraints(min_length=1)]
    actors: list[Actor]


class PlacesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Annotated[str, StringConstraints(min_length=1)]
    places: list[Place]


@dataclass(frozen=True)
class GazetteerConfig:
    actors: ActorsFile
    places: PlacesFile

    @property
    def version(self) -> str:
        return f"actors:{self.actors.version}+places:{self.places.version}"


def spelling_variants(name: str) -> set[str]:
    variants = {name}
    if "-" in name:
        variants.add(name.replace("-", " "))
    for variant in list(variants):
        if "'" in variant or "’" in variant:
            variants.add(variant.replace("'", "").replace("’", ""))
    return variants


def _item_lines(path: Path, key: str) -> list[int]:
    """Line of each item of the top-level list `key`, for messages about cross-entry problems."""
    node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    if not isinstance(node, yaml.MappingNode):
        return []
    for key_node, value_node in node.value:
        if key_node.value == key and isinstance(value_node, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value_node.value]
    return []


class _Problems:
    """Collects cross-entry problems of one file in yaml_config's "file:line: field: msg" shape."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key
        self.lines: list[int] | None = None  # parsed again only when there is a problem
        self.messages: list[str] = []

    def add(self, index: int, field: str, message: str) -> None:
        if self.lines is None:
            self.lines = _item_lines(self.path, self.key)
        line = f":{self.lines[index]}" if index < len(self.lines) else ""
        where = format_loc((self.key, index, field))
        self.messages.append(f"{self.path}{line}: {where}: {message}")


def _check_unique_ids(entries: list[Actor] | list[Place], problems: _Problems) -> None:
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if entry.id in seen:
            problems.add(index, "id", f"duplicate id {entry.id!r} (first at item {seen[entry.id]})")
        seen.setdefault(entry.id, index)


def _check_places_tree(places: list[Place], problems: _Problems) -> None:
    by_id = {place.id: place for place in places}
    for index, place in enumerate(places):
        if place.parent is None:
            continue
        if place.parent not in by_id:
            problems.add(index, "parent", f"unknown place id {place.parent!r}")
            continue
        seen = {place.id}
        current: Place | None = by_id[place.parent]
        while current is not None:
            if current.id in seen:
                problems.add(index, "parent", f"parents form a cycle through {current.id!r}")
                break
            seen.add(current.id)
            current = by_id.get(current.parent) if current.parent else None


def _check_references(
    entries: list[Actor] | list[Place], known: set[str], places: set[str], problems: _Problems
) -> None:
    for index, entry in enumerate(entries):
        for ref in entry.context:
            if ref not in known:
                problems.add(index, "context", f"unknown actor or place id {ref!r}")
        country = getattr(entry, "country", None)
        if country is not None and country not in places:
            problems.add(index, "country", f"unknown place id {country!r}")


def _check_name_clashes(
    files: list[tuple[list[Actor] | list[Place], _Problems]],
) -> None:
    """One spelling, one meaning: the same normalised name on two entries is an error."""
    owner: dict[str, str] = {}
    for entries, problems in files:
        for index, entry in enumerate(entries):
            for name, _ambiguous in entry.name_variants():
                key = normalize_text(name).strip()
                previous = owner.setdefault(key, entry.id)
                if previous != entry.id:
                    problems.add(index, "names", f"{name!r} is already a name of {previous!r}")


def load_gazetteer_config(actors_path: Path, places_path: Path) -> GazetteerConfig:
    """Load and cross-check both files; raise ConfigError listing every problem found."""
    actors = load_yaml_model(actors_path, ActorsFile)
    places = load_yaml_model(places_path, PlacesFile)
    actor_problems = _Problems(actors_path, "actors")
    place_problems = _Problems(places_path, "places")
    _check_unique_ids(actors.actors, actor_problems)
    _check_unique_ids(places.places, place_problems)
    _check_places_tree(places.places, place_problems)
    place_ids = {place.id for place in places.places}
    known = place_ids | {actor.id for actor in actors.actors}
    if place_ids & {actor.id for actor in actors.actors}:
        for index, actor in enumerate(actors.actors):
            if actor.id in place_ids:
                actor_problems.add(index, "id", f"{actor.id!r} is also a place id")
    _check_references(actors.actors, known, place_ids, actor_problems)
    _check_references(places.places, known, place_ids, place_problems)
    _check_name_clashes([(places.places, place_problems), (actors.actors, actor_problems)])
    messages = place_problems.messages + actor_problems.messages
    if messages:
        raise ConfigError(places_path if place_problems.messages else actors_path, messages)
    return GazetteerConfig(actors=actors, places=places)
