"""`newswatch feeds ...`: see and edit the feed registry (feeds.yaml merged with feed state).

Registered on the main command with `cli.add_command(feeds)`; every command gets the Settings
object through `@click.pass_obj`. add/remove/import edit feeds.yaml in place (comments and
layout kept); the next poll run picks the change up.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from ingest.common.es_client import make_es
from ingest.common.settings import Settings
from ingest.feeds.feed_registry import (
    VIEW_STATUSES,
    FeedRegistry,
    RegistryEntry,
    RegistryError,
    problems,
    status_counts,
)
from ingest.feeds.feed_state import FeedStateStore
from ingest.feeds.feeds_config import FeedConfig
from ingest.feeds.opml import OpmlError
from ingest.message.article import utcnow
from ingest.websub.websub_policy import fallbacks, is_pushing, push_counts
from ingest.websub.websub_state import Subscription, SubscriptionStore

ERROR_WIDTH = 90
_SECRET_FIELDS = {"secret", "callback_token", "pending_secret", "pending_token"}


@contextmanager
def _registry(settings: Settings) -> Iterator[FeedRegistry]:
    es = make_es(settings)
    try:
        store = FeedStateStore.from_settings(es, settings)
        store.ensure_indices()
        subscriptions = SubscriptionStore.from_settings(es, settings)
        subscriptions.ensure_index()
        yield FeedRegistry(settings.feeds_file, store, subscriptions)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        es.close()


@contextmanager
def _file_registry(settings: Settings) -> Iterator[FeedRegistry]:
    """The registry for commands that only read or edit feeds.yaml (add, import, export):
    they work with the stack down."""
    try:
        yield FeedRegistry(settings.feeds_file, None)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc


def _relative(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    seconds = (when - now).total_seconds()
    span = abs(seconds)
    if span < 90:
        text = f"{span:.0f}s"
    elif span < 90 * 60:
        text = f"{span / 60:.0f}m"
    elif span < 36 * 3600:
        text = f"{span / 3600:.1f}h"
    else:
        text = f"{span / 86400:.1f}d"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def _interval(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds // 60}m" if seconds < 2 * 3600 else f"{seconds / 3600:.1f}h"


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _as_json(entry: RegistryEntry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "status": entry.status,
        "config": entry.config.model_dump(mode="json") if entry.config else None,
        "state": entry.state.model_dump(mode="json") if entry.state else None,
    }


def _error_text(entry: RegistryEntry) -> str:
    state = entry.state
    if entry.config is None:
        return "not in feeds.yaml any more: `newswatch feeds remove` deletes its state"
    if state is None or state.last_error_kind is None:
        return "-"
    text = f"{state.last_error_kind}: {state.last_error or ''}".replace("\n", " ")
    return text if len(text) <= ERROR_WIDTH else text[: ERROR_WIDTH - 1] + "…"


@click.group()
def feeds() -> None:
    """The feed registry: feeds.yaml merged with what polling learnt about each feed."""


@feeds.command("list")
@click.option("--status", "statuses", multiple=True, type=click.Choice(VIEW_STATUSES),
              help="Only feeds in this status; repeatable.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed and line.")
@click.pass_obj
def list_feeds(settings: Settings, statuses: tuple[str, ...], as_json: bool) -> None:
    """Every feed with its status, interval, next and last poll."""
    with _registry(settings) as registry:
        entries = [e for e in registry.entries() if not statuses or e.status in statuses]
    if as_json:
        for entry in entries:
            click.echo(json.dumps(_as_json(entry), ensure_ascii=False))
        return
    now = utcnow()
    rows = [
        (e.name, e.status,
         _interval(e.state.interval_s if e.state else None),
         _relative(e.state.next_due if e.state else None, now),
         _relative(e.state.last_success if e.state else None, now),
         str(e.state.consecutive_failures if e.state else 0),
         e.url)
        for e in entries
    ]
    _table(("NAME", "STATUS", "INTERVAL", "NEXT", "LAST OK", "FAILS", "URL"), rows)
    click.echo(f"{len(entries)} feeds")


@feeds.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show_feed(settings: Settings, name: str, as_json: bool) -> None:
    """Everything known about one feed: its config and its state."""
    with _registry(settings) as registry:
        entry = registry.entry(name)
        subscription = registry.subscription(name)
    if entry is None:
        raise click.ClickException(f"no feed named {name!r}")
    if as_json:
        shown = _as_json(entry)
        shown["websub"] = _subscription_json(subscription)
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    click.echo(f"{'name':22} {entry.name}")
    click.echo(f"{'status':22} {entry.status}")
    if entry.config is not None:
        for key, value in entry.config.model_dump(mode="json").items():
            if key != "name" and value not in (None, []):
                click.echo(f"{key:22} {value}")
    if entry.state is None:
        click.echo("never polled")
        return
    now = utcnow()
    for key, value in entry.state.model_dump().items():
        if key in ("name", "configured_url", "status") or value is None:
            continue
        if key == "url":
            if entry.config is not None and value == str(entry.config.url):
                continue
            key = "polled_url"  # moved by a permanent redirect
        if isinstance(value, datetime):
            value = f"{value.isoformat()} ({_relative(value, now)})"
        click.echo(f"{key:22} {value}")
    _show_subscription(subscription, now, settings.websub_poll_interval_s)


def _subscription_json(sub: Subscription | None) -> dict[str, Any] | None:
    """The subscription without what would let someone forge deliveries."""
    return None if sub is None else sub.model_dump(mode="json", exclude=_SECRET_FIELDS)


def _show_subscription(sub: Subscription | None, now: datetime, pushed_interval_s: int) -> None:
    if sub is None:
        click.echo(f"{'websub':22} no hub advertised (polled only)")
        return
    pushed = f"pushed, polled every {_interval(pushed_interval_s)}" if is_pushing(sub, now) \
        else "polled normally"
    click.echo(f"{'websub':22} {sub.status} ({pushed})")
    for key, value in sub.model_dump(exclude=_SECRET_FIELDS | {"feed", "status"}).items():
        if value is None or value == 0 or value is True:
            continue
        if isinstance(value, datetime):
            value = f"{value.isoformat()} ({_relative(value, now)})"
        click.echo(f"{'websub_' + key:22} {value}")


@feeds.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--language", default=None, help="ISO 639-1 hint for the feed's items.")
@click.option("--region", default=None)
@click.option("--tag", "tags", multiple=True, help="Repeatable.")
@click.option("--disabled", is_flag=True, help="Register it without polling it yet.")
@click.pass_obj
def add_feed(settings: Settings, name: str, url: str, language: str | None,
             region: str | None, tags: tuple[str, ...], disabled: bool) -> None:
    """Add a feed to feeds.yaml (polled from the next run on)."""
    try:
        feed = FeedConfig(name=name, url=url, language=language, region=region,  # type: ignore[arg-type]
                          tags=list(tags), enabled=not disabled)
    except ValidationError as exc:
        problems_text = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise click.ClickException(f"invalid feed: {problems_text}") from exc
    with _file_registry(settings) as registry:
        registry.add(feed)
    click.echo(f"added {feed.name} ({feed.url}) to {settings.feeds_file}")


@feeds.command("remove")
@click.argument("name")
@click.option("--keep-state", is_flag=True, help="Keep its state in Elasticsearch.")
@click.pass_obj
def remove_feed_cmd(settings: Settings, name: str, keep_state: bool) -> None:
    """Remove a feed from feeds.yaml and delete its state (its seen entries stay, so adding it
    again re-produces nothing)."""
    with _registry(settings) as registry:
        if not registry.remove(name, keep_state=keep_state):
            raise click.ClickException(f"no feed named {name!r}")
    click.echo(f"removed {name}")


@feeds.command("import")
@click.argument("opml", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would be added; change nothing.")
@click.pass_obj
def import_opml(settings: Settings, opml: Path, dry_run: bool) -> None:
    """Add the feeds of an OPML file (a reader's export) to feeds.yaml; folders become tags.
    Every outline that is not imported is listed with the reason."""
    with _file_registry(settings) as registry:
        try:
            result = registry.import_opml(opml.read_bytes(), dry_run=dry_run)
        except OpmlError as exc:
            raise click.ClickException(f"{opml}: {exc}") from exc
    for feed in result.feeds:
        tags = f" [{', '.join(feed.tags)}]" if feed.tags else ""
        click.echo(f"{'would add' if dry_run else 'added'} {feed.name}: {feed.url}{tags}")
    for rejected in result.rejected:
        click.echo(f"skipped {rejected.describe()}")
    verb = "would be imported" if dry_run else "imported"
    click.echo(f"{len(result.feeds)} feeds {verb}, {len(result.rejected)} outlines skipped")


@feeds.command("export")
@click.argument("output", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
                default=Path("-"))
@click.pass_obj
def export_opml(settings: Settings, output: Path) -> None:
    """Write feeds.yaml as OPML 2.0 (to OUTPUT, or stdout)."""
    with _file_registry(settings) as registry:
        document = registry.export_opml(now=utcnow())
        count = len(registry.configured())
    if str(output) == "-":
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
    else:
        output.write_bytes(document)
        click.echo(f"wrote {count} feeds to {output}", err=True)


def _drifting_domains(settings: Settings) -> list[dict[str, Any]]:
    from ingest.common.es_client import make_es
    from ingest.extract.extraction_drift_store import DriftStore

    es = make_es(settings)
    try:
        return DriftStore(es, settings.drift_index).drifting()
    finally:
        es.close()


@feeds.command("health")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def feeds_health(settings: Settings, as_json: bool) -> None:
    """How many feeds are in each status, every problem feed with its last error, and the
    sites whose extraction drifted (their template changed?)."""
    with _registry(settings) as registry:
        entries = registry.entries()
        subscriptions = registry.all_subscriptions()
    counts = status_counts(entries)
    bad = problems(entries)
    drifting = _drifting_domains(settings)
    fallen = fallbacks(subscriptions)
    if as_json:
        click.echo(json.dumps({"counts": counts, "problems": [_as_json(e) for e in bad],
                               "extraction_drift": drifting,
                               "websub": {"counts": push_counts(subscriptions),
                                          "fallback": [_subscription_json(s) for s in fallen]}},
                              ensure_ascii=False))
        return
    click.echo("feeds by status: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for site in drifting:
        click.echo(f"extraction drift on {site['domain']}: {site['reasons']}")
    if subscriptions:
        click.echo("push (WebSub) subscriptions: " + ", ".join(
            f"{k} {v}" for k, v in push_counts(subscriptions).items()))
    now = utcnow()
    for sub in fallen:
        click.echo(f"push failed for {sub.feed} ({sub.status} {_relative(sub.status_since, now)},"
                   f" next try {_relative(sub.retry_at, now)}): {sub.reason}; polled normally")
    if not bad:
        click.echo("no problem feeds")
        return
    rows = [
        (e.name, e.status,
         str(e.state.consecutive_failures if e.state else 0),
         _relative(e.state.status_since if e.state else None, now),
         _relative(e.state.next_due if e.state else None, now),
         _error_text(e))
        for e in bad
    ]
    click.echo("")
    _table(("NAME", "STATUS", "FAILS", "SINCE", "NEXT TRY", "LAST ERROR"), rows)


@feeds.command("poll")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="The outcome as JSON.")
@click.pass_obj
def poll_feed_now(settings: Settings, name: str, as_json: bool) -> None:
    """Poll one feed now, due or not (new articles are produced as in a scheduled poll)."""
    from flows.cli.errors import require_kafka
    from ingest.feeds.feeds_config import load_feeds
    from ingest.poll.poll_run import poll_once

    feed = next((f for f in load_feeds(settings.feeds_file).feeds if f.name == name), None)
    if feed is None:
        raise click.ClickException(f"no feed named {name!r} in {settings.feeds_file}")
    require_kafka(settings)
    report = poll_once(settings, [feed])
    [outcome] = report.outcomes
    if as_json:
        click.echo(json.dumps(vars(outcome), default=str))
    elif outcome.result == "error":
        click.echo(f"{outcome.feed}: error {outcome.error_kind}: {outcome.error}")
    else:
        click.echo(f"{outcome.feed}: {outcome.result}, entries={outcome.entries} "
                   f"new={outcome.new_entries} produced={outcome.produced}")
    if outcome.result == "error":
        sys.exit(1)
