"""Tag an article with the taxonomy's topics, and say why.

An analyst who sees "iran" on a story about a Paris bakery must be able to read what fired, where
and how much it weighed; so every tag carries its evidence, a score and the threshold it passed.

How (config/topics.yaml documents the numbers, enrich/tagging/topic_model.py the decision):

1. Title and body are normalised (enrich/tagging/text_normalize.py, whitespace runs squeezed) and
   searched with one Aho-Corasick automaton over every term of every topic
   (enrich/tagging/term_matcher.py). The body loses a leading copy of the title, so a title is not
   counted twice.
2. A term found inside one of its topic's negative phrases ("Syrian hamster", "Iranian-born") is
   dropped; where terms of one topic overlap, the longest wins ("Islamic Republic of Iran" is one
   mention, not two).
3. Each mention earns points: kind weight (name 1, domestic term 1 in its own language, adjective
   0.5, context word 1 but only when the item also has another kind of term of the topic's
   family) × 3 in the title or 1 in the body × 0.25 when it is one short item of a list whose
   other items are not of its family ("Russia, Iran, Turkiye and the US"; but "Idlib, Hama and
   Aleppo" is a round-up of Syrian fronts and counts in full). A dateline ("TEHRAN – ...")
   earns points only when no topic outside the family has evidence: it says where the reporter
   files from, not what the story is about. A topic's mentions include those of the topics that
   imply it (an Idlib town is evidence of Syria).
4. Where the points sit (title, lead, body; how many sentences; in lists; in a dateline), set
   against the gazetteer's actors and places of the topic's country and of other countries,
   become the features of enrich/tagging/tag_features.py; the logistic model of
   enrich/tagging/topic_model.py
   (weights in config/topic_model.yaml, refitted by `newswatch eval tagging --refit`) turns them
   into a probability, and the topic is tagged when it reaches the model's threshold.
5. Tagged topics add the topics they imply (idlib → syria).

Each topic with evidence keeps it in the document: the probability (`score`) and `threshold`,
the `points`, the `features`, the terms that counted (`hits`) and the `negatives` that refused
one.

Matching does not depend on the article's language (publishers mix scripts and quote foreign
names, and language detection is unreliable on short titles), with one exception: "domestic"
terms name a country's institutions without the country ("مجلس", "سپاه", "بانک مرکزی" in
Persian) and count, as names, only in items written in the language they are listed under,
because a country's own press does not name the country; followed directly by a "foreign"
word ("مجلس عراق", Iraq's parliament) they are someone else's and do not count.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from enrich.entities.gazetteer import Gazetteer, GazetteerResult
from enrich.tagging.mention_context import dateline_head, enumeration_span, sentence_starts
from enrich.tagging.tag_features import CountryWeights, MentionFacts, topic_features
from enrich.tagging.taxonomy import ScoringRules, Taxonomy, TermKind
from enrich.tagging.term_matcher import TermHit, TermMatcher
from enrich.tagging.text_normalize import fold_for_matching, is_arabic_script
from enrich.tagging.topic_model import TopicModel

__all__ = ["Mention", "TagResult", "Tagger"]

Where = Literal["title", "body"]
# Texts in which a term listed under a language takes that language's suffixes without an
# apostrophe: the detector often reads a short Turkish title as Azerbaijani ("İranla ticaret"),
# whose case suffixes are the same; None is a text too short to tell.
_SUFFIX_LANGUAGES: dict[str, tuple[str | None, ...]] = {"tr": ("tr", "az", None)}
# Between two listed names: a comma and/or the conjunction و glued to the next name.
_JOINED = re.compile(r"\s*(?:[،,]\s*)?و?")
_WORD = re.compile(r"\w")


@dataclass(frozen=True)
class _TermKey:
    topic: str
    kind: TermKind
    language: str


@dataclass(frozen=True)
class Mention:
    """One surviving occurrence of a term, with what its position says about it."""

    topic: str
    kind: TermKind
    term: str
    where: Where
    language: str  # the language the term is listed under
    start: int
    end: int
    enumerated: bool = False
    dateline: bool = False


@dataclass(frozen=True)
class TagResult:
    topics: list[str]
    matches: list[str]
    evidence: list[dict[str, Any]]
    taxonomy_version: str
    mentions: list[Mention] = field(default_factory=list, repr=False)
    # topic → its features, for every topic with points (what the model saw; the eval refits on it)
    features: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class _Refusal:
    topic: str
    term: str
    where: Where


@dataclass(frozen=True)
class _Weigher:
    """What one mention is worth for one topic, given the rest of the item."""

    rules: ScoringRules
    context_counts: bool  # the topic's family has a name, adjective or domestic term
    dateline_counts: bool  # no topic outside the family has evidence in the item

    def __call__(self, mention: Mention) -> float:
        rules = self.rules
        if mention.kind is TermKind.ADJECTIVE:
            weight = rules.adjective_weight
        elif mention.kind is TermKind.CONTEXT and not self.context_counts:
            weight = 0.0
        else:
            weight = rules.name_weight
        if mention.where == "title":
            weight *= rules.title_weight
        if mention.enumerated:
            weight *= rules.enumeration_weight
        if mention.dateline and not self.dateline_counts:
            weight = 0.0
        return weight


@dataclass
class _Segment:
    where: Where
    text: str
    mentions: list[Mention] = field(default_factory=list)
    negatives: list[_Refusal] = field(default_factory=list)


_fold = fold_for_matching


def _without_prefix(text: str, prefix: str) -> str:
    if prefix and text.startswith(prefix):
        return text[len(prefix) :].lstrip()
    return text


def _facts(mention: Mention, points: float) -> MentionFacts:
    return MentionFacts(
        term=mention.term,
        in_title=mention.where == "title",
        start=mention.start,
        points=points,
        adjective=mention.kind is TermKind.ADJECTIVE,
        listed=mention.enumerated,
        dateline=mention.dateline,
    )


def _longest_first(hits: Iterable[TermHit[_TermKey]]) -> list[TermHit[_TermKey]]:
    """Per topic, keep the longest of overlapping hits (names before adjectives on a tie)."""
    rank = {TermKind.NAME: 0, TermKind.DOMESTIC: 1, TermKind.ADJECTIVE: 2, TermKind.CONTEXT: 3}
    # (negatives and foreign words never reach here)
    ordered = sorted(hits, key=lambda h: (h.start, -(h.end - h.start), rank[h.key.kind]))
    kept: list[TermHit[_TermKey]] = []
    for hit in ordered:
        if any(
            k.key.topic == hit.key.topic and hit.start < k.end and k.start < hit.end for k in kept
        ):
            continue
        kept.append(hit)
    return kept


class Tagger:
    """Holds the compiled automaton for one taxonomy and its model; `tag` is pure and
    thread-safe. With a gazetteer, the actors and places it finds become evidence too (the
    enricher passes the result it computed anyway; without one, `tag` looks them up)."""

    def __init__(
        self, taxonomy: Taxonomy, model: TopicModel, gazetteer: Gazetteer | None = None
    ) -> None:
        self.taxonomy = taxonomy
        self.model = model
        self.gazetteer = gazetteer
        # Stored in every document: a new taxonomy or a refitted model both mean "reprocess".
        self.version = f"{taxonomy.version}+{model.version}"
        self._rules = taxonomy.scoring
        self._matcher: TermMatcher[_TermKey] = TermMatcher(
            (
                (_TermKey(spec.topic, spec.kind, spec.language), spec.term)
                for spec in taxonomy.terms()
            ),
            languages=lambda key: key.language,
        )
        # Arabic glues its "and" to the next word, so "روسيا وتركيا وإيران" has no separator
        # that punctuation could show: such lists are read as runs of country names instead.
        self._arabic_countries: TermMatcher[str] | None = None
        if gazetteer is not None:
            names = [(c, n) for c, n in gazetteer.country_names() if is_arabic_script(n)]
            self._arabic_countries = TermMatcher(names) if names else None
        self._family = {topic: taxonomy.family(topic) for topic in taxonomy.topic_ids}
        self._topic_ids = frozenset(taxonomy.topic_ids)
        self._implying = {topic: taxonomy.implying(topic) for topic in taxonomy.topic_ids}
        self._implied = {
            topic: taxonomy.implied(topic) - {topic} for topic in taxonomy.topic_ids
        }

    def tag(
        self,
        title: str,
        text: str,
        language: str | None = None,
        places: GazetteerResult | None = None,
    ) -> TagResult:
        norm_title = _fold(title)
        body = _without_prefix(_fold(text), norm_title)
        head = dateline_head(_without_prefix(text.strip(), title.strip()))
        segments = [
            self._scan("title", norm_title, language, dateline_chars=0),
            self._scan("body", body, language, dateline_chars=len(_fold(head)) if head else 0),
        ]
        mentions = [m for segment in segments for m in segment.mentions]
        negatives = [n for segment in segments for n in segment.negatives]
        if not mentions and not negatives:
            return TagResult([], [], [], self.version)
        threshold = self._rules.threshold(len(body))
        if places is None and self.gazetteer is not None and mentions:
            places = self.gazetteer.find(title, text)
        starts = sentence_starts(body) if mentions else [0]

        evidence: list[dict[str, Any]] = []
        features_by_topic: dict[str, dict[str, float]] = {}
        for topic in self.taxonomy.topic_ids:
            countries = self._countries(topic, places)
            weigh = self._weigher(topic, mentions, other_country=countries.other > 0)
            own = [(m, weigh(m)) for m in mentions if m.topic in self._implying[topic]]
            refused = [n for n in negatives if n.topic in self._implying[topic]]
            if not own and not refused:
                continue
            points = sum(w for _, w in own)
            features = topic_features(
                [_facts(m, w) for m, w in own],
                body_chars=len(body),
                sentence_starts=starts,
                threshold=threshold,
                negative=bool(refused),
                implied_points=sum(weigh(m) for m in mentions if m.topic in self._implied[topic]),
                countries=countries,
            )
            probability = 0.0
            if points > 0:
                features_by_topic[topic] = features
                probability = self.model.probability(topic, features)
            evidence.append(
                self._evidence(topic, probability, self.model.threshold, points, features, own,
                               refused)
            )
        tagged = set(self.decide(features_by_topic, self.model))
        for entry in evidence:
            # A topic tagged only through implication (syria from idlib) says so.
            entry["tagged"] = entry["topic"] in tagged

        return TagResult(
            topics=sorted(tagged),
            matches=sorted({m.term for m in mentions}),
            evidence=evidence,
            taxonomy_version=self.version,
            mentions=mentions,
            features=features_by_topic,
        )

    def decide(self, features: dict[str, dict[str, float]], model: TopicModel) -> list[str]:
        """The topics tagged, given each topic's features (topics with points only) and a
        model: those whose probability reaches the threshold, with the topics they imply.
        The evaluation calls it with each fold's model on the held-out items' features."""
        tagged: set[str] = set()
        for topic, values in features.items():
            if model.probability(topic, values) >= model.threshold:
                tagged |= self.taxonomy.implied(topic)
        return sorted(tagged)

    def _countries(self, topic: str, places: GazetteerResult | None) -> CountryWeights:
        """The gazetteer's findings as seen from one topic (0s when the topic is no place).

        "Other" countries are those the taxonomy does not follow: two followed countries in
        one story (Iran's forces in Syria) are each judged on their own evidence, while a
        story about North Korea or Morocco that names Iran or Quneitra is someone else's."""
        gazetteer = self.gazetteer
        if places is None or gazetteer is None or not gazetteer.country_chain(topic):
            return CountryWeights()
        own = 0.0
        others: Counter[str] = Counter()
        countries: Counter[str] = Counter()
        for entry_id, weight in places.weights.items():
            chain = gazetteer.country_chain(entry_id)
            if not chain:
                continue
            countries[chain[-1]] += weight
            if topic in chain:
                # The country's actors and places, not its own name (the terms count that).
                own += weight if entry_id != topic else 0.0
            elif chain[-1] not in self._topic_ids:
                others[chain[-1]] += weight
        main = 0
        ranked = countries.most_common(2)
        clear_lead = len(ranked) == 1 or (len(ranked) == 2 and ranked[0][1] > ranked[1][1])
        # The main place counts only when its country clearly leads: "Sandstorms hit Syria,
        # Iraq, Lebanon" names three countries alike and is about none of them.
        if places.main_place is not None and clear_lead:
            chain = gazetteer.country_chain(places.main_place)
            if topic in chain:
                main = 1
            elif chain and chain[-1] not in self._topic_ids:
                main = -1
        return CountryWeights(own=own, other=max(others.values(), default=0.0), main_place=main)

    def _scan(self, where: Where, text: str, language: str | None, dateline_chars: int) -> _Segment:
        segment = _Segment(where, text)
        if not text:
            return segment
        hits = [
            hit
            for hit in self._matcher.find_normalized(text)
            # Domestic terms exist only in the country's own language, and so do suffixes
            # glued without an apostrophe ("Suriyeyle" is Turkish; "Irani" in English is not).
            if (hit.key.kind is not TermKind.DOMESTIC or hit.key.language == language)
            and (not hit.suffixed or language in _SUFFIX_LANGUAGES.get(hit.key.language, ()))
        ]
        refusals = [h for h in hits if h.key.kind is TermKind.NEGATIVE]
        foreign = [h for h in hits if h.key.kind is TermKind.FOREIGN]
        segment.negatives = [_Refusal(r.key.topic, r.term, where) for r in refusals]
        candidates = []
        for hit in hits:
            if hit.key.kind in (TermKind.NEGATIVE, TermKind.FOREIGN):
                continue
            if any(
                r.key.topic == hit.key.topic and r.start <= hit.start and hit.end <= r.end
                for r in refusals
            ):
                continue
            owner = self._foreign_owner(text, hit, foreign)
            if owner is not None:
                # "مجلس عراق": Iraq's parliament, not the Majlis.
                segment.negatives.append(_Refusal(hit.key.topic, f"{hit.term} {owner}", where))
                continue
            candidates.append(hit)
        kept = _longest_first(candidates)
        countries = self._country_runs(text, kept)
        for hit in kept:
            segment.mentions.append(
                Mention(
                    topic=hit.key.topic,
                    kind=hit.key.kind,
                    term=hit.term,
                    language=hit.key.language,
                    where=where,
                    start=hit.start,
                    end=hit.end,
                    enumerated=self._passing_list_item(text, hit, kept)
                    or (hit.start, hit.end) in countries,
                    dateline=hit.end <= dateline_chars and not _WORD.search(text, 0, hit.start),
                )
            )
        return segment

    @staticmethod
    def _foreign_owner(
        text: str, hit: TermHit[_TermKey], foreign: list[TermHit[_TermKey]]
    ) -> str | None:
        """The foreign word right after a domestic term, which makes it another country's."""
        if hit.key.kind is not TermKind.DOMESTIC:
            return None
        for word in foreign:
            between = text[hit.end : word.start]
            if word.key.topic == hit.key.topic and between and not between.strip(" "):
                return word.term
        return None

    def _country_runs(self, text: str, hits: list[TermHit[_TermKey]]) -> set[tuple[int, int]]:
        """Spans of the topic hits that stand in a run of three or more Arabic-script country
        names joined by و or commas ("الدول الضامنة روسيا وتركيا وإيران"), where the others
        are not of the hit's topic family: one of several listed countries is a passing
        mention. Looked for only when an Arabic-script hit has "و" glued before or after."""
        matcher = self._arabic_countries
        if matcher is None or not any(
            h.key.kind is not TermKind.CONTEXT and is_arabic_script(h.term) for h in hits
        ):
            return set()
        countries = sorted(
            {(c.start, c.end, c.key) for c in matcher.find_normalized(text)}
            | {(h.start, h.end, h.key.topic) for h in hits if is_arabic_script(h.term)}
        )
        runs: list[list[tuple[int, int, str]]] = []
        for country in countries:
            if runs and _JOINED.fullmatch(text, runs[-1][-1][1], country[0]):
                runs[-1].append(country)
            elif not runs or country[0] >= runs[-1][-1][1]:
                runs.append([country])
        listed: set[tuple[int, int]] = set()
        for run in runs:
            if len({key for _, _, key in run}) < 3:
                continue
            for hit in hits:
                if any(start == hit.start for start, _, _ in run):
                    family = self._family[hit.key.topic]
                    others = {key for _, _, key in run if key != hit.key.topic}
                    if not others & family:
                        listed.add((hit.start, hit.end))
        return listed

    def _passing_list_item(
        self, text: str, hit: TermHit[_TermKey], hits: list[TermHit[_TermKey]]
    ) -> bool:
        """One of several listed countries is a passing mention; a list of the topic's own
        places ("strikes on Idlib, Hama and Aleppo") is a round-up and counts in full."""
        span = enumeration_span(text, hit.start, hit.end, self._rules.enumeration_max_words)
        if span is None:
            return False
        family = self._family[hit.key.topic]
        return not any(
            other is not hit and other.key.topic in family and span[0] <= other.start < span[1]
            for other in hits
        )

    def _weigher(self, topic: str, mentions: list[Mention], *, other_country: bool) -> _Weigher:
        """`other_country`: the gazetteer found a country outside the topic's family, which
        like another topic's evidence takes the weight off a dateline."""
        family = self._family[topic]
        anchored = any(m.topic in family and m.kind is not TermKind.CONTEXT for m in mentions)
        foreign = other_country or any(
            m.topic not in family and not m.dateline and m.kind is not TermKind.CONTEXT
            for m in mentions
        )
        return _Weigher(self._rules, context_counts=anchored, dateline_counts=not foreign)

    @staticmethod
    def _evidence(
        topic: str,
        probability: float,
        threshold: float,
        total: float,
        features: dict[str, float],
        weighed: list[tuple[Mention, float]],
        refused: list[_Refusal],
    ) -> dict[str, Any]:
        counts: Counter[tuple[str, str, str]] = Counter()
        points: dict[tuple[str, str, str], float] = {}
        for mention, weight in weighed:
            key = (mention.term, mention.where, mention.kind.value)
            counts[key] += 1
            points[key] = points.get(key, 0.0) + weight
        hits = [
            {
                "term": term,
                "where": where,
                "count": n,
                "kind": kind,
                "points": round(points[(term, where, kind)], 3),
            }
            for (term, where, kind), n in counts.items()
        ]
        negatives = Counter((r.term, r.where) for r in refused)
        return {
            "topic": topic,
            "score": round(probability, 3),
            "threshold": threshold,
            "tagged": False,  # set once implications are known
            "points": round(total, 3),
            "features": {name: round(value, 3) for name, value in features.items()},
            "hits": hits,
            "negatives": [
                {"term": term, "where": where, "count": n} for (term, where), n in negatives.items()
            ],
        }
