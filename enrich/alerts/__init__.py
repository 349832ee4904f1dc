"""Alerts on keyword matches and silences (issue 5).

What other packages may use (the rest is private to this package), imported lazily like
enrich's own surface, so `newswatch alerts validate` does not load Kafka and HTTP clients:
* `AlertEngine` — evaluate enriched articles, publish alerts, deliver them (see engine.py);
* `load_alert_rules(path)` — validate an alerts.yaml (ConfigError names file:line: field);
* `Alert`, `AlertEvaluationError`, `AlertPublishError`, `AlertRulesFile`, `DrainResult`,
  `PublishResult`;
* `verify_signature(body, header, secret)` — for receivers of the signed webhook;
* the `newswatch alerts …` commands live in `enrich.alerts.cli_commands`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real types for mypy; at run time names load on first use
    from enrich.alerts.alert import Alert
    from enrich.alerts.delivery import DrainResult
    from enrich.alerts.engine import (
        AlertEngine,
        AlertEvaluationError,
        AlertPublishError,
        PublishResult,
    )
    from enrich.alerts.rules.rules_config import AlertRulesFile, load_alert_rules
    from enrich.alerts.signature import verify_signature
    from ingest.common.yaml_config import ConfigError

_PUBLIC = {
    "Alert": "enrich.alerts.alert",
    "AlertEngine": "enrich.alerts.engine",
    "AlertEvaluationError": "enrich.alerts.engine",
    "AlertPublishError": "enrich.alerts.engine",
    "AlertRulesFile": "enrich.alerts.rules.rules_config",
    "ConfigError": "ingest.common.yaml_config",
    "DrainResult": "enrich.alerts.delivery",
    "PublishResult": "enrich.alerts.engine",
    "load_alert_rules": "enrich.alerts.rules.rules_config",
    "verify_signature": "enrich.alerts.signature",
}

__all__ = [
    "Alert",
    "AlertEngine",
    "AlertEvaluationError",
    "AlertPublishError",
    "AlertRulesFile",
    "ConfigError",
    "DrainResult",
    "PublishResult",
    "load_alert_rules",
    "verify_signature",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'enrich.alerts' has no public name {name!r}")
    return getattr(import_module(module), name)
