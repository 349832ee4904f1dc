"""Replayed dead letters are receipted: listed and replayed again only when asked."""

from __future__ import annotations

import json

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from enrich.dlq.dead_letter_admin import read_dead_letters
from enrich.worker.loop import run_worker
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from tests.support.cli import invoke
from tests.support.kafka_tools import produce, read_all


@pytest.fixture
def one_letter(settings: Settings) -> Settings:
    """A DLQ holding one letter: a record that is not JSON."""
    ensure_topics(settings)
    produce(settings.kafka_bootstrap, settings.articles_topic, [(b"k", b"not json")])
    assert run_worker(settings, until_idle_s=1).dead_lettered == 1
    return settings


def test_a_replayed_letter_leaves_the_waiting_list_and_is_not_replayed_twice(
    one_letter: Settings,
) -> None:
    settings = one_letter
    target = settings.alerts_topic  # a scratch topic: the letter would fail again in its own
    assert invoke("dlq", "replay", "--to-topic", target)[1].startswith("replayed 1 dead letters")

    code, output = invoke("dlq", "list")
    assert code == 0
    assert output.strip() == (f"0 dead letters waiting in {settings.dlq_topic}, "
                              "1 replayed (--all shows them)")
    code, output = invoke("dlq", "list", "--all", "--json")
    row = json.loads(output)
    assert row["error_kind"] == "invalid_json" and row["replayed_to"] == target
    assert row["replayed_at"] is not None

    code, output = invoke("dlq", "replay", "--to-topic", target)
    assert "replayed 0 dead letters, skipped 1 replayed before" in output
    assert len(read_all(settings.kafka_bootstrap, target)) == 1

    code, output = invoke("dlq", "replay", "--to-topic", target, "--again")
    assert output.startswith("replayed 1 dead letters")
    assert [r.value for r in read_all(settings.kafka_bootstrap, target)] == [b"not json"] * 2


def test_a_letter_kafka_refuses_to_take_back_stays_waiting(one_letter: Settings) -> None:
    settings = one_letter
    tiny = f"{settings.articles_topic}.tiny"
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    admin.create_topics([NewTopic(tiny, 1, 1, topic_configs={"max.message.bytes": "4"})])
    admin.close()
    code, output = invoke("dlq", "replay", "--to-topic", tiny)
    assert code == 1
    assert "replayed 0 dead letters" in output
    assert "1 dead letters could not be replayed" in output
    assert invoke("dlq", "list")[1].strip().endswith(
        f"1 dead letters waiting in {settings.dlq_topic}")


def test_an_unreadable_receipt_is_skipped_and_the_letter_stays_waiting(
    one_letter: Settings, caplog: pytest.LogCaptureFixture,
) -> None:
    settings = one_letter
    produce(settings.kafka_bootstrap, settings.dlq_replays_topic, [(b"0/0", b"{broken")])
    [stored] = read_dead_letters(settings)
    assert stored.replay is None
    skipped = next(r for r in caplog.records if "unreadable replay receipt" in r.getMessage())
    assert skipped.topic == settings.dlq_replays_topic  # type: ignore[attr-defined]
    assert skipped.offset == 0  # type: ignore[attr-defined]
    code, output = invoke("dlq", "list")
    assert code == 0
    assert output.strip().endswith(f"1 dead letters waiting in {settings.dlq_topic}")
