"""The engine as the worker drives it, on the embedded Kafka and Elasticsearch: enriched
documents in, alerts on `news.alerts` and in the alerts index, one signed webhook delivery;
no second alert on redelivery or after a restart; a realert window that survives a restart;
silence rules on a controllable clock; rule changes without a restart; the CLI commands."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from enrich.alerts import AlertEngine, ConfigError
from enrich.alerts.cli_commands import alerts_history, alerts_list, alerts_tail
from enrich.alerts.delivery_state import RetryPolicy
from enrich.alerts.engine import alerts_index_name
from enrich.alerts.webhook_receiver import WebhookReceiver
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from tests.conftest import SHARED

pytestmark = pytest.mark.integration
SECRET = "integration-secret"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


RULES = """\
channels:
  - name: ops-webhook
    type: webhook
    url_env: NEWSWATCH_ALERT_WEBHOOK_URL
    secret_env: NEWSWATCH_WEBHOOK_SECRET
  - {name: log, type: log}
rules:
  - name: idlib-ceasefire
    any: ["Idlib", "إدلب", "İdlib", "Идлиб", "ادلب"]
    all: ["ceasefire"]
    channels: [ops-webhook]
  - name: idlib-watch
    any: ["Idlib", "إدلب"]
    channels: [log]
    realert: 30m
    group_by: [feed]
"""


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(SECRET).start()
    monkeypatch.setenv("NEWSWATCH_ALERT_WEBHOOK_URL", server.url("/newswatch"))
    monkeypatch.setenv("NEWSWATCH_WEBHOOK_SECRET", SECRET)
    yield server
    server.stop()


@pytest.fixture
def stack(settings: Settings, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Settings with a rules file of the test's own, clients, and engines stopped at the end."""
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "alerts.yaml").write_text(RULES, encoding="utf-8")
    own = settings.model_copy(update={"config_dir": config_dir})
    ensure_topics(own)
    es = Elasticsearch(own.es_url)
    producer = KafkaProducer(bootstrap_servers=own.kafka_bootstrap, acks="all")
    engines: list[AlertEngine] = []

    def make(**options: Any) -> AlertEngine:
        options.setdefault("retry", RetryPolicy(base_s=0.05, cap_s=0.2))
        engine = AlertEngine.from_settings(own, es=es, producer=producer, **options)
        engines.append(engine)
        return engine

    yield {"settings": own, "es": es, "make": make, "rules": config_dir / "alerts.yaml"}
    for engine in engines:
        engine.stop()
    producer.close()
    es.close()


def seed_doc(**fields: Any) -> dict[str, Any]:
    text = (SHARED / "seed" / "syria-mediation-article.txt").read_text(encoding="utf-8")
    return {
        "id": "seed-article-0001", "title": "Moscow steps up its Syria mediation role",
        "text": text + "\nA ceasefire in Idlib was on the agenda.",
        "url": "https://example.org/syria-mediation", "canonical_url": "https://example.org/a",
        "published": "2019-02-14T09:00:00+00:00", "fetched": "2024-05-01T11:59:00+00:00",
        "feed": "demo-feed", "domain": "example.org", "language": "en",
        "topics": ["syria", "idlib"], "matches": ["Idlib"], **fields,
    }


def alerts_on_topic(settings: Settings) -> list[Any]:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                             enable_auto_commit=False)
    try:
        partitions = [TopicPartition(settings.alerts_topic, p)
                      for p in consumer.partitions_for_topic(settings.alerts_topic) or []]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list[Any] = []
        for _ in range(6):
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def alert_docs(es: Elasticsearch, settings: Settings, **term: str) -> list[dict[str, Any]]:
    index = alerts_index_name(settings)
    es.indices.refresh(index=index)
    filters = [{"term": {"doc_type": "alert"}}] + [{"term": {k: v}} for k, v in term.items()]
    hits = es.search(index=index, query={"bool": {"filter": filters}}, size=100)["hits"]["hits"]
    return [hit["_source"] for hit in hits]


