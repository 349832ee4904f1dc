"""The alert engine the worker drives: evaluate an enriched article, publish what fired before
the offsets are committed, deliver in the background.

    engine = AlertEngine.from_settings(settings, es=es, producer=producer)
    engine.start()                      # delivery + silence checks + rule reloads (a thread)
    alerts = engine.evaluate(doc)       # pure matching, no I/O
    engine.publish(alerts)              # Kafka (acked) then the index; raises AlertPublishError
    engine.drain(timeout_s)             # when `worker --until-idle` exits
    engine.stop()

Publishing order, and why: (1) ids already in the index are dropped — redelivery of an
article never makes a second alert; (2) realert windows are claimed and digest windows chosen;
(3) fired and digested alerts are produced to `news.alerts` keyed by rule and their acks awaited;
(4) the documents are created in the index (`op_type=create`); (5) new alerts with channels go
to the delivery step. A crash anywhere before (4) repeats (2)–(4) on redelivery with the same
outcome (the window names the alert that opened it); a crash after (4) finds the alert present.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from kafka.errors import KafkaError

from enrich.alerts import metrics
from enrich.alerts.alert import Alert, alert_from_match, article_fields
from enrich.alerts.alert_store import AlertStore, AlertStoreUnavailable
from enrich.alerts.channels import ChannelResources
from enrich.alerts.delivery import Deliverer, DeliveryJob, DrainResult
from enrich.alerts.delivery_state import RetryPolicy, initial_deliveries
from enrich.alerts.rules.rule_matching import RuleEvaluationError, RuleFailure, RuleMatch
from enrich.alerts.rules.rules_config import RuleConfig
from enrich.alerts.rules.rules_watcher import RulesWatcher
from enrich.alerts.rules.ruleset import RuleSet
from enrich.alerts.silence import (
    ALL_FEEDS,
    Subject,
    find_silences,
    silence_alert,
    watched_subjects,
)
from enrich.alerts.suppression import DigestWindow, WindowState, digest_window, realert_decision
from ingest.common.settings import Settings

log = logging.getLogger(__name__)


class AlertPublishError(Exception):
    """Kafka or Elasticsearch did not take the batch's alerts: do not commit its offsets."""


class AlertEvaluationError(Exception):
    """Rules raised on an article. `failures` name them; `alerts` are what the other rules
    fired. The article itself is fine: the caller indexes it and records the failures."""

    def __init__(self, failures: list[RuleFailure], alerts: list[Alert]) -> None:
        self.failures = failures
        self.alerts = alerts
        super().__init__("; ".join(f"rule {f.rule!r}: {type(f.error).__name__}: {f.error}"
                                   for f in failures))


@dataclass
class PublishResult:
    created: list[str] = field(default_factory=list)  # new alert documents (any status)
    duplicates: list[str] = field(default_factory=list)  # already in the index: nothing done
    suppressed: list[str] = field(default_factory=list)  # inside a realert window
    digested: list[str] = field(default_factory=list)  # held for their rule's digest
    refused: list[str] = field(default_factory=list)  # the index cannot take them (logged)
    futures: list[Any] = field(default_factory=list)  # news.alerts produce futures (acked)


def utcnow() -> datetime:
    return datetime.now(UTC)


def alerts_index_name(settings: Settings) -> str:
    return settings.alerts_index


