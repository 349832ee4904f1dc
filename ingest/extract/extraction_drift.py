"""Extraction drift: notice when a site's pages stop yielding their usual amount of text.

When a publisher changes its templates, trafilatura often keeps "succeeding" on the new pages
while returning a teaser, a cookie banner or nothing at all. No single page looks wrong; the
site's pages do, taken together. So per domain we keep a baseline of healthy extractions (text
length, or a failure) and compare the most recent pages against it:

* length drop: the median text length of the recent successful pages falls below
  `drop_ratio` x the baseline median;
* failure rise: the recent failure rate reaches `failure_rate` while the baseline's stayed
  under half of that.

The baseline only learns from pages seen while the domain is not flagged, so a broken
template does not quietly become the new normal; if the drift persists for `relearn_after`
pages, it is taken as the site's new normal and the baseline starts again from the recent
pages. Pure logic: the caller persists `DomainDriftState` (it is JSON) and reports the flags.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DriftStatus = Literal["learning", "ok", "drift"]


class DriftPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    baseline_size: int = Field(default=100, ge=2)  # healthy pages remembered per domain
    min_baseline: int = Field(default=20, ge=2)  # before this many, no judgement ("learning")
    recent_size: int = Field(default=10, ge=1)  # pages compared against the baseline
    min_recent: int = Field(default=5, ge=1)  # recent successes needed to judge length
    drop_ratio: float = Field(default=0.5, gt=0, lt=1)
    failure_rate: float = Field(default=0.5, gt=0, le=1)
    relearn_after: int = Field(default=200, ge=1)  # flagged pages before accepting a new normal

    @model_validator(mode="after")
    def _consistent(self) -> DriftPolicy:
        if self.min_baseline > self.baseline_size:
            raise ValueError("min_baseline cannot exceed baseline_size")
        if self.min_recent > self.recent_size:
            raise ValueError("min_recent cannot exceed recent_size")
        return self


class DomainDriftState(BaseModel):
    """One domain's memory. A sample is the extracted text length in characters, or None for
    a page whose extraction failed. Newest last."""

    model_config = ConfigDict(extra="ignore")

    baseline: list[int | None] = Field(default_factory=list)
    recent: list[int | None] = Field(default_factory=list)
    flagged_for: int = 0  # consecutive pages observed while flagged


@dataclass(frozen=True)
class DriftAssessment:
    status: DriftStatus
    reasons: tuple[str, ...]
    baseline_median_chars: float | None
    recent_median_chars: float | None
    baseline_failure_rate: float | None
    recent_failure_rate: float | None

    @property
    def drifting(self) -> bool:
        return self.status == "drift"


def _median_length(samples: list[int | None]) -> float | None:
    lengths = [s for s in samples if s is not None]
    return statistics.median(lengths) if lengths else None


def _failure_rate(samples: list[int | None]) -> float | None:
    return sum(1 for s in samples if s is None) / len(samples) if samples else None


def assess(state: DomainDriftState, policy: DriftPolicy) -> DriftAssessment:
    base_median = _median_length(state.baseline)
    recent_median = _median_length(state.recent)
    base_failures = _failure_rate(state.baseline)
    recent_failures = _failure_rate(state.recent)
    if len(state.baseline) < policy.min_baseline or len(state.recent) < policy.recent_size:
        return DriftAssessment("learning", (), base_median, recent_median,
                               base_failures, recent_failures)
    reasons = []
    recent_successes = sum(1 for s in state.recent if s is not None)
    if (
        base_median is not None
        and recent_median is not None
        and recent_successes >= policy.min_recent
        and recent_median < policy.drop_ratio * base_median
    ):
        reasons.append(
            f"median text length fell from {base_median:.0f} to {recent_median:.0f} chars"
            f" over the last {len(state.recent)} pages"
        )
    if (
        base_failures is not None
        and recent_failures is not None
        and recent_failures >= policy.failure_rate
        and base_failures < policy.failure_rate / 2
    ):
        reasons.append(
            f"extraction failures rose from {base_failures:.0%} to {recent_failures:.0%}"
            f" over the last {len(state.recent)} pages"
        )
    return DriftAssessment("drift" if reasons else "ok", tuple(reasons), base_median,
                           recent_median, base_failures, recent_failures)


def observe(
    state: DomainDriftState, text_chars: int | None, policy: DriftPolicy
) -> tuple[DomainDriftState, DriftAssessment]:
    """Add one page's outcome (its text length, or None if extraction failed); returns the
    new state and what it says. The given state is not modified."""
    if text_chars is not None and text_chars < 0:
        raise ValueError(f"text length cannot be negative: {text_chars}")
    baseline = list(state.baseline)
    recent = [*state.recent, text_chars]
    if len(recent) > policy.recent_size:
        oldest = recent.pop(0)
        # Pages seen during a flagged stretch never teach the baseline.
        if state.flagged_for == 0:
            baseline = [*baseline, oldest][-policy.baseline_size:]
    new_state = DomainDriftState(baseline=baseline, recent=recent, flagged_for=state.flagged_for)
    verdict = assess(new_state, policy)
    if not verdict.drifting:
        new_state.flagged_for = 0
        return new_state, verdict
    new_state.flagged_for += 1
    if new_state.flagged_for >= policy.relearn_after:
        # The change stuck: the site's new pages are its normal now.
        relearned = DomainDriftState(baseline=list(recent), recent=[], flagged_for=0)
        return relearned, assess(relearned, policy)
    return new_state, verdict


class ExtractionDriftTracker:
    """Drift state for many domains; the lead's poller feeds it and persists `states`."""

    def __init__(
        self,
        policy: DriftPolicy | None = None,
        states: dict[str, DomainDriftState] | None = None,
    ) -> None:
        self.policy = policy or DriftPolicy()
        self.states: dict[str, DomainDriftState] = dict(states or {})
        self._assessments: dict[str, DriftAssessment] = {
            domain: assess(state, self.policy) for domain, state in self.states.items()
        }

    def observe(self, domain: str, text_chars: int | None) -> DriftAssessment:
        state = self.states.get(domain, DomainDriftState())
        self.states[domain], verdict = observe(state, text_chars, self.policy)
        self._assessments[domain] = verdict
        return verdict

    def assessment(self, domain: str) -> DriftAssessment:
        if domain not in self._assessments:
            return assess(DomainDriftState(), self.policy)
        return self._assessments[domain]

    def drifting(self) -> dict[str, DriftAssessment]:
        return {d: a for d, a in sorted(self._assessments.items()) if a.drifting}