def test_an_article_fires_to_kafka_the_index_and_one_signed_webhook(
    stack: dict[str, Any], receiver: WebhookReceiver
) -> None:
    settings, es = stack["settings"], stack["es"]
    engine: AlertEngine = stack["make"]()
    engine.start()
    alerts = engine.evaluate(seed_doc())
    assert sorted(a.rule for a in alerts) == ["idlib-ceasefire", "idlib-watch"]
    result = engine.publish(alerts)
    assert sorted(result.created) == sorted(a.id for a in alerts)
    assert engine.drain(15).complete

    (got,) = receiver.received
    assert got.verified and got.path == "/newswatch"
    body = got.json
    assert body["rule"] == "idlib-ceasefire" and body["article_id"] == "seed-article-0001"
    assert body["matched_terms"] == ["Idlib", "ceasefire"]
    assert body["url"] == "https://example.org/syria-mediation"
    assert body["topics"] == ["syria", "idlib"] and "<mark>" in body["snippet"]

    records = alerts_on_topic(settings)
    assert sorted(r.key for r in records) == [b"idlib-ceasefire", b"idlib-watch"]
    assert {json.loads(r.value)["id"] for r in records} == {a.id for a in alerts}

    ceasefire = next(a for a in alerts if a.rule == "idlib-ceasefire")
    stored = es.get(index=alerts_index_name(settings), id=ceasefire.id)["_source"]
    assert stored["status"] == "fired" and stored["article_id"] == "seed-article-0001"
    assert stored["deliveries"][0]["channel"] == "ops-webhook"
    assert stored["deliveries"][0]["status"] == "delivered"


def test_redelivery_and_restart_never_make_a_second_alert(
    stack: dict[str, Any], receiver: WebhookReceiver
) -> None:
    settings, es = stack["settings"], stack["es"]
    engine: AlertEngine = stack["make"]()
    engine.start()
    first = engine.publish(engine.evaluate(seed_doc()))
    again = engine.publish(engine.evaluate(seed_doc()))  # the batch redelivered
    assert len(first.created) == 2 and again.created == []
    assert sorted(again.duplicates) == sorted(first.created)
    assert engine.drain(15).complete
    engine.stop()
    restarted: AlertEngine = stack["make"]()  # a new process re-reading the same article
    restarted.start()
    assert restarted.publish(restarted.evaluate(seed_doc())).created == []
    assert restarted.drain(5).complete
    assert len(receiver.received) == 1
    assert len(alerts_on_topic(settings)) == 2
    assert len(alert_docs(es, settings, rule="idlib-ceasefire")) == 1


def test_realert_window_holds_across_a_restart(stack: dict[str, Any]) -> None:
    settings, es = stack["settings"], stack["es"]
    clock = FakeClock(T0)

    def watch(engine: AlertEngine, n: int, feed: str = "demo-feed") -> str:
        doc = seed_doc(id=f"article-{n:04d}", feed=feed, text="Shelling in Idlib.")
        (alert,) = [a for a in engine.evaluate(doc) if a.rule == "idlib-watch"]
        result = engine.publish([alert])
        if result.suppressed:
            return "suppressed"
        return "fired" if result.created else "duplicate"

    engine: AlertEngine = stack["make"](clock=clock)
    assert watch(engine, 1) == "fired"
    clock.now = T0 + timedelta(minutes=10)
    assert watch(engine, 2) == "suppressed"
    assert watch(engine, 3, feed="other-feed") == "fired"  # group_by: feed
    assert watch(engine, 1) == "duplicate"
    engine.stop()

    restarted: AlertEngine = stack["make"](clock=clock)
    clock.now = T0 + timedelta(minutes=20)
    assert watch(restarted, 4) == "suppressed"  # the window was in the index, not in memory
    clock.now = T0 + timedelta(minutes=31)
    assert watch(restarted, 5) == "fired"

    statuses = {d["article_id"]: d["status"] for d in alert_docs(es, settings, rule="idlib-watch")}
    assert statuses == {"article-0001": "fired", "article-0002": "suppressed",
                        "article-0003": "fired", "article-0004": "suppressed",
                        "article-0005": "fired"}
    on_topic = [json.loads(r.value)["article_id"] for r in alerts_on_topic(settings)]
    assert sorted(on_topic) == ["article-0001", "article-0003", "article-0005"]


