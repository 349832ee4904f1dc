"""The evidence features of "this item substantially concerns topic T", measured per topic.

A term found in a text is not yet a topic: the labelling rules (../shared/corpora/tagging/README.md)
separate a story about Syria from one that names Syria in passing (one country in a list, a
background clause, a dateline, a ranking where Damascus is last). What separates them is where
and how the terms occur, which this module turns into a few numbers, the same in every
language, for the small model in enrich/tagging/topic_model.py to weigh:

* `title`: mentions in the title (a title names what the story is about), a listed one ¼,
  capped at 2;
* `lead`, `body`: log(1 + points) in the first `LEAD_CHARS` of the body, in the whole body;
* `margin`: log(points / the length threshold of topics.yaml `scoring`);
* `rule`: 1 when the points reach that threshold (the hand-made rule before the model);
* `sentences`: log(1 + body sentences that carry a mention); `spread`: their share of the
  body's sentences;
* `terms`: log(1 + distinct terms that counted);
* `listed`: share of the mentions that are one short item of a list ("Russia, Iran, Turkiye
  and the US");
* `adjective`: share of the points that come from adjectives ("Iranian", "سوري");
* `dateline`: 1 when the only evidence is a dateline ("TEHRAN –");
* `negative`: 1 when a negative phrase of the topic was found ("Iranian-born");
* `first`: where the first body mention stands, 0 (the start) to 1 (none, or the very end);
* `places_own`: log(1 + gazetteer weight of the actors and places inside the topic's country);
* `other_share`: the share of the evidence held by the most-named country the taxonomy does
  not follow: its gazetteer weight / (its weight + the topic's points and places);
* `main_place`: 1 when the gazetteer's main place is in the topic's country, -1 when it is in
  a country the taxonomy does not follow, else 0;
* `implied`: log(1 + points of the topics this one implies): Idlib inside a story on Syria;
* `length`: log(1 + body characters) / 8.

"Points" are the taxonomy's own weights (topics.yaml `scoring`): a name 1, an adjective 0.5, a
context word 1 once anchored, ×3 in the title, ×0.25 as one item of a list, a dateline 0 when
another country has evidence. Gazetteer features apply to topics whose id is a place of the
gazetteer (syria, idlib, iran); for others they are 0.

What is not a feature, and why: absolute counts that grow with the article's length (how many
other countries' names, how many paragraphs) — the development set's texts are cut after about
1,400 characters while the worker sees whole articles, so a weight fitted on such a count would
not carry over; the features above are shares, capped, or measured against the length threshold.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "FEATURE_NAMES",
    "LEAD_CHARS",
    "CountryWeights",
    "MentionFacts",
    "topic_features",
]

LEAD_CHARS = 300

FEATURE_NAMES: tuple[str, ...] = (
    "title",
    "lead",
    "body",
    "margin",
    "rule",
    "sentences",
    "spread",
    "terms",
    "listed",
    "adjective",
    "dateline",
    "negative",
    "first",
    "places_own",
    "other_share",
    "main_place",
    "implied",
    "length",
)


@dataclass(frozen=True)
class MentionFacts:
    """One weighed mention as the features see it (built by the tagger from its Mention)."""

    term: str
    in_title: bool
    start: int  # offset into the folded body (or title)
    points: float
    adjective: bool
    listed: bool
    dateline: bool


@dataclass(frozen=True)
class CountryWeights:
    """What the gazetteer found, folded per country for one topic."""

    own: float = 0.0  # weight of the topic's own actors and places
    other: float = 0.0  # weight of the most-named other country
    main_place: int = 0  # 1 in the topic's country, -1 elsewhere, 0 unknown


def topic_features(
    mentions: Sequence[MentionFacts],
    *,
    body_chars: int,
    sentence_starts: Sequence[int],
    threshold: float,
    negative: bool,
    implied_points: float,
    countries: CountryWeights,
) -> dict[str, float]:
    """The features of one topic in one item (see the module docstring)."""
    points = sum(m.points for m in mentions)
    # In a title an adjective says as much as a name ("Iranian Stalinism and Syrian demography").
    title = sum(0.25 if m.listed else 1.0 for m in mentions if m.in_title and m.points > 0)
    body = [m for m in mentions if not m.in_title and m.points > 0]
    body_points = sum(m.points for m in body)
    lead = sum(m.points for m in body if m.start < LEAD_CHARS)
    sentences = {bisect_right(sentence_starts, m.start) for m in body}
    total_sentences = max(1, len(sentence_starts))
    counted = [m for m in mentions if m.points > 0]
    first = min((m.start for m in body), default=body_chars) / max(1, body_chars)
    own = countries.own + points

    return {
        "title": min(title, 2.0),
        "lead": math.log1p(lead),
        "body": math.log1p(body_points),
        "margin": math.log((points + 0.1) / threshold),
        "rule": float(points >= threshold - 1e-9),
        "sentences": math.log1p(len(sentences)),
        "spread": len(sentences) / total_sentences,
        "terms": math.log1p(len({m.term for m in counted})),
        "listed": sum(m.listed for m in mentions) / len(mentions) if mentions else 0.0,
        "adjective": sum(m.points for m in mentions if m.adjective) / points if points else 0.0,
        "dateline": float(bool(mentions) and all(m.dateline for m in mentions)),
        "negative": float(negative),
        "first": min(first, 1.0),
        "places_own": math.log1p(countries.own),
        "other_share": countries.other / (countries.other + own) if countries.other else 0.0,
        "main_place": float(countries.main_place),
        "implied": math.log1p(implied_points),
        "length": math.log1p(body_chars) / 8,
    }
