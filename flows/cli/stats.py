"""`newswatch stats`: articles per day, topic, language and source, top places and actors over a
window (enrich/search/article_stats.py); readable tables, or `--json`.

Registered on the main command with `cli.add_command(stats)`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click

from flows.cli.search import elasticsearch_for
from ingest.common.settings import Settings

_RELATIVE = re.compile(r"^(\d+)([dh])$")


def parse_since(value: str, now: datetime) -> datetime:
    """`30d`, `24h` (before now) or a date `YYYY-MM-DD` / `YYYY-MM-DDTHH:MM:SS` (UTC)."""
    match = _RELATIVE.match(value.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return now - (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise click.BadParameter(f"{value!r}: give a span like 30d or 24h, or a date YYYY-MM-DD",
                             param_hint="--since")


@click.command()
@click.option("--since", "since_text", default="30d", show_default=True,
              help="Window start: 30d, 24h, or a date YYYY-MM-DD.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None,
              help="Window end (a date includes the whole day).")
@click.option("--topic", default=None, help="Only articles tagged with this topic id.")
@click.option("--top", type=click.IntRange(1, 100), default=10, show_default=True,
              help="How many places and actors to list.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.option("--freshness", is_flag=True,
              help="Seconds per hop and end to end instead (as `newswatch freshness`).")
@click.pass_obj
def stats(settings: Settings, since_text: str, until: datetime | None, topic: str | None,
          top: int, as_json: bool, freshness: bool) -> None:
    """Articles per day, topic, language and source; the places and actors named most.
    With --freshness: p50/p95/max seconds per hop and end to end over the window."""
    from enrich.search.article_stats import article_stats, format_stats

    now = datetime.now(UTC)
    since = parse_since(since_text, now)
    if until is not None and not (until.hour or until.minute or until.second):
        until = until.replace(hour=23, minute=59, second=59)
    if freshness:
        from flows.cli.freshness import echo_freshness

        if topic is not None:
            raise click.BadParameter("not with --freshness", param_hint="--topic")
        echo_freshness(settings, since=since,
                       until=until.replace(tzinfo=UTC) if until is not None else now,
                       as_json=as_json)
        return
    if topic is not None:
        from enrich.tagging.taxonomy import load_taxonomy

        known = load_taxonomy(settings.config_dir / "topics.yaml").topic_ids
        if topic not in known:
            raise click.BadParameter(f"unknown topic {topic!r}; known: {', '.join(known)}",
                                     param_hint="--topic")
    with elasticsearch_for(settings) as es:
        result = article_stats(es, settings.articles_alias, since=since, until=until,
                               topic=topic, top=top)
    click.echo(result.model_dump_json(indent=None) if as_json else format_stats(result))
