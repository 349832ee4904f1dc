"""Tag an article with the taxonomy's topics, and say why.

An analyst who sees "iran" on a story about a Paris bakery must be able to read what fired, where
and how much it weighed; so every tag carries its evidence, a score and the threshold it passed.

The rule (the same text is in config/topics.yaml, where its numbers live):

1. Title and body are normalised (enrich/text_normalize.py, whitespace runs squeezed) and
   searched with one Aho-Corasick automaton over every term of every topic
   (enrich/term_matcher.py). The body loses a leading copy of the title, so a title is not
   counted twice.
2. A term found inside one of its topic's negative phrases ("Syrian hamster", "Iranian-born") is
   dropped; where terms of one topic overlap, the longest wins ("Islamic Republic of Iran" is one
   mention, not two).
3. Each mention scores: kind weight (name 1, domestic term 1 in its own language, adjective 0.5,
   context word 1 but only when the item also has another kind of term of the topic's family)
   × 3 in the title or 1 in the body × 0.25 when it is one short item of a list whose other
   items are not of its family ("Russia, Iran, Turkiye and the US"; but "Idlib, Hama and
   Aleppo" is a round-up of Syrian fronts and counts in full).
   A dateline ("TEHRAN – ...") scores only when no topic outside the family has evidence: it
   says where the reporter files from, not what the story is about.
4. A topic's score adds the mentions of the topics that imply it (an Idlib town is evidence of
   Syria). It is tagged when the score reaches the threshold for the body's length: 1 up to 300
   characters (a title and a lead), 2 up to 1,000, 3 up to 3,000, then one more point per 3,000.
   One passing body mention in a long article never tags; one title mention always does.
5. Tagged topics add the topics they imply (idlib → syria).

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

from enrich.mention_context import dateline_head, enumeration_span
from enrich.taxonomy import ScoringRules, Taxonomy, TermKind
from enrich.term_matcher import TermHit, TermMatcher
from enrich.text_normalize import fold_for_matching

__all__ = ["Mention", "TagResult", "Tagger"]

Where = Literal["title", "body"]
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
    """Holds the compiled automaton for one taxonomy; `tag` is pure and thread-safe."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self._rules = taxonomy.scoring
        self._matcher: TermMatcher[_TermKey] = TermMatcher(
            (_TermKey(spec.topic, spec.kind, spec.language), spec.term) for spec in taxonomy.terms()
        )
        self._family = {topic: taxonomy.family(topic) for topic in taxonomy.topic_ids}
        self._implying = {topic: taxonomy.implying(topic) for topic in taxonomy.topic_ids}

    def tag(self, title: str, text: str, language: str | None = None) -> TagResult:
        norm_title = _fold(title)
        body = _without_prefix(_fold(text), norm_title)
        head = dateline_head(_without_prefix(text.strip(), title.strip()))
        segments = [
            self._scan("title", norm_title, language, dateline_chars=0),
            self._scan("body", body, language, dateline_chars=len(_fold(head)) if head else 0),
        ]
        mentions = [m for segment in segments for m in segment.mentions]
        negatives = [n for segment in segments for n in segment.negatives]
        threshold = self._rules.threshold(len(body))

        tagged: set[str] = set()
        evidence: list[dict[str, Any]] = []
        for topic in self.taxonomy.topic_ids:
            weigh = self._weigher(topic, mentions)
            own = [(m, weigh(m)) for m in mentions if m.topic in self._implying[topic]]
            refused = [n for n in negatives if n.topic in self._implying[topic]]
            if not own and not refused:
                continue
            score = sum(w for _, w in own)
            is_tagged = score > 0 and score >= threshold - 1e-9
            if is_tagged:
                tagged |= self.taxonomy.implied(topic)
            evidence.append(self._evidence(topic, score, threshold, is_tagged, own, refused))
        for entry in evidence:
            # A topic tagged only through implication (syria from idlib) says so.
            entry["tagged"] = entry["topic"] in tagged

        return TagResult(
            topics=sorted(tagged),
            matches=sorted({m.term for m in mentions}),
            evidence=evidence,
            taxonomy_version=self.taxonomy.version,
            mentions=mentions,
        )

    def _scan(self, where: Where, text: str, language: str | None, dateline_chars: int) -> _Segment:
        segment = _Segment(where, text)
        if not text:
            return segment
        hits = [
            hit
            for hit in self._matcher.find_normalized(text)
            # Domestic terms exist only in the country's own language.
            if hit.key.kind is not TermKind.DOMESTIC or hit.key.language == language
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
                    enumerated=self._passing_list_item(text, hit, kept),
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

    def _weigher(self, topic: str, mentions: list[Mention]) -> _Weigher:
        family = self._family[topic]
        anchored = any(m.topic in family and m.kind is not TermKind.CONTEXT for m in mentions)
        foreign = any(
            m.topic not in family and not m.dateline and m.kind is not TermKind.CONTEXT
            for m in mentions
        )
        return _Weigher(self._rules, context_counts=anchored, dateline_counts=not foreign)

    @staticmethod
    def _evidence(
        topic: str,
        score: float,
        threshold: float,
        tagged: bool,
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
            "score": round(score, 3),
            "threshold": threshold,
            "tagged": tagged,
            "hits": hits,
            "negatives": [
                {"term": term, "where": where, "count": n} for (term, where), n in negatives.items()
            ],
        }
