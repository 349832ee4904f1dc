"""Alerts through the worker: a rule fires on an indexed article, one signed webhook delivery,
and a redelivery of the same article sends nothing more."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from enrich.alerts.webhook_receiver import WebhookReceiver
from enrich.worker.loop import run_worker
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from tests.conftest import REPO, SHARED
from tests.support.articles import make_article
from tests.support.kafka_tools import produce_articles, read_all


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> WebhookReceiver:
    hook = WebhookReceiver("s3cret").start()
    monkeypatch.setenv("NEWSWATCH_ALERT_WEBHOOK_URL", hook.url())
    monkeypatch.setenv("NEWSWATCH_WEBHOOK_SECRET", "s3cret")
    return hook


def test_seed_article_fires_one_signed_webhook_delivery_and_never_twice(
    settings: Settings, receiver: WebhookReceiver, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    shutil.copy(REPO / "tests" / "fixtures" / "alerts" / "webhook-rules.yaml",
                config / "alerts.yaml")
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(config))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    ensure_topics(settings)
    seed_text = (SHARED / "seed" / "syria-mediation-article.txt").read_text(encoding="utf-8")
    seed = make_article(1, title="Moscow steps up its Syria mediation role", text=seed_text)
    other = make_article(2)
    produce_articles(settings, [seed, other])

    assert run_worker(settings, until_idle_s=1).indexed == 2
    assert len(receiver.received) == 1  # delivered before the idle worker exited
    delivery = receiver.received[0]
    assert delivery.verified
    assert delivery.headers["x-newswatch-signature"].startswith("sha256=")
    body = delivery.json
    assert body["rule"] == "idlib-talks"
    assert body["article_id"] == seed.id
    assert {"syria", "idlib", "iran"} <= set(body["topics"])
    alerts = read_all(settings.kafka_bootstrap, settings.alerts_topic)
    assert [r.key for r in alerts] == [b"idlib-talks"]
    assert json.loads(alerts[0].value)["article_id"] == seed.id

    # The same article again (a replay): no second alert, no second delivery.
    produce_articles(settings, [seed])
    assert run_worker(settings, until_idle_s=1).indexed == 1
    assert len(receiver.received) == 1
    assert len(read_all(settings.kafka_bootstrap, settings.alerts_topic)) == 1
