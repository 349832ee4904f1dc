"""How long each topic keeps its records, and when an existing topic's retention may change.

Why newswatch sets retention itself instead of leaving the broker default (7 days on Kafka): a
dead letter nobody replayed within the broker's retention would be deleted without a trace,
and "nothing is lost" would hold only for a week. So `news.dlq` keeps its records until they
are replayed or purged (-1, forever) and the other topics get an explicit, configured window.

On a topic that already exists retention is only ever lengthened: shortening it deletes
records, and an operator who raised it by hand (kafka-configs) meant it.
"""

from __future__ import annotations

FOREVER = -1


def is_longer(a_ms: int, b_ms: int) -> bool:
    """Whether a retention of `a_ms` keeps records longer than one of `b_ms` (-1: forever)."""
    if a_ms == b_ms:
        return False
    if a_ms == FOREVER:
        return True
    if b_ms == FOREVER:
        return False
    return a_ms > b_ms


def retention_to_set(current_ms: int | None, wanted_ms: int) -> int | None:
    """The retention.ms to set on an existing topic, or None to leave it as it is.

    `current_ms` is the topic's own setting, None when it has none (it follows the broker's
    default, which newswatch cannot see from every broker): then only "forever" is set, as no
    default can be longer."""
    if current_ms is None:
        return wanted_ms if wanted_ms == FOREVER else None
    return wanted_ms if is_longer(wanted_ms, current_ms) else None
