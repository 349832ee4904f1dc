"""`newswatch eval tagging`: score the tagger on hand-labelled news items.

The labelled set (`../shared/corpora/tagging/items.jsonl`, see its README) is the only honest
measure of whether a taxonomy edit helped: precision and recall per topic and per language, and
the ids of every item the tagger got wrong, so a reviewer can read them instead of guessing. The
same measurement is taken on items nobody here has seen; that is why misclassified items are
listed for reading, never special-cased.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from enrich.language import detect_language
from enrich.tagger import Tagger
from enrich.taxonomy import Taxonomy

__all__ = [
    "LabelledItem",
    "Misclassified",
    "Scores",
    "TaggingReport",
    "format_report",
    "load_items",
    "run_tagging_eval",
    "score_predictions",
]


class LabelledItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    lang: str
    title: str = ""
    text: str = ""
    labels: dict[str, bool]
    why: str = ""


class Scores(BaseModel):
    """Confusion counts for one topic on one slice; ratios are None where undefined (0/0)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None
        return 2 * p * r / (p + r)

    def add(self, expected: bool, predicted: bool) -> None:
        if expected and predicted:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif expected:
            self.fn += 1
        else:
            self.tn += 1

    def summary(self) -> dict[str, float | int | None]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "support": self.support,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


class Misclassified(BaseModel):
    id: str
    lang: str
    title: str
    expected: list[str]
    predicted: list[str]
    why: str


class TaggingReport(BaseModel):
    taxonomy_version: str
    items: int
    topics: list[str]
    items_per_language: dict[str, int]
    per_topic: dict[str, Scores]
    # language → topic → scores
    per_language: dict[str, dict[str, Scores]]
    misclassified: list[Misclassified]

    def summary(self) -> dict[str, object]:
        """JSON-able view with the derived ratios (for `--json` output and tests)."""
        return {
            "taxonomy_version": self.taxonomy_version,
            "items": self.items,
            "items_per_language": self.items_per_language,
            "per_topic": {t: s.summary() for t, s in self.per_topic.items()},
            "per_language": {
                lang: {t: s.summary() for t, s in topics.items()}
                for lang, topics in self.per_language.items()
            },
            "misclassified": [m.model_dump() for m in self.misclassified],
        }


def load_items(path: Path) -> list[LabelledItem]:
    """Read the JSONL set; a malformed line is an error naming path:line, not a skipped item."""
    items = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                items.append(LabelledItem.model_validate(json.loads(line)))
            except (json.JSONDecodeError, ValidationError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ValueError(f"{path}:{number}: not a labelled item: {reason}") from exc
    return items


def score_predictions(
    pairs: Iterable[tuple[LabelledItem, list[str]]], topics: list[str], taxonomy_version: str
) -> TaggingReport:
    """Build the report from (item, predicted topics); unlabelled topics of an item are skipped."""
    per_topic = {topic: Scores() for topic in topics}
    per_language: dict[str, dict[str, Scores]] = {}
    items_per_language: dict[str, int] = {}
    misclassified = []
    count = 0
    for item, predicted in pairs:
        count += 1
        items_per_language[item.lang] = items_per_language.get(item.lang, 0) + 1
        cells = per_language.setdefault(item.lang, {topic: Scores() for topic in topics})
        wrong = False
        for topic in topics:
            if topic not in item.labels:
                continue
            expected, got = item.labels[topic], topic in predicted
            per_topic[topic].add(expected, got)
            cells[topic].add(expected, got)
            wrong = wrong or expected != got
        if wrong:
            misclassified.append(
                Misclassified(
                    id=item.id,
                    lang=item.lang,
                    title=item.title,
                    expected=sorted(t for t in topics if item.labels.get(t)),
                    predicted=sorted(t for t in predicted if t in topics),
                    why=item.why,
                )
            )
    return TaggingReport(
        taxonomy_version=taxonomy_version,
        items=count,
        topics=topics,
        items_per_language=dict(sorted(items_per_language.items())),
        per_topic=per_topic,
        per_language=dict(sorted(per_language.items())),
        misclassified=misclassified,
    )


def run_tagging_eval(items_path: Path, taxonomy: Taxonomy) -> TaggingReport:
    """Tag every labelled item as the worker would and score the taxonomy's topics.

    The language comes from detect_language, not from the label, so the measurement includes
    the detector's mistakes exactly where the worker would make them.
    """
    tagger = Tagger(taxonomy)
    items = load_items(items_path)
    pairs = (
        (item, tagger.tag(item.title, item.text, detect_language(_head(item))).topics)
        for item in items
    )
    return score_predictions(pairs, taxonomy.topic_ids, taxonomy.version)


def _head(item: LabelledItem) -> str:
    # The same slice the worker hands to the detector (enrich/enricher.py).
    return f"{item.title}\n{item.text[:2000]}"


def _ratio(value: float | None) -> str:
    return "    —" if value is None else f"{value:5.3f}"


def _row(name: str, scores: Scores) -> str:
    return (
        f"  {name:<10} {scores.support:>4} {scores.tp:>4} {scores.fp:>4} {scores.fn:>4}"
        f"  {_ratio(scores.precision)}  {_ratio(scores.recall)}  {_ratio(scores.f1)}"
    )


def format_report(report: TaggingReport) -> str:
    """Plain-text tables: per topic, then per language and topic, then the misclassified items."""
    header = (
        f"  {'':<10} {'pos':>4} {'tp':>4} {'fp':>4} {'fn':>4}  {'prec':>5}  {'rec':>5}  {'f1':>5}"
    )
    languages = ", ".join(f"{lang} {n}" for lang, n in report.items_per_language.items())
    lines = [
        f"Tagging evaluation — taxonomy {report.taxonomy_version}, {report.items} items "
        f"({languages})",
        "",
        "Per topic",
        header,
    ]
    lines += [_row(topic, report.per_topic[topic]) for topic in report.topics]
    for lang, cells in report.per_language.items():
        lines += ["", f"Language {lang} ({report.items_per_language[lang]} items)", header]
        lines += [_row(topic, cells[topic]) for topic in report.topics]
    lines += ["", f"Misclassified: {len(report.misclassified)}"]
    for wrong in report.misclassified:
        expected = ",".join(wrong.expected) or "-"
        predicted = ",".join(wrong.predicted) or "-"
        lines.append(
            f"  {wrong.id} [{wrong.lang}] expected {expected} got {predicted}: {wrong.title[:70]}"
        )
    return "\n".join(lines) + "\n"
