"""Keeping a runner's feed leases alive while their polls run.

A lease only has to outlive one feed's poll, but that poll has no fixed length: a feed with
200 new entries on a site that lets each page time out holds its thread for minutes, and
claimed feeds also wait their turn in the pool. Without renewal such a lease expires
mid-poll, a second runner polls the same feed, and one of the two outcomes is thrown away.

So a runner renews every lease it holds once a third of `lease_s` has gone by, with the same
optimistic concurrency as the claim: each renewal must match the version the previous write
produced, and the final write must match the last renewal. A renewal that is refused means
another runner took the feed after all (our lease had expired, say after a long GC pause or
a clock jump); the lease is then reported lost, never fought over, and the final write is
skipped like any other lost lease. A crashed runner renews nothing, so its leases still
expire at `lease_until`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType

from ingest.feeds.feed_leases import Claim
from ingest.feeds.feed_state import DocVersion, FeedState, FeedStateStore, StaleVersion
from ingest.poll import metrics

log = logging.getLogger(__name__)


@dataclass
class _Held:
    state: FeedState  # as last written with this runner's lease
    version: DocVersion
    lost: bool = False  # a renewal was refused: another runner holds the feed now
    done: bool = False  # released or discarded: never renewed again
    lock: threading.Lock = field(default_factory=threading.Lock)


class LeaseKeeper:
    """The leases one runner holds, renewed by a background thread until each is released."""

    def __init__(
        self,
        store: FeedStateStore,
        *,
        lease_s: float,
        clock: Callable[[], datetime],
        renew_after_s: float | None = None,
    ) -> None:
        self.store = store
        self.lease_s = lease_s
        self.clock = clock
        # Renewing at a third of the lease leaves two thirds for a slow or failed renewal.
        self.renew_after_s = lease_s / 3 if renew_after_s is None else renew_after_s
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, claim: Claim) -> None:
        with self._lock:
            self._held[claim.state.name] = _Held(claim.state, claim.version)

    def release(self, name: str, version: DocVersion) -> DocVersion:
        """Stop renewing `name`; the version its final write must match (`version` when this
        keeper never held it). Raises StaleVersion when a renewal found the lease taken."""
        held = self._stop(name)  # waits out a renewal in progress: its version is the last
        if held is None:
            return version
        if held.lost:
            raise StaleVersion(f"lease on feed {name!r} was lost during the poll")
        return held.version

    def discard(self, name: str) -> None:
        """Stop renewing `name` without a final write (its lease then expires by itself)."""
        self._stop(name)

    def _stop(self, name: str) -> _Held | None:
        with self._lock:
            held = self._held.pop(name, None)
        if held is not None:
            with held.lock:
                held.done = True
        return held

    def held(self) -> list[str]:
        with self._lock:
            return sorted(self._held)

    def renew_due(self) -> int:
        """Renew every held lease that has run a third of its length; how many were renewed."""
        with self._lock:
            held = list(self._held.values())
        renewed = 0
        for entry in held:
            with entry.lock:
                if entry.done or entry.lost or entry.state.lease_until is None:
                    continue
                now = self.clock()
                if entry.state.lease_until - now > timedelta(
                        seconds=self.lease_s - self.renew_after_s):
                    continue
                renewed += self._renew(entry, now)
        return renewed

    def _renew(self, entry: _Held, now: datetime) -> int:
        state = entry.state.model_copy(
            update={"lease_until": now + timedelta(seconds=self.lease_s)})
        try:
            entry.version = self.store.save(state, version=entry.version)
        except StaleVersion:
            entry.lost = True
            metrics.LEASE_RENEWALS.labels("lost").inc()
            log.warning("feed lease lost: another runner wrote the feed during our poll",
                        extra={"feed": state.name, "runner": state.lease_owner})
            return 0
        except Exception as exc:  # Elasticsearch busy or away: try again next round
            metrics.LEASE_RENEWALS.labels("failed").inc()
            log.warning("feed lease not renewed, will retry",
                        extra={"feed": state.name, "error": repr(exc)})
            return 0
        entry.state = state
        metrics.LEASE_RENEWALS.labels("renewed").inc()
        return 1

    def _loop(self) -> None:
        interval = max(0.05, min(self.renew_after_s / 2, 30.0))
        while not self._stopping.wait(interval):
            try:
                self.renew_due()
            except Exception:  # the next round tries again; the poll itself goes on
                log.exception("lease renewal round failed")

    def __enter__(self) -> LeaseKeeper:
        self._thread = threading.Thread(target=self._loop, name="lease-keeper", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
