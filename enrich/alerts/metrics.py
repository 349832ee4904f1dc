"""Prometheus metrics of the alerting step. No per-rule labels: with thousands of rules that
would be thousands of series; `newswatch alerts history` answers per-rule questions."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

RULES_LOADED = Gauge("newswatch_alert_rules", "Alert rules in use, by type", ["type"])
RULE_RELOADS = Counter("newswatch_alert_rule_reloads_total", "Rules file reloads", ["outcome"])
ALERTS = Counter(
    "newswatch_alerts_total",
    "Alerts published, by outcome (fired, digested, suppressed, duplicate, refused)",
    ["outcome"],
)
DELIVERIES = Counter(
    "newswatch_alert_deliveries_total",
    "Delivery attempts by channel and outcome (delivered, retry, failed)",
    ["channel", "outcome"],
)
DELIVERIES_OPEN = Gauge("newswatch_alert_deliveries_open", "Deliveries not yet done or failed")
