"""The poll side of WebSub (`ingest.poll.poller.PushHook`): discovery from every polled body, a
long interval for pushed feeds, and the fallback when a poll finds what the hub never pushed.

Loaded once per poll run (one search of the subscriptions index), so a feed without a hub
costs a dictionary lookup. A write happens only when something changed: a feed starts or
stops naming a hub, moves to another hub or topic (§6.1), or a pushed feed's poll produced
articles, which means the hub missed them: the subscription falls back to `failed` (the feed
is polled at its own interval again) and is subscribed afresh after the backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from ingest.feeds.feed_parse import ParsedFeed
from ingest.feeds.feeds_config import FeedConfig
from ingest.fetch.http_fetch import FetchResult
from ingest.message.article import utcnow
from ingest.poll.poller import FeedOutcome
from ingest.websub.websub_discovery import discover
from ingest.websub.websub_policy import (
    WebSubPolicy,
    after_missed,
    is_pushing,
    poll_interval,
    rediscovered,
)
from ingest.websub.websub_state import Subscription, SubscriptionStore, new_secret, new_token

log = logging.getLogger(__name__)


class WebSubPollHook:
    def __init__(self, store: SubscriptionStore, policy: WebSubPolicy,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.subs: dict[str, Subscription] = {s.feed: s for s in store.all()}

    def after_poll(self, feed: FeedConfig, fetched: FetchResult, parsed: ParsedFeed,
                   outcome: FeedOutcome, now: datetime) -> None:
        """Record what the body says about push; a failure here never fails the poll."""
        try:
            self._after_poll(feed, fetched, parsed, outcome, now)
        except Exception:
            log.exception("WebSub discovery not recorded", extra={"feed": feed.name,
                                                                   "url": fetched.url})

    def _after_poll(self, feed: FeedConfig, fetched: FetchResult, parsed: ParsedFeed,
                    outcome: FeedOutcome, now: datetime) -> None:
        found = discover(url=fetched.url, headers=fetched.headers, body_hubs=parsed.hub_urls,
                         body_self=parsed.self_url)
        sub = self.subs.get(feed.name)
        token, secret = new_token(), new_secret()
        changed = rediscovered(sub, found, feed=feed.name, now=now, token=token, secret=secret)
        if changed is not None:
            if sub is None:
                written: Subscription | None = changed if self.store.create(changed) else None
            else:
                written = self.store.update(feed.name, lambda current: rediscovered(
                    current, found, feed=feed.name, now=now, token=token, secret=secret)
                    or current)
            log.info("WebSub discovery changed", extra={
                "feed": feed.name, "url": fetched.url, "hub": found.hub if found else None,
                "topic": found.topic if found else None})
        elif sub is not None and is_pushing(sub, now) and outcome.produced > 0:
            missed = outcome.produced
            written = self.store.update(
                feed.name, lambda current: after_missed(current, missed, now, self.policy))
            log.warning("WebSub hub missed entries a poll found; polling the feed normally",
                        extra={"feed": feed.name, "hub": sub.hub, "missed": missed})
        else:
            return
        if written is not None:
            self.subs[feed.name] = written

    def interval(self, feed_name: str, interval_s: int) -> int:
        return poll_interval(self.subs.get(feed_name), interval_s, self.clock(), self.policy)
