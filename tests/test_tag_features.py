"""Evidence features of one topic in one item (enrich/tagging/tag_features.py)."""

from __future__ import annotations

import math

import pytest

from enrich.tagging.tag_features import FEATURE_NAMES, CountryWeights, MentionFacts, topic_features


def mention(start: int, points: float = 1.0, *, title: bool = False, listed: bool = False,
            adjective: bool = False, dateline: bool = False, term: str = "Iran") -> MentionFacts:
    return MentionFacts(term=term, in_title=title, start=start, points=points,
                        adjective=adjective, listed=listed, dateline=dateline)


def compute(mentions: list[MentionFacts], **kwargs: object) -> dict[str, float]:
    defaults: dict[str, object] = {
        "body_chars": 1000, "sentence_starts": [0, 100, 200, 300, 400], "threshold": 2.0,
        "negative": False, "implied_points": 0.0, "countries": CountryWeights(),
    }
    defaults.update(kwargs)
    return topic_features(mentions, **defaults)  # type: ignore[arg-type]


def test_every_feature_is_computed() -> None:
    assert set(compute([mention(10)])) == set(FEATURE_NAMES)


def test_where_the_mentions_sit() -> None:
    values = compute([mention(0, 3.0, title=True), mention(50), mention(250), mention(900)])
    assert values["title"] == 1.0
    assert values["lead"] == pytest.approx(math.log1p(2.0))  # 50 and 250 are within 300
    assert values["body"] == pytest.approx(math.log1p(3.0))
    assert values["sentences"] == pytest.approx(math.log1p(3))  # sentences 1, 3 and 5
    assert values["spread"] == pytest.approx(3 / 5)
    assert values["first"] == pytest.approx(0.05)
    assert values["margin"] == pytest.approx(math.log(6.1 / 2.0)) and values["rule"] == 1.0


def test_listed_adjectival_and_dateline_mentions() -> None:
    listed = compute(
        [mention(10, 0.25, listed=True, title=True), mention(500, 0.5, adjective=True)]
    )
    assert listed["title"] == 0.25 and listed["listed"] == 0.5
    assert listed["adjective"] == pytest.approx(0.5 / 0.75) and listed["rule"] == 0.0
    dateline = compute([mention(0, 1.0, dateline=True)])
    assert dateline["dateline"] == 1.0


def test_countries_from_the_gazetteer() -> None:
    values = compute([mention(10)], countries=CountryWeights(own=2.0, other=9.0, main_place=-1))
    assert values["places_own"] == pytest.approx(math.log1p(2.0))
    assert values["other_share"] == pytest.approx(9.0 / (9.0 + 2.0 + 1.0))
    assert values["main_place"] == -1.0
    assert compute([mention(10)])["other_share"] == 0.0
