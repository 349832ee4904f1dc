"""Extraction drift per domain: a site whose pages suddenly yield much less text is flagged."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from ingest.extract.extraction_drift import (
    DomainDriftState,
    DriftPolicy,
    ExtractionDriftTracker,
    observe,
)

POLICY = DriftPolicy(baseline_size=40, min_baseline=20, recent_size=10, min_recent=5,
                     drop_ratio=0.5, failure_rate=0.5, relearn_after=30)


def feed(state: DomainDriftState, samples: list[int | None]) -> DomainDriftState:
    for sample in samples:
        state, _ = observe(state, sample, POLICY)
    return state


def healthy(n: int, seed: int = 1) -> list[int | None]:
    """Article lengths of a healthy news site: wide spread around 3,000 characters."""
    rng = random.Random(seed)
    return [int(rng.uniform(1_200, 6_000)) for _ in range(n)]


def test_a_new_domain_is_learning_until_the_baseline_is_full_enough() -> None:
    state = DomainDriftState()
    for i, sample in enumerate(healthy(29)):
        state, verdict = observe(state, sample, POLICY)
        assert verdict.status == "learning", i
    state, verdict = observe(state, 3_000, POLICY)
    assert verdict.status == "ok"


def test_ordinary_variation_in_length_is_never_flagged() -> None:
    state = DomainDriftState()
    for sample in healthy(500, seed=2):
        state, verdict = observe(state, sample, POLICY)
        assert not verdict.drifting


def test_a_sharp_drop_in_median_length_is_flagged_with_the_numbers() -> None:
    state = feed(DomainDriftState(), healthy(60))
    verdicts = []
    for _ in range(10):  # the template changed: only a teaser comes out now
        state, verdict = observe(state, 300, POLICY)
        verdicts.append(verdict)
    assert not verdicts[0].drifting  # one short page is no drift
    assert verdicts[-1].drifting
    assert verdicts[-1].recent_median_chars == 300
    assert "median text length fell from" in verdicts[-1].reasons[0]
    assert "to 300 chars" in verdicts[-1].reasons[0]


def test_a_rise_in_failures_is_flagged() -> None:
    state = feed(DomainDriftState(), healthy(60))
    for _ in range(6):
        state, verdict = observe(state, None, POLICY)
    assert verdict.drifting
    assert any("failures rose from 0% to 60%" in r for r in verdict.reasons)


def test_a_site_that_always_fails_half_the_time_is_not_flagged_for_it() -> None:
    samples: list[int | None] = [3_000 if i % 2 else None for i in range(200)]
    state = DomainDriftState()
    for sample in samples:
        state, verdict = observe(state, sample, POLICY)
        assert not verdict.drifting


def test_pages_seen_while_flagged_do_not_teach_the_baseline() -> None:
    state = feed(DomainDriftState(), healthy(60))
    state = feed(state, [300] * 12)
    frozen = list(state.baseline)
    state = feed(state, [300] * 10)
    assert state.baseline == frozen
    assert state.flagged_for > 0


def test_recovery_clears_the_flag() -> None:
    state = feed(DomainDriftState(), healthy(60))
    state = feed(state, [300] * 12)
    state, verdict = observe(state, 300, POLICY)
    assert verdict.drifting
    state = feed(state, healthy(10, seed=3))
    state, verdict = observe(state, 3_000, POLICY)
    assert not verdict.drifting
    assert state.flagged_for == 0


def test_a_change_that_sticks_becomes_the_new_normal() -> None:
    state = feed(DomainDriftState(), healthy(60))
    flagged = 0
    for _ in range(200):
        state, verdict = observe(state, 800, POLICY)
        flagged += verdict.drifting
    assert flagged < 200 and not verdict.drifting  # relearned after `relearn_after` pages
    assert flagged >= POLICY.relearn_after - 1
    assert verdict.baseline_median_chars == 800


def test_the_state_is_bounded_and_survives_json() -> None:
    state = feed(DomainDriftState(), healthy(500))
    assert len(state.baseline) == POLICY.baseline_size
    assert len(state.recent) == POLICY.recent_size
    assert DomainDriftState.model_validate_json(state.model_dump_json()) == state


def test_observe_does_not_modify_the_state_it_is_given() -> None:
    state = feed(DomainDriftState(), healthy(15))
    before = state.model_copy(deep=True)
    observe(state, 10, POLICY)
    assert state == before


def test_negative_length_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        observe(DomainDriftState(), -1, POLICY)


def test_inconsistent_policy_is_refused() -> None:
    with pytest.raises(ValidationError, match="min_baseline"):
        DriftPolicy(baseline_size=10, min_baseline=20)


def test_tracker_flags_only_the_domain_that_drifted_and_reloads_from_its_states() -> None:
    tracker = ExtractionDriftTracker(POLICY)
    for i, sample in enumerate(healthy(80)):
        tracker.observe("steady.example", sample)
        tracker.observe("changed.example", sample if i < 60 else 250)
    assert list(tracker.drifting()) == ["changed.example"]
    assert tracker.assessment("unknown.example").status == "learning"

    reloaded = ExtractionDriftTracker(
        POLICY,
        {d: DomainDriftState.model_validate_json(s.model_dump_json())
         for d, s in tracker.states.items()},
    )
    assert list(reloaded.drifting()) == ["changed.example"]
