"""What a channel sends, rendered once and purely: a JSON body for machines (webhook, Kafka,
Elasticsearch), a subject and plain text and HTML for people (email, Slack, log)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from enrich.alerts.alert import Alert
from enrich.alerts.rules.snippet import plain_snippet

# A digest message lists at most this many alerts; the count says how many there were.
DIGEST_LIST_LIMIT = 50


@dataclass(frozen=True)
class Notification:
    event: Literal["alert", "digest"]
    id: str  # the alert id or the digest id: receivers deduplicate on it
    rule: str
    severity: str
    body: dict[str, Any]
    subject: str
    text: str
    html: str


def _line(alert: Alert) -> str:
    terms = ", ".join(alert.matched_terms)
    return f"{alert.title or alert.subject or alert.id}" + (f" [{terms}]" if terms else "")


def alert_notification(alert: Alert) -> Notification:
    body = {"event": "alert", **alert.payload()}
    subject = f"{alert.rule}: {alert.title or alert.subject or alert.id}"
    lines = [f"Rule {alert.rule} ({alert.severity}) fired."]
    if alert.title:
        lines.append(f"Title: {alert.title}")
    if alert.url:
        lines.append(f"URL: {alert.url}")
    if alert.published:
        lines.append(f"Published: {alert.published.isoformat()}")
    if alert.topics:
        lines.append(f"Topics: {', '.join(alert.topics)}")
    if alert.matched_terms:
        lines.append(f"Matched: {', '.join(alert.matched_terms)}")
    if alert.snippet:
        lines.append("")
        lines.append(plain_snippet(alert.snippet))
    label = html.escape(alert.title or alert.url or "")
    link = f'<a href="{html.escape(alert.url, quote=True)}">{label}</a>' if alert.url else label
    rows = "".join(
        f"<tr><th align=left>{name}</th><td>{html.escape(value)}</td></tr>"
        for name, value in (
            ("Rule", f"{alert.rule} ({alert.severity})"),
            ("Published", alert.published.isoformat() if alert.published else ""),
            ("Topics", ", ".join(alert.topics)),
            ("Matched", ", ".join(alert.matched_terms)),
        )
        if value
    )
    body_html = (
        f"<p>{link}</p><table>{rows}</table>"
        + (f"<blockquote>{alert.snippet}</blockquote>" if alert.snippet else "")
    )
    return Notification("alert", alert.id, alert.rule, alert.severity, body, subject,
                        "\n".join(lines), body_html)


def digest_notification(
    digest_id: str,
    rule: str,
    severity: str,
    window_start: datetime,
    window_end: datetime,
    alerts: list[Alert],
) -> Notification:
    shown = alerts[:DIGEST_LIST_LIMIT]
    body = {
        "event": "digest",
        "id": digest_id,
        "rule": rule,
        "severity": severity,
        "window_start": window_start.isoformat(),
        "window_end": window_end.isoformat(),
        "count": len(alerts),
        "alerts": [a.payload() for a in shown],
    }
    subject = f"{rule}: {len(alerts)} alert{'s' if len(alerts) != 1 else ''} " \
              f"{window_start:%Y-%m-%d %H:%M}–{window_end:%H:%M} UTC"
    lines = [subject, ""] + [f"- {_line(a)}" + (f"\n  {a.url}" if a.url else "") for a in shown]
    if len(alerts) > len(shown):
        lines.append(f"… and {len(alerts) - len(shown)} more")
    items = "".join(
        "<li>"
        + (f'<a href="{html.escape(a.url, quote=True)}">{html.escape(_line(a))}</a>' if a.url
           else html.escape(_line(a)))
        + "</li>"
        for a in shown
    )
    body_html = f"<p>{html.escape(subject)}</p><ul>{items}</ul>"
    return Notification("digest", digest_id, rule, severity, body, subject, "\n".join(lines),
                        body_html)
