"""Slack: an incoming-webhook message (`text` for notifications, one mrkdwn section block)."""

from __future__ import annotations

import json
from typing import Any

from enrich.alerts.channels.base import ChannelResources, target_url
from enrich.alerts.channels.http_post import post_json
from enrich.alerts.notification import Notification
from enrich.alerts.rules.rules_config import ChannelConfig
from enrich.alerts.rules.snippet import slack_snippet

_SEVERITY_ICON = {"critical": ":rotating_light:", "high": ":warning:"}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(note: Notification) -> dict[str, Any]:
    icon = _SEVERITY_ICON.get(note.severity, ":newspaper:")
    body = note.body
    if note.event == "alert":
        title = _escape(body.get("title") or body.get("subject") or note.id)
        headline = f"<{body['url']}|{title}>" if body.get("url") else title
        lines = [f"{icon} *{_escape(note.rule)}* — {headline}"]
        if body.get("matched_terms"):
            lines.append("Matched: " + ", ".join(_escape(t) for t in body["matched_terms"]))
        if body.get("snippet"):
            lines.append("> " + slack_snippet(body["snippet"]))
    else:
        lines = [f"{icon} *{_escape(note.subject)}*"]
        for item in body.get("alerts", [])[:20]:
            title = _escape(item.get("title") or item.get("id"))
            lines.append(f"• <{item['url']}|{title}>" if item.get("url") else f"• {title}")
        if body.get("count", 0) > 20:
            lines.append(f"… and {body['count'] - 20} more")
    text = "\n".join(lines)
    return {
        "text": _escape(note.subject),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}],
    }


class SlackChannel:
    def __init__(self, config: ChannelConfig, resources: ChannelResources) -> None:
        self.config = config
        self._resources = resources

    def send(self, note: Notification) -> None:
        url = target_url(self.config, self._resources)
        body = json.dumps(slack_message(note), ensure_ascii=False).encode("utf-8")
        post_json(self._resources.http, url, body, {"User-Agent": self._resources.user_agent},
                  self.config.timeout_s)
