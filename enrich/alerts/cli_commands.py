"""`newswatch alerts list | validate | test | tail | history`: the commands as plain functions.

Each takes Settings (and, where it talks to a server, an optional client for tests) and returns
its output and exit code; the CLI only parses options and prints. Server clients are imported
inside the commands that need them, so `validate` and `test` start fast. Exit codes: 0 fine (for
`test`: the rule fires), 1 the answer is no (`test`: it would not fire; `validate`: invalid),
2 the question could not be asked (unknown rule, unreadable input, server unreachable).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from enrich.alerts.rules.durations import format_duration
from enrich.alerts.rules.rule_matching import RuleMatcher, explain_rule
from enrich.alerts.rules.rules_config import AlertRulesFile, RuleConfig
from enrich.alerts.rules.rules_watcher import read_rules
from enrich.alerts.rules.snippet import highlight_snippet, plain_snippet
from ingest.common.settings import Settings
from ingest.common.yaml_config import ConfigError

# Fetches a page and extracts it: returns at least "text" (and "title", "language" if known).
FetchPage = Callable[[str], Mapping[str, Any]]


@dataclass(frozen=True)
class CommandResult:
    output: str
    exit_code: int = 0


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _load(settings: Settings, path: Path | None) -> tuple[AlertRulesFile, Path]:
    target = path or settings.alerts_file
    return read_rules(target)[0], target


def _open_es(settings: Settings, es: Any) -> tuple[Any, bool]:
    if es is not None:
        return es, False
    from ingest.common.es_client import make_es

    return make_es(settings), True


def _alerts_index(settings: Settings) -> str:
    from enrich.alerts.engine import alerts_index_name

    return alerts_index_name(settings)


# --- validate -----------------------------------------------------------------------------
def alerts_validate(settings: Settings, path: Path | None = None) -> CommandResult:
    target = path or settings.alerts_file
    if not target.exists():
        return CommandResult(f"{target}: file not found (the worker would run without rules)", 1)
    try:
        config, _ = read_rules(target)
    except ConfigError as exc:
        return CommandResult("\n".join(exc.problems), 1)
    kinds = {t: sum(1 for r in config.rules if r.type == t) for t in ("keyword", "silence")}
    terms = sum(len(r.terms) for r in config.rules)
    return CommandResult(
        f"{target}: OK — {len(config.rules)} rules ({kinds['keyword']} keyword, "
        f"{kinds['silence']} silence, {terms} terms), {len(config.channels)} channels"
    )


# --- list ---------------------------------------------------------------------------------
def _terms_summary(rule: RuleConfig) -> str:
    if rule.type == "silence":
        watched = [f"feed:{f}" for f in rule.feeds] + [f"topic:{t}" for t in rule.topics]
        quiet = format_duration(rule.silent_for) if rule.silent_for else "?"
        return f"silent {quiet}: {', '.join(watched)}"
    parts = []
    for role in ("any", "all", "none"):
        terms: list[str] = getattr(rule, role)
        if terms:
            shown = ", ".join(terms[:3]) + (f" +{len(terms) - 3}" if len(terms) > 3 else "")
            parts.append(f"{role}: {shown}")
    for key in ("topics", "languages", "sources"):
        values: list[str] = getattr(rule, key)
        if values:
            parts.append(f"{key}: {', '.join(values)}")
    return "; ".join(parts)


def _channel_summary(channel: Any, env: Mapping[str, str]) -> str:
    def variable(name: str) -> str:
        return f"{name} ({'set' if env.get(name) else 'NOT SET'})"

    if channel.type in ("webhook", "slack"):
        where = channel.url or f"url from {variable(channel.url_env)}"
        signed = f", signed with {variable(channel.secret_env)}" if channel.secret_env else ""
        return where + signed
    if channel.type == "email":
        return f"{channel.host}:{channel.port} {channel.security} → {', '.join(channel.to)}"
    if channel.type == "kafka":
        return f"topic {channel.topic}" + (f" on {channel.bootstrap}" if channel.bootstrap else "")
    if channel.type == "elasticsearch":
        return f"index {channel.index}" + (f" on {channel.url}" if channel.url else "")
    return f"level {channel.level}"


def alerts_list(settings: Settings, *, es: Any = None,
                env: Mapping[str, str] | None = None) -> CommandResult:
    from elastic_transport import TransportError
    from elasticsearch import ApiError

    from enrich.alerts.alert_store import AlertStore, AlertStoreUnavailable

    try:
        config, path = _load(settings, None)
    except ConfigError as exc:
        return CommandResult("\n".join(exc.problems), 2)
    last: dict[str, datetime] = {}
    note = ""
    client, owned = _open_es(settings, es)
    try:
        last = AlertStore(client, _alerts_index(settings)).last_fired(r.name for r in config.rules)
    except (AlertStoreUnavailable, TransportError, ApiError) as exc:
        note = f"\n(last fired unknown: {type(exc).__name__})"
    finally:
        if owned:
            client.close()
    environment = env if env is not None else os.environ
    lines = [f"{path}", "", f"channels ({len(config.channels)}):"]
    if config.channels:
        lines.append(_table([["NAME", "TYPE", "TARGET"]] + [
            [c.name, c.type, _channel_summary(c, environment)] for c in config.channels
        ]))
    lines += ["", f"rules ({len(config.rules)}):"]
    if config.rules:
        rows = [["NAME", "SEVERITY", "MATCH", "CHANNELS", "REALERT", "LAST FIRED"]]
        for rule in config.rules:
            fired = last.get(rule.name)
            rows.append([
                rule.name + ("" if rule.enabled else " (disabled)"),
                rule.severity,
                _terms_summary(rule),
                ", ".join(rule.channels) or "-",
                format_duration(rule.realert) if rule.realert else "-",
                fired.strftime("%Y-%m-%d %H:%M:%S") if fired else "never",
            ])
        lines.append(_table(rows))
    return CommandResult("\n".join(lines) + note)


# --- test ---------------------------------------------------------------------------------
def _doc_from_file(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    if path.suffix.lower() == ".json":
        doc = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: a JSON file must hold one article object")
        return doc
    if path.suffix.lower() in (".html", ".htm"):
        from ingest.extract.extraction import extract_html

        extracted = extract_html(raw)
        return {"title": extracted.title or "", "text": extracted.text,
                "language": extracted.language}
    return {"text": raw.decode("utf-8")}


def alerts_test(
    settings: Settings,
    rule_name: str,
    *,
    file: Path | None = None,
    url: str | None = None,
    text: str | None = None,
    fetch_page: FetchPage | None = None,
    topics: list[str] | None = None,
    language: str | None = None,
    enrich: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    rules_path: Path | None = None,
) -> CommandResult:
    """Would RULE fire on this input, and on which terms? (`enrich`, when given, adds the
    worker's language and topics to the input, as the stream would.)"""
    if sum(x is not None for x in (file, url, text)) != 1:
        return CommandResult("give exactly one of --file, --url, --text", 2)
    try:
        config, _ = _load(settings, rules_path)
    except ConfigError as exc:
        return CommandResult("\n".join(exc.problems), 2)
    rule = config.rule(rule_name)
    if rule is None:
        known = ", ".join(r.name for r in config.rules[:20]) or "none"
        return CommandResult(f"no rule named {rule_name!r} (rules: {known})", 2)
    try:
        if file is not None:
            doc = _doc_from_file(file)
        elif url is not None:
            if fetch_page is None:
                return CommandResult("--url needs a page fetcher", 2)
            doc = {"url": url, **fetch_page(url)}
        else:
            doc = {"text": text or ""}
    except Exception as exc:  # unreadable file, fetch error, extraction error
        return CommandResult(f"cannot read the input: {type(exc).__name__}: {exc}", 2)
    doc.setdefault("id", "test")
    if enrich is not None:
        doc = enrich(doc)
    if topics is not None:
        doc["topics"] = topics
    if language is not None:
        doc["language"] = language
    verdict = explain_rule(rule, doc)
    lines = [f"rule {rule.name}: {'FIRES' if verdict.fires else 'does not fire'}"]
    lines.append(f"  any:  {', '.join(verdict.any_found) or '-'}"
                 + (f"  (of {len(rule.any)})" if rule.any else ""))
    if rule.all:
        lines.append(f"  all:  found {', '.join(verdict.all_found) or '-'}; "
                     f"missing {', '.join(verdict.all_missing) or '-'}")
    if rule.none:
        lines.append(f"  none: {', '.join(verdict.none_found) or '-'} present")
    lines.append(f"  language: {doc.get('language') or '-'}   topics: "
                 f"{', '.join(doc.get('topics') or []) or '-'}")
    for reason in verdict.reasons:
        lines.append(f"  ✗ {reason}")
    if verdict.any_found or verdict.all_found:
        found = verdict.any_found + verdict.all_found
        scan = RuleMatcher([rule]).scan(doc)
        spans = sorted(s for term in found for s in scan.spans.get(term, []))
        lines.append("  snippet: " + plain_snippet(
            highlight_snippet(scan.text, scan.normalized, spans)
        ))
    return CommandResult("\n".join(lines), 0 if verdict.fires else 1)


# --- history ------------------------------------------------------------------------------
def _deliveries_summary(doc: Mapping[str, Any]) -> str:
    parts = []
    for d in doc.get("deliveries") or []:
        item = f"{d['channel']}:{d['status']}"
        if d.get("attempts", 0) > 1 or d["status"] in ("retrying", "failed"):
            item += f"/{d.get('attempts', 0)}"
        parts.append(item)
    return " ".join(parts) or "-"


def alerts_history(settings: Settings, *, rule: str | None = None, limit: int = 20,
                   es: Any = None) -> CommandResult:
    from elastic_transport import TransportError
    from elasticsearch import ApiError, NotFoundError

    from enrich.alerts.alert_store import AlertStore, AlertStoreUnavailable

    client, owned = _open_es(settings, es)
    try:
        docs = AlertStore(client, _alerts_index(settings)).history(rule, limit)
    except NotFoundError:
        docs = []
    except (AlertStoreUnavailable, TransportError, ApiError) as exc:
        return CommandResult(f"cannot read alert history: {exc}", 2)
    finally:
        if owned:
            client.close()
    if not docs:
        return CommandResult("no alerts" + (f" for rule {rule}" if rule else ""))
    rows = [["FIRED", "RULE", "STATUS", "TITLE", "DELIVERIES"]]
    for doc in docs:
        title = doc.get("title") or doc.get("subject") or ""
        if doc.get("doc_type") == "digest":
            title = f"digest {doc.get('window_start', '')[:16]}–{doc.get('window_end', '')[11:16]}"
        rows.append([
            str(doc.get("fired_at", ""))[:19].replace("T", " "),
            doc.get("rule", ""),
            doc.get("status", ""),
            title[:70],
            _deliveries_summary(doc),
        ])
    return CommandResult(_table(rows))


# --- tail ---------------------------------------------------------------------------------
def format_alert_line(value: bytes) -> str:
    try:
        alert = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return f"(not JSON: {value[:80]!r})"
    when = str(alert.get("fired_at", ""))[:19].replace("T", " ")
    title = alert.get("title") or alert.get("subject") or ""
    terms = ",".join(alert.get("matched_terms") or [])
    return (f"{when}  {alert.get('rule')}  [{alert.get('status', '')}]  {title}"
            + (f"  ({terms})" if terms else "") + (f"  {alert['url']}" if alert.get("url") else ""))


def alerts_tail(
    settings: Settings,
    *,
    out: Callable[[str], None] = print,
    from_beginning: bool = False,
    max_messages: int | None = None,
    idle_timeout_s: float | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Follow `news.alerts`, one line per alert, until stopped (Ctrl-C), `max_messages`, or
    `idle_timeout_s` without a message. Returns the exit code."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap, group_id=None,
            enable_auto_commit=False, client_id="newswatch-alerts-tail",
        )
    except KafkaError as exc:
        out(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc}")
        return 2
    seen = 0
    try:
        partitions = consumer.partitions_for_topic(settings.alerts_topic)
        if not partitions:
            out(f"topic {settings.alerts_topic} does not exist (yet)")
            return 2
        assigned = [TopicPartition(settings.alerts_topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        if from_beginning:
            consumer.seek_to_beginning(*assigned)
        else:
            consumer.seek_to_end(*assigned)
        last = time.monotonic()
        while not (stop is not None and stop.is_set()):
            polled = consumer.poll(timeout_ms=500)
            for records in polled.values():
                for record in records:
                    out(format_alert_line(record.value))
                    seen += 1
                    last = time.monotonic()
                    if max_messages is not None and seen >= max_messages:
                        return 0
            if idle_timeout_s is not None and time.monotonic() - last >= idle_timeout_s:
                return 0
    except KeyboardInterrupt:
        return 0
    finally:
        consumer.close()
    return 0
