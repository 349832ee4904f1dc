"""The Alert: what a rule firing on an article (or a silence) produces.

Its id is a hash of the rule name and the article id, so the same article delivered twice
(a replay, a re-poll, a worker crash before the offset commit) yields the same id, and the
`create` into the alerts index refuses the second one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from enrich.alerts.rules.rule_matching import RuleMatch
from enrich.alerts.rules.rules_config import RuleConfig


def stable_id(*parts: str) -> str:
    joined = "\x1f".join(parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:32]


def alert_id(rule: str, article_id: str) -> str:
    return stable_id("alert", rule, article_id)


def group_key(rule: RuleConfig, doc: Mapping[str, Any]) -> str:
    """The realert/digest bucket within a rule: "" (one per rule) or e.g. `feed=bbc`."""
    return ",".join(f"{name}={doc.get(name) or ''}" for name in rule.group_by)


class Alert(BaseModel):
    id: str
    rule: str
    trigger: Literal["match", "silence"] = "match"
    severity: str = "medium"
    fired_at: datetime
    group_key: str = ""
    channels: list[str] = Field(default_factory=list)

    article_id: str | None = None
    title: str = ""
    url: str | None = None
    published: datetime | None = None
    feed: str | None = None
    domain: str | None = None
    language: str | None = None
    topics: list[str] = Field(default_factory=list)
    matched_terms: list[str] = Field(default_factory=list)
    snippet: str = ""  # HTML-escaped, hits in <mark>

    # silence alerts: what went quiet, and when it was last heard from
    subject: str | None = None
    last_seen: datetime | None = None

    def payload(self) -> dict[str, Any]:
        """The JSON body of a webhook, the value on news.alerts, the alert in the index."""
        return self.model_dump(mode="json")


def _when(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def article_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What every alert on this article repeats (computed once however many rules fire)."""
    return {
        "article_id": str(doc.get("id") or ""),
        "title": str(doc.get("title") or ""),
        "url": doc.get("url"),
        "published": _when(doc.get("published")),
        "feed": doc.get("feed"),
        "domain": doc.get("domain"),
        "language": doc.get("language"),
        "topics": list(doc.get("topics") or []),
    }


def alert_from_match(match: RuleMatch, doc: Mapping[str, Any], now: datetime,
                     fields: dict[str, Any] | None = None) -> Alert:
    rule = match.rule
    common = fields if fields is not None else article_fields(doc)
    return Alert(
        id=alert_id(rule.name, common["article_id"]),
        rule=rule.name,
        severity=rule.severity,
        fired_at=now,
        group_key=group_key(rule, doc) if rule.group_by else "",
        channels=list(rule.channels),
        matched_terms=match.terms,
        snippet=match.scan.snippet(match.terms),
        **common,
    )
