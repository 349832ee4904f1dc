"""Leases: how several poll runners share the due feeds without a lock server.

A runner searches the feeds index for due, unleased feeds and claims each by writing its lease
(`lease_owner`, `lease_until`) conditionally on the version it read (`if_seq_no` /
`if_primary_term`). Of two runners that read the same feed, exactly one write succeeds; the
other gets a conflict and moves on. The winner polls the feed and writes the outcome under
the version its claim produced, clearing the lease. A runner that crashes leaves its lease to
expire at `lease_until`; after that the feed is due again for everyone.

While its feeds are polled, the runner renews each lease once a third of it has gone by
(`ingest.feeds.lease_renewal`), so a poll may take longer than `lease_s`; the lease length only
bounds how long a crashed runner's feeds wait. Runners compare `lease_until` with their own
clocks: keep hosts NTP-synchronised. A lease that expires anyway (a runner paused longer than
`lease_s`) lets a second runner in; the first finds its renewal or final write refused and
logs it, losing nothing.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ingest.feeds.feed_state import DocVersion, FeedState, FeedStateStore, StaleVersion
from ingest.feeds.feeds_config import FeedConfig

log = logging.getLogger(__name__)

CANDIDATE_WINDOW = 4


@dataclass(frozen=True)
class Claim:
    state: FeedState  # as written with this runner's lease
    version: DocVersion  # what the runner's final write must match


@dataclass
class ClaimResult:
    claims: list[Claim] = field(default_factory=list)
    candidates: int = 0  # due feeds the search returned
    conflicts: int = 0  # of those, claimed by another runner first


def register(store: FeedStateStore, feeds: Iterable[FeedConfig]) -> int:
    """Give every configured feed a state document so the due search can find it; a new
    feed has no `next_due` and is therefore due at once. Returns how many were new."""
    wanted = {f.name: f for f in feeds}
    known = store.load_versioned(wanted)
    missing = [FeedState.new(name, str(feed.url)) for name, feed in wanted.items()
               if name not in known]
    created = store.create_missing(missing)
    if created:
        log.info("feeds registered", extra={"feeds": created})
    return created


def claim_due(
    store: FeedStateStore,
    names: Iterable[str],
    *,
    runner_id: str,
    now: datetime,
    lease_s: float,
    limit: int,
    rng: random.Random | None = None,
) -> ClaimResult:
    """Lease up to `limit` due feeds among `names` for `runner_id` until now + lease_s.

    Runners ticking together see the same most-overdue feeds first; each takes a random
    `limit` of the `CANDIDATE_WINDOW` x `limit` most overdue, so they mostly claim different
    feeds instead of all racing for the same ones."""
    result = ClaimResult()
    candidates = store.due(names, now, limit * CANDIDATE_WINDOW)
    result.candidates = len(candidates)
    (rng or random.Random()).shuffle(candidates)
    until = now + timedelta(seconds=lease_s)
    for state, version in candidates:
        if len(result.claims) >= limit:
            break
        leased = state.model_copy(update={"lease_owner": runner_id, "lease_until": until})
        try:
            written = store.save(leased, version=version)
        except StaleVersion:
            result.conflicts += 1
            continue
        if state.lease_owner and state.lease_owner != runner_id:
            log.warning("expired lease taken over", extra={
                "feed": state.name, "runner": runner_id, "previous_owner": state.lease_owner,
                "expired": state.lease_until.isoformat() if state.lease_until else None})
        result.claims.append(Claim(leased, written))
    return result
