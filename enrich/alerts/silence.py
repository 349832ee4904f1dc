"""Dead-man's switch: a feed or topic that has gone quiet for too long is an alert, because a
broken pipeline must not look like a quiet day.

Pure: the engine asks the articles index for the last `fetched` time of each watched feed and
topic and passes it here with the time. A silence fires once per episode — its alert id hashes
the subject and the last time it was heard from — so re-checking every minute adds nothing
until an article arrives and the subject goes quiet again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from enrich.alerts.alert import Alert, stable_id
from enrich.alerts.rules.durations import format_duration
from enrich.alerts.rules.rules_config import RuleConfig

SubjectKind = Literal["feed", "topic"]
Subject = tuple[SubjectKind, str]
ALL_FEEDS = "*"


@dataclass(frozen=True)
class Silence:
    rule: RuleConfig
    kind: SubjectKind
    name: str
    last_seen: datetime | None


def watched_subjects(rule: RuleConfig) -> list[Subject]:
    """Subjects named explicitly (the `*` feed wildcard is expanded by the index query)."""
    feeds: list[Subject] = [("feed", f) for f in rule.feeds if f != ALL_FEEDS]
    topics: list[Subject] = [("topic", t) for t in rule.topics]
    return feeds + topics


def find_silences(
    rule: RuleConfig,
    last_seen: dict[Subject, datetime | None],
    now: datetime,
    watching_since: datetime,
) -> list[Silence]:
    """Subjects quiet for at least `silent_for`. One never heard from counts from the moment
    we started watching, so a fresh install does not alarm on its first check."""
    assert rule.silent_for is not None
    silences = []
    for (kind, name), seen in sorted(last_seen.items()):
        since = seen if seen is not None else watching_since
        if now - since >= rule.silent_for:
            silences.append(Silence(rule, kind, name, seen))
    return silences


def silence_alert(silence: Silence, now: datetime) -> Alert:
    rule = silence.rule
    assert rule.silent_for is not None
    subject = f"{silence.kind}:{silence.name}"
    seen = silence.last_seen.isoformat() if silence.last_seen else "never"
    quiet = format_duration(rule.silent_for)
    what = f"{silence.kind} {silence.name!r}"
    if silence.last_seen is None:
        title = f"No article from {what} since watching began (over {quiet})"
    else:
        title = f"No new article from {what} for over {quiet} (last {seen})"
    return Alert(
        id=stable_id("silence", rule.name, subject, seen),
        rule=rule.name,
        trigger="silence",
        severity=rule.severity,
        fired_at=now,
        group_key=subject,
        channels=list(rule.channels),
        title=title,
        feed=silence.name if silence.kind == "feed" else None,
        topics=[silence.name] if silence.kind == "topic" else [],
        subject=subject,
        last_seen=silence.last_seen,
    )
