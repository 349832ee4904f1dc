"""Realert and digest decisions, pure: what to do with a new alert given the window state.

`realert: 30m` — at most one delivered alert per rule and group key per 30 minutes; the others
are kept in the index as `suppressed` (for history) and go nowhere else. The state is one
record per (rule, group key) naming the alert that opened the window, so the alert that opened
it, redelivered, is recognised as itself and not suppressed by its own window.

`digest: 1h` — alerts are delivered as one message per rule, group key and clock-aligned hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from enrich.alerts.alert import stable_id

Decision = Literal["fire", "suppress"]


@dataclass(frozen=True)
class WindowState:
    last_fired_at: datetime
    last_alert_id: str


def realert_decision(
    realert: timedelta | None, state: WindowState | None, alert_id: str, now: datetime
) -> Decision:
    if realert is None or state is None or state.last_alert_id == alert_id:
        return "fire"
    return "suppress" if now - state.last_fired_at < realert else "fire"


def state_id(rule: str, group: str) -> str:
    return stable_id("realert-state", rule, group)


@dataclass(frozen=True)
class DigestWindow:
    id: str
    start: datetime
    end: datetime


def digest_window(rule: str, group: str, every: timedelta, now: datetime) -> DigestWindow:
    """The clock-aligned window (epoch multiples of `every`) containing `now`."""
    size = int(every.total_seconds())
    epoch = int(now.timestamp())
    start = datetime.fromtimestamp(epoch - epoch % size, UTC)
    return DigestWindow(
        id=stable_id("digest", rule, group, start.isoformat()),
        start=start,
        end=start + every,
    )
