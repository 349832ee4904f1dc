"""`newswatch freshness` (also `newswatch stats --freshness`): p50/p95/max per hop and end to
end over a window, from what is stored (enrich/search/freshness_report.py). Registered on the main
command with `add_command`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from elastic_transport import TransportError
from elasticsearch import ApiError

from enrich.alerts.rules.durations import parse_duration
from enrich.search.freshness_report import FreshnessReport, freshness_report
from ingest.common.es_client import make_es
from ingest.common.settings import Settings
from ingest.message.article import iso_utc, utcnow
from ingest.message.timing_hops import END_TO_END, HOPS, SEARCHABLE_TO_ALERT


def window_start(text: str, now: datetime) -> datetime:
    """`--since`: a duration back from now (`15m`, `6h`, `2d`) or an ISO date/time (UTC
    unless it says otherwise)."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(
            f"{text!r}: give a duration (15m, 6h, 2d) or a date/time (2026-01-31T12:00)"
        ) from exc
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def format_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f}s"
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def render(report: FreshnessReport) -> str:
    how = ("percentiles computed by Elasticsearch" if report.method == "aggregation"
           else "percentiles computed from the stored documents' timings")
    lines = [
        f"{report.documents} articles indexed {iso_utc(report.since)} .. "
        f"{iso_utc(report.until)} ({how})",
    ]
    if report.truncated:
        lines.append("  (only the newest documents were read: narrow --since)")
    header = f"{'span':<31}{'count':>7}{'p50':>10}{'p95':>10}{'max':>10}"
    lines.append(header)
    sections = [("hops", [h.name for h in HOPS]),
                ("end to end", [s.name for s in END_TO_END] + [SEARCHABLE_TO_ALERT])]
    for title, names in sections:
        lines.append(f"-- {title}")
        for name in names:
            stats = report.spans[name]
            lines.append(f"{name:<31}{stats.count:>7}{format_seconds(stats.p50):>10}"
                         f"{format_seconds(stats.p95):>10}{format_seconds(stats.max):>10}")
    return "\n".join(lines)


@click.command()
@click.option("--since", default="24h", show_default=True,
              help="Window start: a duration back from now (15m, 6h, 2d) or a date/time.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def freshness(settings: Settings, since: str, as_json: bool) -> None:
    """How fresh the pipeline was: p50/p95/max seconds per hop (published -> discovered ->
    fetched -> extracted -> produced -> consumed -> indexed) and end to end (publication /
    discovery -> searchable, searchable -> alert delivered), from the stored documents."""
    now = utcnow()
    echo_freshness(settings, since=window_start(since, now), until=now, as_json=as_json)


def echo_freshness(settings: Settings, *, since: datetime, until: datetime,
                   as_json: bool) -> None:
    """Print the report of [since, until] as a table or one JSON object."""
    es = make_es(settings)
    try:
        report = freshness_report(es, settings.articles_alias, settings.alerts_index,
                                  since=since, until=until)
    except (ApiError, TransportError) as exc:
        raise click.ClickException(f"Elasticsearch at {settings.es_url}: {exc}") from exc
    finally:
        es.close()
    click.echo(json.dumps(report.to_json()) if as_json else render(report))
