"""The topic taxonomy (`config/topics.yaml`): validated once at load, then read-only.

Ops and analysts edit the taxonomy by hand, so every mistake must come back as "topics.yaml:42:
topics.idlib.implies[0]: implies unknown topic 'sirya'" before a worker starts, not as a tag that
silently never fires. The file's own comments explain the matching and scoring rules; this
module only checks its shape and answers questions about topic families.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from enrich.tagging.text_normalize import normalize_text
from ingest.common.yaml_config import load_yaml_model, parse_yaml_model

__all__ = [
    "BodyThreshold",
    "ScoringRules",
    "Taxonomy",
    "TermKind",
    "TermSpec",
    "TopicSpec",
    "load_taxonomy",
    "parse_taxonomy",
]

TopicId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]


def _check_term(term: str) -> str:
    if "*" in term.rstrip("*") or term.endswith("**"):
        raise ValueError(f"'*' is only allowed once, at the end of a term: {term!r}")
    if not normalize_text(term.rstrip("*")).strip():
        raise ValueError(f"term is empty after normalisation: {term!r}")
    return term


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


TermsByLanguage = dict[LanguageCode, list[str]]


class TermKind(StrEnum):
    NAME = "name"
    ADJECTIVE = "adjective"
    CONTEXT = "context"
    DOMESTIC = "domestic"
    FOREIGN = "foreign"
    NEGATIVE = "negative"


class TopicSpec(_Strict):
    label: str = Field(min_length=1)
    description: str = ""
    implies: list[TopicId] = Field(default_factory=list)
    names: TermsByLanguage = Field(min_length=1)
    adjectives: TermsByLanguage = Field(default_factory=dict)
    context: TermsByLanguage = Field(default_factory=dict)
    domestic: TermsByLanguage = Field(default_factory=dict)
    foreign: TermsByLanguage = Field(default_factory=dict)
    negatives: TermsByLanguage = Field(default_factory=dict)

    @model_validator(mode="after")
    def _terms_are_well_formed(self) -> TopicSpec:
        errors: list[InitErrorDetails] = []
        for field in ("names", "adjectives", "context", "domestic", "foreign", "negatives"):
            for language, terms in getattr(self, field).items():
                for index, term in enumerate(terms):
                    try:
                        _check_term(term)
                    except ValueError as exc:
                        errors.append(_error("bad_term", str(exc), (field, language, index), term))
        if errors:
            raise ValidationError.from_exception_data("TopicSpec", errors)
        return self

    def terms(self) -> Iterator[tuple[TermKind, str, str]]:
        """(kind, language, term) for every term of this topic."""
        for kind, table in (
            (TermKind.NAME, self.names),
            (TermKind.ADJECTIVE, self.adjectives),
            (TermKind.CONTEXT, self.context),
            (TermKind.DOMESTIC, self.domestic),
            (TermKind.FOREIGN, self.foreign),
            (TermKind.NEGATIVE, self.negatives),
        ):
            for language, terms in table.items():
                for term in terms:
                    yield kind, language, term


class BodyThreshold(_Strict):
    up_to_chars: int = Field(gt=0)
    min_score: float = Field(gt=0)


class ScoringRules(_Strict):
    title_weight: float = Field(default=3.0, gt=0)
    name_weight: float = Field(default=1.0, gt=0)
    adjective_weight: float = Field(default=0.5, gt=0)
    enumeration_weight: float = Field(default=0.25, ge=0)
    enumeration_max_words: int = Field(default=3, ge=1)
    body_thresholds: list[BodyThreshold] = Field(min_length=1)
    chars_per_extra_point: int = Field(default=3000, gt=0)

    @model_validator(mode="after")
    def _bands_ascend(self) -> ScoringRules:
        errors = []
        for index in range(1, len(self.body_thresholds)):
            before, band = self.body_thresholds[index - 1], self.body_thresholds[index]
            if band.up_to_chars <= before.up_to_chars:
                msg = "bands must be in ascending order of up_to_chars"
                errors.append(_error("bad_band", msg, ("body_thresholds", index), band.up_to_chars))
            elif band.min_score < before.min_score:
                msg = "min_score must not fall as bodies get longer"
                errors.append(_error("bad_band", msg, ("body_thresholds", index), band.min_score))
        if errors:
            raise ValidationError.from_exception_data("ScoringRules", errors)
        return self

    def threshold(self, body_chars: int) -> float:
        """Minimum score for a body of this many characters (see topics.yaml, `scoring`)."""
        for band in self.body_thresholds:
            if body_chars <= band.up_to_chars:
                return band.min_score
        last = self.body_thresholds[-1]
        extra = (body_chars - last.up_to_chars) // self.chars_per_extra_point
        return last.min_score + extra


class TaxonomyFile(_Strict):
    version: str = Field(min_length=1)
    scoring: ScoringRules
    topics: dict[TopicId, TopicSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _implies_known_topics_without_cycles(self) -> TaxonomyFile:
        errors = []
        for topic, spec in self.topics.items():
            for index, implied in enumerate(spec.implies):
                loc = ("topics", topic, "implies", index)
                if implied not in self.topics:
                    msg = f"implies unknown topic '{implied}'"
                    errors.append(_error("unknown_topic", msg, loc, implied))
                elif topic in _closure(self.topics, implied):
                    msg = f"implies '{implied}', which implies '{topic}' back (a cycle)"
                    errors.append(_error("implies_cycle", msg, loc, implied))
        if errors:
            raise ValidationError.from_exception_data("TaxonomyFile", errors)
        return self


def _error(kind: str, message: str, loc: tuple[str | int, ...], value: object) -> InitErrorDetails:
    # Braces in a message would be read as format fields by pydantic-core.
    text = message.replace("{", "(").replace("}", ")")
    return InitErrorDetails(type=PydanticCustomError(kind, text), loc=loc, input=value)


def _closure(topics: dict[str, TopicSpec], start: str) -> set[str]:
    """`start` and every topic it implies, directly or not (unknown ids are skipped)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        topic = todo.pop()
        if topic in seen or topic not in topics:
            continue
        seen.add(topic)
        todo.extend(topics[topic].implies)
    return seen


