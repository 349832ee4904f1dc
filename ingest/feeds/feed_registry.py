"""The feed registry: feeds.yaml (what ops want polled) merged with the runtime state in
Elasticsearch (what happened when it was polled).

feeds.yaml stays the one source of truth ops edit and review: `newswatch feeds add`, `remove`
and `import` edit that file (comments and layout kept, see `ingest.feeds.feeds_file_edit`) rather
than keeping runtime-only feeds in the index, so a redeploy from the repository never loses or
resurrects a feed. The index holds only state; a state whose feed left feeds.yaml is shown as
`orphaned` until `feeds remove` deletes it. Seen entries are never deleted: a feed removed and
added again does not re-produce the articles it already produced.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ingest.feeds.feed_state import FEED_STATUSES, FeedState, FeedStateStore
from ingest.feeds.feeds_config import FeedConfig, feed_url_key, load_feeds
from ingest.feeds.feeds_file_edit import FeedsFileEditError, add_feeds, remove_feed
from ingest.feeds.opml import OpmlImport, feeds_to_opml, parse_opml
from ingest.websub.websub_state import Subscription, SubscriptionStore

# Besides the stored statuses: configured but never polled, and state left by a removed feed.
VIEW_STATUSES = (*FEED_STATUSES, "new", "orphaned")
_PROBLEM_ORDER = {"blocked": 0, "backoff": 1, "orphaned": 3, "active": 2}


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    config: FeedConfig | None  # None: only state is left (the feed left feeds.yaml)
    state: FeedState | None  # None: never polled

    @property
    def status(self) -> str:
        if self.config is None:
            return "orphaned"
        if not self.config.enabled:
            return "disabled"
        return self.state.status if self.state is not None else "new"

    @property
    def url(self) -> str:
        if self.state is not None:
            return self.state.url
        return str(self.config.url) if self.config is not None else ""

    @property
    def has_problem(self) -> bool:
        """Worth an operator's look: failing, blocked, or polled last with an error."""
        if self.status in ("backoff", "blocked", "orphaned"):
            return True
        return self.status == "active" and self.state is not None \
            and self.state.consecutive_failures > 0


class RegistryError(Exception):
    """A registry edit that cannot be made (the message says why); nothing was changed."""


def current_state(config: FeedConfig, state: FeedState | None) -> FeedState | None:
    """The state as the next poll will see it: after ops pointed the feed at another URL in
    feeds.yaml, what was learnt about the old URL no longer applies (the poller starts the
    feed afresh, `FeedState.rebased`), so `feeds list` and `feeds show` both show the new
    URL at once instead of the old one until the next poll."""
    if state is not None and state.configured_url != str(config.url):
        return state.rebased(str(config.url))
    return state


def merge(configs: Iterable[FeedConfig], states: Iterable[FeedState]) -> list[RegistryEntry]:
    """Config order first (as ops wrote it), then orphaned states by name."""
    by_name = {s.name: s for s in states}
    entries = [RegistryEntry(c.name, c, current_state(c, by_name.pop(c.name, None)))
               for c in configs]
    entries += [RegistryEntry(name, None, by_name[name]) for name in sorted(by_name)]
    return entries


def status_counts(entries: Iterable[RegistryEntry]) -> dict[str, int]:
    counts = Counter(e.status for e in entries)
    return {status: counts.get(status, 0) for status in VIEW_STATUSES}


def problems(entries: Iterable[RegistryEntry]) -> list[RegistryEntry]:
    """Problem feeds, worst first: blocked, backoff, failing, orphaned; longest-failing first."""
    chosen = [e for e in entries if e.has_problem]
    return sorted(chosen, key=lambda e: (
        _PROBLEM_ORDER.get(e.status, 9),
        -(e.state.consecutive_failures if e.state else 0),
        e.name,
    ))


def same_feed_url(first: str, second: str) -> bool:
    """Two URLs name the same feed when host, port, path and query agree (scheme aside).
    Not the article canonicaliser: it drops `?feed=`/`?rss=`, which identify feeds."""
    return feed_url_key(first) == feed_url_key(second)


class FeedRegistry:
    def __init__(self, feeds_file: Path, store: FeedStateStore | None,
                 subscriptions: SubscriptionStore | None = None) -> None:
        """`store` None: a registry of feeds.yaml only (add, import, export need no state)."""
        self.feeds_file = feeds_file
        self._store = store
        self.subscriptions = subscriptions

    @property
    def store(self) -> FeedStateStore:
        if self._store is None:
            raise RegistryError("this registry was opened without the feed state store")
        return self._store

    def subscription(self, name: str) -> Subscription | None:
        """The feed's WebSub subscription (ingest/websub/websub_state.py), if it names a hub."""
        return self.subscriptions.get(name) if self.subscriptions is not None else None

    def all_subscriptions(self) -> list[Subscription]:
        return self.subscriptions.all() if self.subscriptions is not None else []

    def configured(self) -> list[FeedConfig]:
        return load_feeds(self.feeds_file).feeds if self.feeds_file.exists() else []

    def entries(self) -> list[RegistryEntry]:
        return merge(self.configured(), self.store.all())

    def entry(self, name: str) -> RegistryEntry | None:
        config = next((f for f in self.configured() if f.name == name), None)
        state = self.store.get(name)
        if config is None and state is None:
            return None
        return RegistryEntry(name, config, current_state(config, state) if config else state)

    def add(self, feed: FeedConfig) -> None:
        for existing in self.configured():
            if existing.name == feed.name:
                raise RegistryError(f"a feed named {feed.name!r} is already registered")
            if same_feed_url(str(existing.url), str(feed.url)):
                raise RegistryError(
                    f"{feed.url} is already registered as {existing.name!r}")
        with _file_edit():
            add_feeds(self.feeds_file, [feed])

    def remove(self, name: str, *, keep_state: bool = False) -> bool:
        """Remove from feeds.yaml and (unless kept) its state; False when it was in neither."""
        in_file = any(f.name == name for f in self.configured())
        if in_file:
            with _file_edit():
                remove_feed(self.feeds_file, name)
        deleted = False if keep_state else self.store.delete(name)
        return in_file or deleted

    def import_opml(self, data: bytes, *, dry_run: bool = False) -> OpmlImport:
        """Add every usable feed of an OPML document; the rest come back with reasons."""
        result = parse_opml(data, existing=self.configured())
        if result.feeds and not dry_run:
            with _file_edit():
                add_feeds(self.feeds_file, result.feeds)
        return result

    def export_opml(self, *, now: datetime) -> bytes:
        return feeds_to_opml(self.configured(), created=now)



@contextmanager
def _file_edit() -> Iterator[None]:
    try:
        yield
    except FeedsFileEditError as exc:
        raise RegistryError(str(exc)) from exc

