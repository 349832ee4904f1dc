"""The delivery step against real servers (embedded Elasticsearch, a local signed-webhook
receiver): retries with backoff until a channel recovers, delivers once, reports a channel that
stays down without blocking publishing, resumes after a restart, hands over a dead worker's
deliveries after its lease, and holds digests until their window closes."""

from __future__ import annotations

import logging
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from enrich.alerts import AlertEngine
from enrich.alerts.delivery_state import RetryPolicy
from enrich.alerts.webhook_receiver import WebhookReceiver
from infra.embedded_stack import free_port
from ingest.common.settings import Settings

pytestmark = pytest.mark.integration
SECRET = "delivery-test-secret"


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@pytest.fixture
def es(settings: Settings) -> Iterator[Elasticsearch]:
    client = Elasticsearch(settings.es_url)
    yield client
    client.close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(SECRET).start()
    yield server
    server.stop()


class Engines:
    """Builds engines on one rules file and one alerts index; stops them all at the end."""

    def __init__(self, settings: Settings, es: Elasticsearch, tmp_path: Path) -> None:
        self.settings = settings
        self.es = es
        self.rules = tmp_path / "alerts.yaml"
        self.index = f"{settings.articles_alias.removesuffix('-articles')}-alerts"
        self.started: list[AlertEngine] = []

    def write(self, text: str) -> None:
        self.rules.write_text(textwrap.dedent(text), encoding="utf-8")

    def make(self, *, instance: str = "w0", clock: Callable[[], datetime] | None = None,
             **options: Any) -> AlertEngine:
        if clock is not None:
            options["clock"] = clock
        engine = AlertEngine(
            self.rules, es=self.es, producer=None, alerts_topic=self.settings.alerts_topic,
            alerts_index=self.index, articles_index=self.settings.articles_alias,
            instance_id=instance, env={"HOOK_SECRET": SECRET},
            retry=RetryPolicy(base_s=0.05, cap_s=0.2), resume_every_s=0.2, **options,
        )
        self.started.append(engine)
        return engine

    def doc(self, alert_id: str) -> dict[str, Any]:
        source: dict[str, Any] = self.es.get(index=self.index, id=alert_id)["_source"]
        return source

    def delivery(self, alert_id: str, channel: str) -> dict[str, Any]:
        return next(d for d in self.doc(alert_id)["deliveries"] if d["channel"] == channel)

    def stop_all(self) -> None:
        for engine in self.started:
            engine.stop()


@pytest.fixture
def engines(settings: Settings, es: Elasticsearch, tmp_path: Path) -> Iterator[Engines]:
    factory = Engines(settings, es, tmp_path)
    yield factory
    factory.stop_all()


def rules_with_hook(url: str, *, max_attempts: int = 8, extra_channels: str = "",
                    rule_channels: str = "[hook]", rule_extra: str = "") -> str:
    return f"""\
        channels:
          - {{name: hook, type: webhook, url: "{url}", secret_env: HOOK_SECRET,
             max_attempts: {max_attempts}, timeout_s: 2}}
        {extra_channels}
        rules:
          - {{name: idlib, any: [Idlib, إدلب], channels: {rule_channels} {rule_extra}}}
        """


def article(n: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"article-{n:04d}", "title": f"Report {n} from Idlib",
            "text": "Shelling was reported in Idlib province.", "url": f"https://x.org/{n}",
            "feed": "f", "domain": "x.org", "topics": ["idlib"], "language": "en", **fields}


def test_channel_down_for_a_while_then_recovering_gets_the_alert_once(
    engines: Engines, receiver: WebhookReceiver
) -> None:
    engines.write(rules_with_hook(receiver.url()))
    receiver.fail_next(3, status=503)
    engine = engines.make()
    engine.start()
    (alert,) = engine.evaluate(article(1))
    assert engine.publish([alert]).created == [alert.id]
    wait_until(lambda: engines.delivery(alert.id, "hook")["status"] == "delivered")
    assert receiver.refused == 3
    (got,) = receiver.received
    assert got.verified and got.json["id"] == alert.id
    record = engines.delivery(alert.id, "hook")
    assert record["attempts"] == 4 and "503" in record["last_error"]
    assert engines.doc(alert.id)["delivery_pending"] is False
    # the same article again (redelivery): no second alert, no second delivery
    again = engine.publish(engine.evaluate(article(1)))
    assert again.created == [] and again.duplicates == [alert.id]
    assert engine.drain(5).complete
    assert len(receiver.received) == 1


def test_channel_that_stays_down_is_reported_and_never_blocks_publishing(
    engines: Engines, caplog: pytest.LogCaptureFixture
) -> None:
    engines.write(rules_with_hook(f"http://127.0.0.1:{free_port()}/hook", max_attempts=3))
    engine = engines.make()
    engine.start()
    with caplog.at_level(logging.WARNING):
        results = [engine.publish(engine.evaluate(article(n))) for n in range(1, 4)]
        assert [len(r.created) for r in results] == [1, 1, 1]
        first = results[0].created[0]
        wait_until(lambda: all(engines.delivery(r.created[0], "hook")["status"] == "failed"
                               for r in results))
    record = engines.delivery(first, "hook")
    assert record["attempts"] == 3 and record["last_error"]
    assert any(r.levelno == logging.ERROR and "failed for good" in r.getMessage()
               for r in caplog.records)
    assert engine.drain(2).open == []  # failed is final: nothing left waiting