@dataclass(frozen=True)
class TermSpec:
    topic: str
    kind: TermKind
    language: str
    term: str


class Taxonomy:
    """A loaded taxonomy: version, scoring rules, topics, and their implication families."""

    def __init__(self, data: TaxonomyFile, source: Path | None = None) -> None:
        self.version = data.version
        self.scoring = data.scoring
        self.topics: dict[str, TopicSpec] = dict(data.topics)
        self.source = source
        self._implied = {topic: frozenset(_closure(self.topics, topic)) for topic in self.topics}

    @property
    def topic_ids(self) -> list[str]:
        return list(self.topics)

    def implied(self, topic: str) -> frozenset[str]:
        """The topic and every topic it implies (idlib → {idlib, syria})."""
        return self._implied[topic]

    def implying(self, topic: str) -> frozenset[str]:
        """The topic and every topic that implies it (syria → {syria, idlib})."""
        return frozenset(other for other, closure in self._implied.items() if topic in closure)

    def family(self, topic: str) -> frozenset[str]:
        return self.implied(topic) | self.implying(topic)

    def terms(self) -> Iterator[TermSpec]:
        for topic, spec in self.topics.items():
            for kind, language, term in spec.terms():
                yield TermSpec(topic, kind, language, term)

    def languages(self, topic: str) -> set[str]:
        """Languages in which the topic has names."""
        return set(self.topics[topic].names)


def parse_taxonomy(text: str, path: Path) -> Taxonomy:
    """Validate taxonomy YAML text; raise ingest.common.yaml_config.ConfigError naming path:line."""
    return Taxonomy(parse_yaml_model(text, TaxonomyFile, path), source=path)


def load_taxonomy(path: Path) -> Taxonomy:
    """Load and validate `topics.yaml`; raise ingest.common.yaml_config.ConfigError naming
    path:line."""
    return Taxonomy(load_yaml_model(path, TaxonomyFile), source=path)
