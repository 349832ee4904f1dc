"""The model that decides "substantially concerns": logistic regression over evidence features.

A list of hand-set exceptions grew with every misclassified item and scored perfectly on the
items it was written against, and worse on others. Instead the tagger measures a few features
of where and how a topic's terms occur (enrich/tagging/tag_features.py) and this module weighs them:

    p(topic) = 1 / (1 + exp(-(bias + topic_bias[topic] + Σ weight[f] × feature[f])))

and the topic is tagged when p ≥ `threshold`. The weights are one set shared by all topics (the
evidence of "about Syria" and "about Iran" looks alike, and Idlib has too few examples for
weights of its own) plus one bias per topic; a topic without a bias uses 0.

The numbers live in `config/topic_model.yaml`, next to the taxonomy, and are refitted from the
labelled development set with `newswatch eval tagging --refit` (L2-regularised, by Newton's
method); `newswatch eval tagging` scores them by cross-validation, never on the items they were
fitted to. The file's `version` changes with its numbers and goes into every document's
`taxonomy_version`, so `newswatch reprocess` redoes documents tagged by an older model.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from enrich.tagging.tag_features import FEATURE_NAMES
from ingest.common.yaml_config import load_yaml_model

__all__ = [
    "DEFAULT_L2",
    "FittedOn",
    "TopicModel",
    "fit_topic_model",
    "fitted_on_now",
    "load_topic_model",
    "write_topic_model",
]

# The L2 penalty on the shared weights. 18 features on ~200 (item, topic) rows overfit without
# it; cross-validated on the development set (folds by source), penalties 3 to 10 score alike
# and 0.3-1 or 20-30 worse, so the middle of that plateau is the default.
DEFAULT_L2 = 5.0


class FittedOn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    items: int = Field(ge=0)
    rows: int = Field(ge=0)
    set: str = ""
    taxonomy_version: str = ""
    l2: float = Field(ge=0)
    date: str = ""


class TopicModel(BaseModel):
    """Validated weights of the topic decision; `probability` is the whole model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    threshold: float = Field(default=0.5, gt=0, lt=1)
    bias: float
    topic_bias: dict[str, float] = Field(default_factory=dict)
    weights: dict[str, float]
    fitted_on: FittedOn | None = None

    @model_validator(mode="after")
    def _one_weight_per_feature(self) -> TopicModel:
        missing = [f for f in FEATURE_NAMES if f not in self.weights]
        unknown = [f for f in self.weights if f not in FEATURE_NAMES]
        if missing or unknown:
            raise ValueError(
                f"weights must name every feature once: missing {missing}, unknown {unknown} "
                f"(features: {', '.join(FEATURE_NAMES)})"
            )
        return self

    def logit(self, topic: str, features: Mapping[str, float]) -> float:
        z = self.bias + self.topic_bias.get(topic, 0.0)
        for name, weight in self.weights.items():
            z += weight * features[name]
        return z

    def probability(self, topic: str, features: Mapping[str, float]) -> float:
        z = self.logit(topic, features)
        if z < -30:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))


def load_topic_model(path: Path) -> TopicModel:
    """Load and validate `topic_model.yaml`; errors name path:line (ingest.common.yaml_config)."""
    return load_yaml_model(path, TopicModel)


def fit_topic_model(
    rows: Sequence[tuple[str, Mapping[str, float], bool]],
    *,
    l2: float = DEFAULT_L2,
    threshold: float = 0.5,
    fitted_on: FittedOn | None = None,
) -> TopicModel:
    """Fit the weights to (topic, features, label) rows by L2-regularised logistic regression.

    The shared weights are penalised, the biases are not (a topic's base rate is data, not
    noise). Newton's method on a few hundred rows converges in under ten steps.
    """
    topics = sorted({topic for topic, _, _ in rows})
    n_features = len(FEATURE_NAMES)
    x = np.array(
        [
            [features[name] for name in FEATURE_NAMES]
            + [1.0 if t == topic else 0.0 for t in topics]
            for topic, features, _ in rows
        ],
        dtype=float,
    ).reshape(len(rows), n_features + len(topics))
    y = np.array([1.0 if label else 0.0 for _, _, label in rows])
    design = np.hstack([x, np.ones((len(rows), 1))])
    penalty = np.r_[np.full(n_features, l2), np.full(len(topics), 1e-4), 1e-4]
    theta = np.zeros(design.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ theta, -30, 30)))
        gradient = design.T @ (p - y) + penalty * theta
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if float(np.abs(step).max()) < 1e-9:
            break
    # The per-topic columns and the common bias are collinear; report the common bias as the
    # mean and the topics' as deviations from it (the sums, which are what counts, are kept).
    topic_totals = theta[n_features : n_features + len(topics)] + theta[-1]
    bias = float(np.mean(topic_totals)) if topics else float(theta[-1])
    weights = {
        name: round(float(w), 4)
        for name, w in zip(FEATURE_NAMES, theta[:n_features], strict=True)
    }
    topic_bias = {
        t: round(float(total) - round(bias, 4), 4)
        for t, total in zip(topics, topic_totals, strict=True)
    }
    body = {"bias": round(bias, 4), "topic_bias": topic_bias, "weights": weights}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]
    return TopicModel(
        version=f"lr-{digest}",
        threshold=threshold,
        bias=round(bias, 4),
        topic_bias=topic_bias,
        weights=weights,
        fitted_on=fitted_on,
    )


_HEADER = """\
# The topic decision's weights: logistic regression over evidence features
# (enrich/tagging/topic_model.py,
# enrich/tagging/tag_features.py says what each feature measures). Written by `newswatch eval
# tagging
# --refit` from the labelled development set; edit by refitting, not by hand. `version` changes
# with the numbers and is part of every document's taxonomy_version (reprocess redoes older ones).
#
#   p(topic) = 1 / (1 + exp(-(bias + topic_bias[topic] + Σ weights[f] × feature[f])))
#   tagged when p >= threshold
"""


def write_topic_model(model: TopicModel, path: Path) -> None:
    """Write the model as commented YAML (atomically: a reader never sees half a file)."""
    data = model.model_dump(mode="json", exclude_none=True)
    if model.fitted_on is None:
        data.pop("fitted_on", None)
    text = _HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def fitted_on_now(
    items: int, rows: int, items_path: Path, taxonomy_version: str, l2: float
) -> FittedOn:
    """What a refit records about its data, so a reader of the file knows where it came from."""
    return FittedOn(
        items=items,
        rows=rows,
        set=items_path.name,
        taxonomy_version=taxonomy_version,
        l2=l2,
        date=datetime.now(UTC).date().isoformat(),
    )