def test_drain_finishes_reachable_channels_and_reports_unreachable_ones(
    engines: Engines, receiver: WebhookReceiver
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/down"
    engines.write(rules_with_hook(
        receiver.url(), max_attempts=50,
        extra_channels=f'  - {{name: dead, type: webhook, url: "{dead}", max_attempts: 50}}',
        rule_channels="[hook, dead]",
    ))
    engine = engines.make()
    published = [engine.publish(engine.evaluate(article(n))).created[0] for n in range(1, 6)]
    result = engine.drain(20)  # starts the delivery step if it was not running
    assert result.complete
    assert sorted(r.json["id"] for r in receiver.received) == sorted(published)
    assert {(doc_id, channel) for doc_id, channel, _ in result.open} == {
        (doc_id, "dead") for doc_id in published
    }
    assert all(error for _, _, error in result.open)
    assert all(engines.delivery(a, "hook")["status"] == "delivered" for a in published)


def test_open_deliveries_resume_after_a_restart_and_arrive_once(
    engines: Engines, receiver: WebhookReceiver
) -> None:
    engines.write(rules_with_hook(receiver.url(), max_attempts=100))
    receiver.fail_next(10_000, status=503)
    first = engines.make(instance="w0")
    first.start()
    (alert_id,) = first.publish(first.evaluate(article(7))).created
    wait_until(lambda: engines.delivery(alert_id, "hook")["attempts"] >= 2)
    first.stop()  # the worker goes away with the delivery still open
    assert engines.doc(alert_id)["delivery_pending"] is True
    receiver.recover()
    second = engines.make(instance="w0")  # restarted with the same instance id
    second.start()
    wait_until(lambda: engines.delivery(alert_id, "hook")["status"] == "delivered")
    assert second.drain(5).complete
    assert [r.json["id"] for r in receiver.received] == [alert_id]


def test_a_dead_workers_deliveries_are_taken_over_after_its_lease(
    engines: Engines, receiver: WebhookReceiver
) -> None:
    engines.write(rules_with_hook(receiver.url(), max_attempts=100))
    clock = FakeClock(datetime.now(UTC))
    receiver.fail_next(10_000, status=503)
    dead = engines.make(instance="w-dead", clock=clock)
    dead.start()
    (alert_id,) = dead.publish(dead.evaluate(article(9))).created
    wait_until(lambda: engines.delivery(alert_id, "hook")["attempts"] >= 1)
    dead.stop()
    receiver.recover()
    other = engines.make(instance="w-other", clock=clock)
    assert other.deliverer.resume() == 0  # the owner's lease still runs
    clock.advance(minutes=11)
    other.start()
    wait_until(lambda: engines.delivery(alert_id, "hook")["status"] == "delivered")
    assert engines.doc(alert_id)["owner"] == "w-other"
    assert [r.json["id"] for r in receiver.received] == [alert_id]


def test_unconfigured_channel_is_reported_at_once(engines: Engines) -> None:
    engines.write("""\
        channels:
          - {name: hook, type: webhook, url_env: NEWSWATCH_TEST_UNSET_URL}
        rules:
          - {name: idlib, any: [Idlib], channels: [hook]}
        """)
    engine = engines.make()
    (alert_id,) = engine.publish(engine.evaluate(article(3))).created
    assert engine.drain(10).complete
    record = engines.delivery(alert_id, "hook")
    assert record["status"] == "failed" and record["attempts"] == 1
    assert "NEWSWATCH_TEST_UNSET_URL is not set" in record["last_error"]


def test_digest_holds_alerts_until_the_window_closes(
    engines: Engines, receiver: WebhookReceiver
) -> None:
    engines.write(rules_with_hook(receiver.url(), rule_extra=", digest: 1h"))
    clock = FakeClock(datetime(2024, 5, 1, 12, 0, 10, tzinfo=UTC))
    engine = engines.make(clock=clock)
    engine.start()
    results = []
    for n in range(1, 4):
        results.append(engine.publish(engine.evaluate(article(n))))
        clock.advance(minutes=10)
    assert all(len(r.digested) == 1 for r in results)
    assert engine.drain(3).complete  # a digest whose window is open does not hold drain
    assert receiver.received == []
    clock.now = datetime(2024, 5, 1, 13, 0, 1, tzinfo=UTC)
    engine.deliverer.wake()
    wait_until(lambda: len(receiver.received) == 1)
    (got,) = receiver.received
    body = got.json
    assert got.verified and body["event"] == "digest" and body["count"] == 3
    assert body["window_start"].startswith("2024-05-01T12:00:00")
    assert sorted(a["id"] for a in body["alerts"]) == sorted(r.digested[0] for r in results)
    assert all(engines.doc(r.digested[0])["status"] == "digested" for r in results)
    wait_until(lambda: engines.doc(body["id"])["status"] == "sent")
    assert engines.delivery(body["id"], "hook")["status"] == "delivered"