def test_silence_rule_fires_on_a_quiet_feed_and_topic_with_a_controllable_clock(
    stack: dict[str, Any],
) -> None:
    settings, es = stack["settings"], stack["es"]
    stack["rules"].write_text(textwrap.dedent("""\
        channels: [{name: log, type: log}]
        rules:
          - {name: feeds-quiet, type: silence, feeds: [busy, quiet, never-seen], silent_for: 6h,
             channels: [log]}
          - {name: any-feed-quiet, type: silence, feeds: ["*"], silent_for: 6h}
          - {name: topics-quiet, type: silence, topics: [syria, iran], silent_for: 6h}
        """), encoding="utf-8")
    articles = settings.articles_alias
    es.indices.create(index=articles, mappings={"properties": {
        "feed": {"type": "keyword"}, "topics": {"type": "keyword"}, "fetched": {"type": "date"}}})

    def arrived(n: int, feed: str, topics: list[str], when: datetime) -> None:
        es.index(index=articles, id=str(n), refresh=True,
                 document={"feed": feed, "topics": topics, "fetched": when.isoformat()})

    arrived(1, "busy", ["syria"], T0 - timedelta(hours=1))
    arrived(2, "quiet", ["syria"], T0 - timedelta(hours=7))
    arrived(3, "quiet", [], T0 - timedelta(hours=9))
    clock = FakeClock(T0 - timedelta(days=1))  # watching since a day ago
    engine: AlertEngine = stack["make"](clock=clock)
    clock.now = T0

    fired = {(a.rule, a.subject) for a in engine.check_silence()}
    assert fired == {("feeds-quiet", "feed:quiet"), ("feeds-quiet", "feed:never-seen"),
                     ("any-feed-quiet", "feed:quiet"), ("topics-quiet", "topic:iran")}
    assert engine.check_silence() == []  # same silences: nothing new

    arrived(4, "quiet", ["syria"], T0 + timedelta(minutes=1))
    clock.now = T0 + timedelta(hours=2)
    assert engine.check_silence() == []  # quiet spoke again; never-seen already reported
    clock.now = T0 + timedelta(hours=6, minutes=2)
    again = {(a.rule, a.subject) for a in engine.check_silence()}
    assert ("feeds-quiet", "feed:quiet") in again and ("any-feed-quiet", "feed:quiet") in again
    docs = alert_docs(es, settings, rule="feeds-quiet", subject="feed:quiet")
    assert len(docs) == 2  # two episodes, two alerts
    assert all(d["trigger"] == "silence" for d in docs)


def test_rule_changes_are_picked_up_without_a_restart(stack: dict[str, Any]) -> None:
    engine: AlertEngine = stack["make"]()
    doc = seed_doc(text="Talks on Aleppo resumed.", title="Aleppo")
    assert engine.evaluate(doc) == []
    rules: Path = stack["rules"]
    rules.write_text(RULES + "  - {name: aleppo, any: [Aleppo, حلب], channels: [log]}\n",
                     encoding="utf-8")
    assert engine.reload_if_changed()
    assert [a.rule for a in engine.evaluate(doc)] == ["aleppo"]
    rules.write_text(RULES + "  - {name: aleppo, any: [Aleppo], channels: [pager]}\n",
                     encoding="utf-8")
    assert not engine.reload_if_changed()  # invalid: the rules in use stay
    assert [a.rule for a in engine.evaluate(doc)] == ["aleppo"]
    # once started, the background step notices changes by itself
    engine.start()
    rules.write_text(RULES + "  - {name: aleppo-ar, any: [حلب, Aleppo], channels: [log]}\n",
                     encoding="utf-8")
    wait_until(lambda: [a.rule for a in engine.evaluate(doc)] == ["aleppo-ar"])


def test_invalid_rules_file_stops_the_engine_and_a_missing_one_means_no_rules(
    stack: dict[str, Any],
) -> None:
    rules: Path = stack["rules"]
    rules.write_text(RULES.replace("realert: 30m", "realert: often"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        stack["make"]()
    assert f"{rules}:15: rules[1].realert" in str(caught.value)
    rules.unlink()
    assert stack["make"]().evaluate(seed_doc()) == []


def test_cli_list_history_and_tail(stack: dict[str, Any], receiver: WebhookReceiver) -> None:
    settings, es = stack["settings"], stack["es"]
    engine: AlertEngine = stack["make"]()
    engine.start()
    engine.publish(engine.evaluate(seed_doc()))
    assert engine.drain(15).complete

    listing = alerts_list(settings, es=es,
                          env={"NEWSWATCH_ALERT_WEBHOOK_URL": "x"})
    assert listing.exit_code == 0
    line = next(ln for ln in listing.output.splitlines() if ln.startswith("idlib-ceasefire"))
    assert "never" not in line and "ops-webhook" in line
    assert "NEWSWATCH_WEBHOOK_SECRET (NOT SET)" in listing.output

    history = alerts_history(settings, es=es, rule="idlib-ceasefire")
    assert history.exit_code == 0
    (row,) = [ln for ln in history.output.splitlines() if "idlib-ceasefire" in ln]
    assert "fired" in row and "ops-webhook:delivered" in row

    lines: list[str] = []
    assert alerts_tail(settings, out=lines.append, from_beginning=True, max_messages=2,
                       idle_timeout_s=10) == 0
    assert len(lines) == 2 and any("idlib-ceasefire" in ln and "[fired]" in ln for ln in lines)
