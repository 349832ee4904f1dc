"""The topic decision model: its file, its arithmetic and its fit."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from enrich.tagging.tag_features import FEATURE_NAMES
from enrich.tagging.topic_model import (
    TopicModel,
    fit_topic_model,
    fitted_on_now,
    load_topic_model,
    write_topic_model,
)
from ingest.common.yaml_config import ConfigError

REPO = Path(__file__).resolve().parent.parent


def features(**values: float) -> dict[str, float]:
    return {name: values.get(name, 0.0) for name in FEATURE_NAMES}


def test_the_shipped_model_names_every_feature_and_is_fitted() -> None:
    model = load_topic_model(REPO / "config" / "topic_model.yaml")
    assert set(model.weights) == set(FEATURE_NAMES)
    assert model.fitted_on is not None and model.fitted_on.items > 0
    assert 0 < model.threshold < 1


def test_probability_is_the_logistic_of_the_weighted_sum() -> None:
    model = TopicModel(
        version="t", bias=-1.0, topic_bias={"iran": 0.5},
        weights={name: (2.0 if name == "title" else 0.0) for name in FEATURE_NAMES},
    )
    title = features(title=1.0)
    assert model.probability("iran", title) == pytest.approx(1 / (1 + math.exp(-1.5)))
    # A topic without a bias of its own uses the common one.
    assert model.probability("lebanon", title) == pytest.approx(1 / (1 + math.exp(-1)))


def test_a_model_file_without_a_feature_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "topic_model.yaml"
    weights = "\n".join(f"  {name}: 0.1" for name in FEATURE_NAMES if name != "title")
    path.write_text(f"version: x\nbias: 0\nweights:\n{weights}\n  titel: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"topic_model\.yaml:\d+.*missing \['title'\].*titel"):
        load_topic_model(path)


def test_fit_separates_what_the_features_separate_and_round_trips(tmp_path: Path) -> None:
    rows = []
    for n in range(30):
        rows.append(("syria", features(title=1.0, margin=1.0 + n / 30), True))
        rows.append(("syria", features(margin=-1.0 - n / 30, listed=1.0), False))
        rows.append(("iran", features(margin=0.5 + n / 30), True))
        rows.append(("iran", features(margin=-0.5 - n / 30, other_share=0.8), False))
    model = fit_topic_model(rows, l2=1.0)
    assert model.weights["margin"] > 0 and model.weights["title"] > 0
    assert model.weights["listed"] < 0 and model.weights["other_share"] < 0
    assert all(
        (model.probability(topic, values) >= model.threshold) == label
        for topic, values, label in rows
    )
    # The version follows the numbers: the same fit, the same version; another, another.
    assert fit_topic_model(rows, l2=1.0).version == model.version
    assert fit_topic_model(rows, l2=10.0).version != model.version

    path = tmp_path / "topic_model.yaml"
    stamped = model.model_copy(
        update={"fitted_on": fitted_on_now(60, len(rows), Path("items.jsonl"), "2", 1.0)}
    )
    write_topic_model(stamped, path)
    assert load_topic_model(path) == stamped
    assert path.read_text(encoding="utf-8").startswith("# The topic decision's weights")
