"""How a WebSub subscription moves (pure: no I/O, the clock is an argument).

* A feed that names a hub is `discovered`; the maintenance loop sends the subscription request
  (`next_action` -> "subscribe"); a hub that accepts it (2xx) leaves it `pending` until the hub
  verifies intent at the callback; the verification makes it `active` for the lease the hub
  granted (`after_verified`).
* Leases are renewed before they expire: `renew_at` is a margin before the end (a tenth of the
  lease but at least an hour, never more than half of it), so a 10-day lease is renewed a day
  early and a 10-second test lease after 5 s. An active subscription whose renewal was never
  verified lapses at its expiry (`expire`).
* Whatever fails (the hub refuses or cannot be reached, no verification within
  `verify_timeout_s`, a denial, a lapsed lease, a poll finding entries the hub never pushed)
  leaves the subscription `failed` or `denied` with the reason, and the feed is polled at its
  normal interval again (`poll_interval`); a new attempt follows after a backoff (`retry_at`),
  a denial much later (§5.2: the subscriber SHOULD consider it not possible any more).
* A subscription no longer wanted (its feed left feeds.yaml, or stopped naming a hub) is
  unsubscribed if the hub may hold it, then forgotten once the hub verified the unsubscription
  (or did not within the timeout: the lease ends it anyway).

`verification_accepted` is §5.3.1: echo the challenge only for what newswatch asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from ingest.websub.websub_discovery import Discovery
from ingest.websub.websub_state import SUB_STATUSES, Mode, Subscription, SubStatus

if TYPE_CHECKING:
    from ingest.common.settings import Settings

Action = Literal["subscribe", "unsubscribe", "forget", "expire", "verify_timeout"]
MIN_RENEW_MARGIN_S = 3600.0


@dataclass(frozen=True)
class WebSubPolicy:
    lease_s: int = 10 * 86400  # asked for; the hub decides (§8.2: 10 days is a good default)
    verify_timeout_s: float = 300.0
    retry_s: float = 3600.0
    max_retry_s: float = 86400.0
    denied_retry_s: float = 7 * 86400.0
    push_poll_interval_s: int = 6 * 3600  # a pushed feed is still polled this often

    @classmethod
    def from_settings(cls, settings: Settings) -> WebSubPolicy:
        return cls(
            lease_s=settings.websub_lease_s,
            verify_timeout_s=settings.websub_verify_timeout_s,
            retry_s=settings.websub_retry_s,
            max_retry_s=max(settings.websub_retry_s, 86400.0),
            denied_retry_s=settings.websub_denied_retry_s,
            push_poll_interval_s=settings.websub_poll_interval_s,
        )


def renewal_margin_s(lease_s: float) -> float:
    return min(max(lease_s * 0.1, MIN_RENEW_MARGIN_S), lease_s * 0.5)


def renew_at(verified_at: datetime, lease_s: float) -> datetime:
    """When to re-request an active subscription: a margin before its lease ends."""
    return verified_at + timedelta(seconds=lease_s - renewal_margin_s(lease_s))


def is_pushing(sub: Subscription | None, now: datetime) -> bool:
    """The hub is expected to push this feed now: verified, lease running, still wanted."""
    return (sub is not None and sub.wanted and sub.status == "active"
            and sub.lease_expires is not None and sub.lease_expires > now)


def poll_interval(sub: Subscription | None, interval_s: int, now: datetime,
                  policy: WebSubPolicy) -> int:
    """A pushed feed is polled only to catch missed pushes; any other at its own interval."""
    if is_pushing(sub, now):
        return max(interval_s, policy.push_poll_interval_s)
    return interval_s


def _status(sub: Subscription, status: SubStatus, now: datetime,
            reason: str | None) -> Subscription:
    changed = sub.status != status or sub.status_since is None
    return sub.model_copy(update={
        "status": status, "reason": reason,
        "status_since": now if changed else sub.status_since,
    })


def _backoff_s(failures: int, policy: WebSubPolicy) -> float:
    return min(policy.retry_s * 2 ** max(0, failures - 1), policy.max_retry_s)


def next_action(sub: Subscription, *, now: datetime, configured: bool,
                policy: WebSubPolicy) -> Action | None:
    """What the maintenance loop should do with this subscription now, if anything.
    `configured`: its feed is in feeds.yaml and enabled."""
    wanted = sub.wanted and configured
    waited = (now - sub.requested_at).total_seconds() if sub.requested_at else 0.0
    if sub.requested_mode == "unsubscribe":
        return "forget" if waited >= policy.verify_timeout_s else None
    if not wanted:
        # The hub may hold it (active, or a request it may still verify): ask it to stop.
        return "unsubscribe" if sub.status in ("active", "pending") else "forget"
    if sub.requested_mode == "subscribe" and waited >= policy.verify_timeout_s:
        return "verify_timeout"
    if sub.status == "active" and sub.lease_expires is not None and now >= sub.lease_expires:
        return "expire"
    if sub.requested_mode is not None:
        return None  # waiting for the hub's verification
    if sub.retry_at is not None and now < sub.retry_at:
        return None
    if sub.status in ("discovered", "failed", "denied"):
        return "subscribe"
    if sub.status == "active" and sub.verified_at is not None and sub.lease_s is not None \
            and now >= renew_at(sub.verified_at, sub.lease_s):
        return "subscribe"  # renewal: the same request again, before the lease ends
    return None


def before_request(sub: Subscription, mode: Mode, now: datetime,
                   *, rotate: tuple[str, str] | None = None) -> Subscription:
    """Record the request before it is sent: a hub may verify intent before it even answers
    the request, and only a request on record is agreed to. `rotate`: the new callback token
    and secret a renewal asks for (used once verified; until then the current ones hold)."""
    update: dict[str, object] = {"requested_mode": mode, "requested_at": now}
    if rotate is not None:
        update["pending_token"], update["pending_secret"] = rotate
    return sub.model_copy(update=update)


def renewal_rotates(sub: Subscription, mode: Mode) -> bool:
    """A renewal of an active subscription gets a fresh callback and secret."""
    return mode == "subscribe" and sub.status == "active"


def after_request(sub: Subscription, mode: Mode, *, accepted: bool, reason: str | None,
                  now: datetime, policy: WebSubPolicy) -> Subscription:
    """The hub answered a (un)subscription request: 2xx = it will verify intent (or already
    did: then the verification's outcome stands)."""
    if sub.requested_mode != mode:
        return sub  # verified (or denied) meanwhile
    if accepted:
        if mode == "unsubscribe":
            return _status(sub, "unsubscribing", now, None)
        return sub if sub.status == "active" else _status(sub, "pending", now, None)
    if mode == "unsubscribe":
        return sub.model_copy(update={"reason": f"hub refused the unsubscribe request: {reason}"})
    return failed(sub, f"hub refused the subscribe request: {reason}", now, policy,
                  keep_active=True)


def failed(sub: Subscription, reason: str, now: datetime, policy: WebSubPolicy,
           *, keep_active: bool = False) -> Subscription:
    """An attempt failed: back off, and (unless the current lease still runs) fall back to
    polling. `keep_active`: a renewal failed while the previous lease is still valid."""
    failures = sub.failures + 1
    update = {"requested_mode": None, "requested_at": None, "failures": failures,
              "pending_token": None, "pending_secret": None,
              "retry_at": now + timedelta(seconds=_backoff_s(failures, policy))}
    changed = sub.model_copy(update=update)
    if keep_active and is_pushing(sub, now):
        return changed.model_copy(update={"reason": reason})
    return _status(changed, "failed", now, reason)


def after_verify_timeout(sub: Subscription, now: datetime, policy: WebSubPolicy) -> Subscription:
    return failed(sub, f"the hub did not verify the request within "
                       f"{policy.verify_timeout_s:g} s", now, policy, keep_active=True)


def after_expiry(sub: Subscription, now: datetime, policy: WebSubPolicy) -> Subscription:
    return failed(sub, "lease expired without a verified renewal", now, policy)


def verification_accepted(sub: Subscription | None, *, mode: str, topic: str,
                          configured: bool, pending: bool = False) -> bool:
    """§5.3.1: agree (echo hub.challenge) only to what newswatch wants: subscribing to a
    wanted feed's topic it asked for (or holds: hubs may re-confirm an active subscription),
    unsubscribing what it asked to unsubscribe. `pending`: the verification came to the
    callback a renewal asked for, which only that renewal's verification may use.
    Anything else is answered 404."""
    if sub is None or topic != sub.topic:
        return False
    if pending:
        return mode == "subscribe" and configured and sub.wanted \
            and sub.requested_mode == "subscribe"
    if mode == "subscribe":
        return (configured and sub.wanted
                and (sub.requested_mode == "subscribe" or sub.status == "active"))
    if mode == "unsubscribe":
        return sub.requested_mode == "unsubscribe"
    return False


def after_verified(sub: Subscription, mode: str, lease_s: int | None, now: datetime,
                   policy: WebSubPolicy, *, pending: bool = False) -> Subscription | None:
    """The hub's verification was accepted. None: the subscription is over (unsubscribed).
    `pending`: it verified a renewal's new callback, which becomes the subscription's."""
    if mode == "unsubscribe":
        return None
    granted = lease_s if lease_s is not None and lease_s > 0 else policy.lease_s
    update: dict[str, object] = {
        "requested_mode": None, "requested_at": None, "verified_at": now, "lease_s": granted,
        "lease_expires": now + timedelta(seconds=granted), "failures": 0, "retry_at": None,
    }
    if pending and sub.pending_token and sub.pending_secret:
        update.update(callback_token=sub.pending_token, secret=sub.pending_secret,
                      pending_token=None, pending_secret=None)
    return _status(sub.model_copy(update=update), "active", now, None)


def after_denied(sub: Subscription, reason: str | None, now: datetime,
                 policy: WebSubPolicy) -> Subscription:
    """§5.2: the hub denied the subscription (at any time, even an active one)."""
    denied = sub.model_copy(update={
        "requested_mode": None, "requested_at": None, "lease_expires": None,
        "pending_token": None, "pending_secret": None,
        "failures": sub.failures + 1,
        "retry_at": now + timedelta(seconds=policy.denied_retry_s),
    })
    return _status(denied, "denied", now, f"hub denied: {reason or 'no reason given'}")


def after_missed(sub: Subscription, missed: int, now: datetime,
                 policy: WebSubPolicy) -> Subscription:
    """A poll found entries the hub should have pushed: stop trusting it, poll normally,
    and subscribe again after the backoff."""
    changed = failed(sub, f"a poll found {missed} entries the hub never delivered", now, policy)
    return changed.model_copy(update={"missed_entries": sub.missed_entries + missed})


def rediscovered(sub: Subscription | None, found: Discovery | None, *, feed: str, now: datetime,
                 token: str, secret: str) -> Subscription | None:
    """What a polled body's discovery changes (None: nothing to write).

    A new hub or topic (the publisher moved, §6.1) starts a fresh subscription with a new
    callback token and secret; a feed that stopped naming a hub is no longer wanted."""
    if found is None:
        if sub is not None and sub.wanted:
            return sub.model_copy(update={"wanted": False,
                                          "reason": "the feed no longer names a hub"})
        return None
    if sub is not None and sub.wanted and sub.topic == found.topic and sub.hub in found.hubs:
        return None
    return Subscription(
        feed=feed, hub=found.hub, topic=found.topic, discovery_source=found.source,
        callback_token=token, secret=secret, status="discovered", status_since=now,
        discovered_at=now,
        deliveries=sub.deliveries if sub else 0,
        delivered_articles=sub.delivered_articles if sub else 0,
        rejected_deliveries=sub.rejected_deliveries if sub else 0,
        missed_entries=sub.missed_entries if sub else 0,
    )


FALLBACK_STATUSES: tuple[SubStatus, ...] = ("failed", "denied")


def push_counts(subs: list[Subscription]) -> dict[str, int]:
    """Subscriptions per status, every status listed (for `feeds health`)."""
    counts: dict[str, int] = dict.fromkeys(SUB_STATUSES, 0)
    for sub in subs:
        counts[sub.status] += 1
    return counts


def fallbacks(subs: list[Subscription]) -> list[Subscription]:
    """Wanted subscriptions whose push failed: those feeds are polled at their own interval."""
    return sorted((s for s in subs if s.wanted and s.status in FALLBACK_STATUSES),
                  key=lambda s: (s.status, s.feed))