class AlertEngine:
    def __init__(
        self,
        rules_file: Path | None,
        *,
        es: Any,
        producer: Any,
        alerts_topic: str,
        alerts_index: str,
        articles_index: str,
        instance_id: str,
        clock: Callable[[], datetime] = utcnow,
        retry: RetryPolicy | None = None,
        env: Mapping[str, str] | None = None,
        user_agent: str = "newswatch-alerts",
        reload_check_s: float = 1.0,
        silence_check_s: float = 60.0,
        resume_every_s: float = 60.0,
        lease: timedelta = timedelta(minutes=10),
        kafka_timeout_s: float = 30.0,
        senders: int = 4,
        shards: int = 1,
        replicas: int = 0,
    ) -> None:
        self._clock = clock
        self._producer = producer
        self._alerts_topic = alerts_topic
        self._articles_index = articles_index
        self._kafka_timeout_s = kafka_timeout_s
        self._lease = lease
        self._http = httpx.Client(follow_redirects=False)
        self._resources = ChannelResources(
            http=self._http, es=es, producer=producer,
            env=env if env is not None else os.environ, user_agent=user_agent,
        )
        # ConfigError here stops the service: an invalid file must not mean "no alerts".
        self._watcher: RulesWatcher[RuleSet] = RulesWatcher(
            rules_file, lambda config: RuleSet.compile(config, self._resources),
            check_every_s=reload_check_s,
        )
        self.store = AlertStore(es, alerts_index, shards=shards, replicas=replicas)
        self._store_ready = False
        self._publish_lock = threading.Lock()
        self._digests_created: set[str] = set()
        self._watching_since = clock()
        self._silence_check_s = silence_check_s
        self._next_silence_check = time.monotonic() + silence_check_s
        self.deliverer = Deliverer(
            self.store, lambda: self._watcher.current.channels, owner=instance_id, clock=clock,
            policy=retry, lease=lease, senders=senders, resume_every_s=resume_every_s,
            on_tick=self._tick,
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, es: Any, producer: Any, **options: Any
    ) -> AlertEngine:
        """Loads `settings.alerts_file` (ConfigError if invalid; a missing file = no rules)."""
        options.setdefault(
            "instance_id", settings.worker_instance or f"{socket.gethostname()}-0"
        )
        options.setdefault("alerts_index", alerts_index_name(settings))
        options.setdefault("user_agent", settings.user_agent)
        options.setdefault("shards", settings.es_shards)
        options.setdefault("replicas", settings.es_replicas)
        return cls(
            settings.alerts_file, es=es, producer=producer, alerts_topic=settings.alerts_topic,
            articles_index=settings.articles_alias, **options,
        )

    # --- rules ------------------------------------------------------------------------------
    @property
    def rules(self) -> RuleSet:
        return self._watcher.current

    def reload_if_changed(self) -> bool:
        return self._watcher.reload_if_changed()

    # --- evaluation (the worker's thread, per article) ---------------------------------------
    def evaluate(self, doc: Mapping[str, Any]) -> list[Alert]:
        """The alerts this enriched article fires (no I/O). Rule changes are picked up by the
        background step once started (compiling 10,000 rules takes seconds: not on the
        ingestion path), else here, looking at the file at most once a second."""
        if not self.deliverer.running:  # once started, the background step reloads
            self._watcher.maybe_reload()
        failures: list[RuleFailure] = []
        try:
            matches = self._watcher.current.matcher.match(doc)
        except RuleEvaluationError as exc:
            matches, failures = exc.matches, list(exc.failures)
        except Exception as exc:  # the scan itself: no rule could be checked
            raise AlertEvaluationError([RuleFailure("*", exc)], []) from exc
        alerts = self._alerts_of(matches, doc, failures) if matches else []
        if failures:
            raise AlertEvaluationError(failures, alerts)
        return alerts

    def _alerts_of(self, matches: list[RuleMatch], doc: Mapping[str, Any],
                   failures: list[RuleFailure]) -> list[Alert]:
        """The alert of each match; one that cannot be built joins `failures`."""
        now = self._clock()
        try:
            fields = article_fields(doc)
            matches[0].scan.prepare_snippets(match.terms for match in matches)
        except Exception as exc:
            failures.extend(RuleFailure(m.rule.name, exc) for m in matches)
            return []
        alerts = []
        for match in matches:
            try:
                alerts.append(alert_from_match(match, doc, now, fields))
            except Exception as exc:
                failures.append(RuleFailure(match.rule.name, exc))
        return alerts

    # --- publishing (the worker's thread, before the offset commit) --------------------------
    def publish(self, alerts: Sequence[Alert]) -> PublishResult:
        unique = list({alert.id: alert for alert in alerts}.values())
        result = PublishResult()
        if not unique:
            return result
        with self._publish_lock:
            try:
                self._ensure_store()
                present = self.store.existing([a.id for a in unique])
                fresh = [a for a in unique if a.id not in present]
                result.duplicates = [a.id for a in unique if a.id in present]
                ruleset = self._watcher.current
                decided = [(a, *self._decide(ruleset.rules.get(a.rule), a)) for a in fresh]
                result.futures = self._produce(decided)
                now = self._clock()
                docs = [self._alert_doc(a, status, window, now) for a, status, window in decided]
                created, refused = self.store.create_many(docs)
                self._create_digests(ruleset, decided, created)
            except AlertStoreUnavailable as exc:
                raise AlertPublishError(str(exc)) from exc
        for alert, status, _window in decided:
            if alert.id in refused:
                result.refused.append(alert.id)
                metrics.ALERTS.labels("refused").inc()
                log.error("alert refused by the alerts index (it is on the alerts topic)",
                          extra={"alert": alert.id, "rule": alert.rule,
                                 "error": refused[alert.id][:500]})
                continue
            if alert.id not in created:
                result.duplicates.append(alert.id)
                continue
            result.created.append(alert.id)
            if status == "suppressed":
                result.suppressed.append(alert.id)
            elif status == "digested":
                result.digested.append(alert.id)
            elif alert.channels:
                self.deliverer.submit(DeliveryJob(
                    alert.id, "alert", alert.rule, initial_deliveries(alert.channels),
                    alert=alert, searchable_at=now,
                ))
            metrics.ALERTS.labels(status).inc()
            log.info("alert " + status, extra={"alert": alert.id, "rule": alert.rule,
                                               "article": alert.article_id or alert.subject})
        metrics.ALERTS.labels("duplicate").inc(len(result.duplicates))
        return result

    def _ensure_store(self) -> None:
        if not self._store_ready:
            self.store.ensure()
            self._store_ready = True

    def _decide(self, rule: RuleConfig | None, alert: Alert) -> tuple[str, DigestWindow | None]:
        if (
            rule is not None
            and rule.realert is not None
            and self._realert(rule.realert, alert) == "suppress"
        ):
            return "suppressed", None
        if rule is not None and rule.digest is not None:
            return "digested", digest_window(rule.name, alert.group_key, rule.digest,
                                             alert.fired_at)
        return "fired", None

    def _realert(self, realert: timedelta, alert: Alert) -> str:
        for _ in range(5):
            state, version = self.store.window(alert.rule, alert.group_key)
            decision = realert_decision(realert, state, alert.id, alert.fired_at)
            if decision == "suppress" or (state and state.last_alert_id == alert.id):
                return decision
            opened = WindowState(alert.fired_at, alert.id)
            if self.store.claim_window(alert.rule, alert.group_key, opened, version):
                return "fire"
        raise AlertStoreUnavailable(f"realert window of rule {alert.rule!r} keeps changing")

    def _produce(self, decided: list[tuple[Alert, str, DigestWindow | None]]) -> list[Any]:
        if self._producer is None:
            return []
        futures = []
        try:
            for alert, status, _window in decided:
                if status == "suppressed":
                    continue
                value = {"event": "alert", "status": status, **alert.payload()}
                futures.append(self._producer.send(
                    self._alerts_topic, key=alert.rule.encode("utf-8"),
                    value=json.dumps(value, ensure_ascii=False).encode("utf-8"),
                    headers=[("alert_id", alert.id.encode())],
                ))
            for future in futures:
                future.get(timeout=self._kafka_timeout_s)
        except KafkaError as exc:
            raise AlertPublishError(f"{self._alerts_topic}: {type(exc).__name__}: {exc}") from exc
        return futures

    def _alert_doc(self, alert: Alert, status: str, window: DigestWindow | None,
                   now: datetime) -> dict[str, Any]:
        deliver = status == "fired" and bool(alert.channels)
        return {
            **alert.payload(),
            "doc_type": "alert",
            "status": status,
            "digest_id": window.id if window else None,
            "indexed_at": now.isoformat(),
            "deliveries": [d.model_dump(mode="json")
                           for d in initial_deliveries(alert.channels if deliver else [])],
            "delivery_pending": deliver,
            "owner": self.deliverer.owner,
            "lease_until": self.deliverer.lease_until().isoformat(),
        }

    def _create_digests(self, ruleset: RuleSet,
                        decided: list[tuple[Alert, str, DigestWindow | None]],
                        created: set[str]) -> None:
        for alert, _status, window in decided:
            if window is None or alert.id not in created or window.id in self._digests_created:
                continue
            rule = ruleset.rules.get(alert.rule)
            channels = list(rule.channels) if rule else alert.channels
            if not channels:
                continue
            doc = {
                "doc_type": "digest", "id": window.id, "rule": alert.rule,
                "severity": alert.severity, "group_key": alert.group_key, "status": "open",
                "fired_at": window.start.isoformat(),
                "window_start": window.start.isoformat(), "window_end": window.end.isoformat(),
                "not_before": window.end.isoformat(), "channels": channels,
                "deliveries": [d.model_dump(mode="json") for d in initial_deliveries(channels)],
                "delivery_pending": True, "owner": self.deliverer.owner,
                "lease_until": self.deliverer.lease_until(window.end).isoformat(),
            }
            if self.store.create_if_absent(doc):
                self.deliverer.submit(DeliveryJob.from_doc(doc))
            self._digests_created.add(window.id)

    # --- dead-man's switch -------------------------------------------------------------------
    def check_silence(self, now: datetime | None = None) -> list[Alert]:
        """Evaluate silence rules against the articles index; publish and return new alerts."""
        now = now or self._clock()
        alerts: list[Alert] = []
        for rule in self._watcher.current.silence_rules:
            last_seen = self._last_seen(rule)
            for silence in find_silences(rule, last_seen, now, self._watching_since):
                alerts.append(silence_alert(silence, now))
        if not alerts:
            return []
        result = self.publish(alerts)
        created = set(result.created)
        return [alert for alert in alerts if alert.id in created]

    def _last_seen(self, rule: RuleConfig) -> dict[Subject, datetime | None]:
        seen: dict[Subject, datetime | None] = dict.fromkeys(watched_subjects(rule))
        if rule.feeds:
            named = [f for f in rule.feeds if f != ALL_FEEDS]
            everything = ALL_FEEDS in rule.feeds
            latest = self.store.latest_by_term(
                self._articles_index, "feed", "fetched", None if everything else named
            )
            for feed, when in latest.items():
                seen[("feed", feed)] = when
        if rule.topics:
            latest = self.store.latest_by_term(
                self._articles_index, "topics", "fetched", rule.topics
            )
            for topic, when in latest.items():
                if ("topic", topic) in seen:
                    seen[("topic", topic)] = when
        return seen

    # --- background -------------------------------------------------------------------------
    def _tick(self) -> None:
        self._watcher.maybe_reload()
        if time.monotonic() >= self._next_silence_check:
            self._next_silence_check = time.monotonic() + self._silence_check_s
            if self._watcher.current.silence_rules:
                try:
                    self.check_silence()
                except (AlertPublishError, AlertStoreUnavailable) as exc:
                    log.warning("silence check failed", extra={"error": str(exc)})

    def start(self) -> None:
        """Start the delivery step (which also resumes open deliveries from the index)."""
        try:
            self._ensure_store()
        except AlertStoreUnavailable as exc:  # the step retries when the index is back
            log.warning("alerts index unavailable at start", extra={"error": str(exc)})
        self.deliverer.start()

    def drain(self, timeout_s: float) -> DrainResult:
        """Wait until deliveries that reachable channels can take are done."""
        return self.deliverer.drain(timeout_s)

    def stop(self) -> None:
        self.deliverer.stop()
        for channel in self._watcher.current.channels.values():
            close = getattr(channel, "close", None)
            if close is not None:
                close()
        self._http.close()
