"""Rolling the articles alias over: due by its conditions, and every article still stored
exactly once afterwards, whoever writes it again (a redelivery, a reprocess)."""

from __future__ import annotations

import logging
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from pydantic import ValidationError

from enrich.index.article_index import ArticleIndex
from enrich.index.index_rollover import RolloverConditions
from enrich.index.reprocess import reprocess
from enrich.worker.enricher import Enricher
from enrich.worker.loop import run_worker
from ingest.common.es_client import make_es
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from tests.conftest import REPO
from tests.support.articles import make_article
from tests.support.cli import invoke
from tests.support.kafka_tools import produce, produce_articles


def test_conditions_leave_out_what_is_switched_off() -> None:
    conditions = RolloverConditions(max_age="30d", max_primary_shard_size=None, max_docs=5)
    assert conditions.as_request() == {"max_age": "30d", "max_docs": 5}
    assert conditions.enabled
    assert not RolloverConditions().enabled


def test_rollover_settings_are_checked_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_ARTICLES_ROLLOVER_MAX_AGE", "30 days")
    with pytest.raises(ValidationError, match="articles_rollover_max_age"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("NEWSWATCH_ARTICLES_ROLLOVER_MAX_AGE", "")
    monkeypatch.setenv("NEWSWATCH_ARTICLES_ROLLOVER_MAX_PRIMARY_SHARD_SIZE", "50GB")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.articles_rollover_max_age is None  # empty: that condition is off
    assert settings.articles_rollover_max_primary_shard_size == "50gb"
    monkeypatch.setenv("NEWSWATCH_ARTICLES_ROLLOVER_MAX_PRIMARY_SHARD_SIZE", "big")
    with pytest.raises(ValidationError, match="articles_rollover_max_primary_shard_size"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def _stored(es: Elasticsearch, alias: str) -> list[dict[str, Any]]:
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, query={"match_all": {}}, size=100)["hits"]["hits"]
    return [{"id": h["_id"], "index": h["_index"], **h["_source"]} for h in hits]


def _invoke(*args: str) -> str:
    code, output = invoke(*args)
    assert code == 0, output
    return output


def test_after_a_rollover_a_redelivered_article_is_rewritten_where_it_is_stored(
    settings: Settings,
) -> None:
    ensure_topics(settings)
    first = [make_article(n) for n in range(3)]
    produce_articles(settings, first)
    assert run_worker(settings, until_idle_s=1).indexed == 3

    output = _invoke("index", "rollover", "--now")
    assert f"{settings.articles_alias} now writes to {settings.articles_alias}-000002" in output

    edited = make_article(1, title="Story number 1, corrected")
    produce(settings.kafka_bootstrap, settings.articles_topic,
            [(edited.id.encode(), edited.to_bytes()), (b"4", make_article(4).to_bytes())])
    assert run_worker(settings, until_idle_s=1).indexed == 2

    with make_es(settings) as es:
        docs = _stored(es, settings.articles_alias)
    assert Counter(d["id"] for d in docs) == Counter({a.id: 1 for a in [*first, make_article(4)]})
    where = {d["id"]: (d["index"], d["title"]) for d in docs}
    assert where[edited.id] == (f"{settings.articles_alias}-000001", "Story number 1, corrected")
    assert where[make_article(4).id][0] == f"{settings.articles_alias}-000002"


def test_reprocess_after_a_rollover_rewrites_in_place(
    settings: Settings, tmp_path: Path
) -> None:
    ensure_topics(settings)
    produce(settings.kafka_bootstrap, settings.articles_topic,
            [(b"k", make_article(n).to_bytes()) for n in range(3)])
    assert run_worker(settings, until_idle_s=1).indexed == 3
    _invoke("index", "rollover", "--now")

    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    topics = (config / "topics.yaml").read_text(encoding="utf-8")
    bumped = re.sub(r'(?m)^version: "?([^"\n]*)"?$', r'version: "\1-next"', topics, count=1)
    (config / "topics.yaml").write_text(bumped, encoding="utf-8")
    enricher = Enricher.from_config_dir(config)

    with make_es(settings) as es:
        stats = reprocess(es, ArticleIndex(es, settings.articles_alias), enricher)
        docs = _stored(es, settings.articles_alias)
    assert stats.rewritten == 3
    assert len(docs) == 3
    assert {d["index"] for d in docs} == {f"{settings.articles_alias}-000001"}
    assert {d["taxonomy_version"] for d in docs} == {enricher.version.taxonomy}


def test_the_worker_rolls_over_when_a_condition_is_met(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NEWSWATCH_ARTICLES_ROLLOVER_MAX_DOCS", "2")
    monkeypatch.setenv("NEWSWATCH_ARTICLES_ROLLOVER_CHECK_S", "1")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    ensure_topics(settings)
    produce(settings.kafka_bootstrap, settings.articles_topic,
            [(b"k", make_article(n).to_bytes()) for n in range(3)])
    caplog.set_level(logging.INFO, logger="enrich.worker.loop")
    assert run_worker(settings, until_idle_s=4).indexed == 3

    with make_es(settings) as es:
        backing = sorted(es.indices.get_alias(name=settings.articles_alias).body)
    assert backing == [f"{settings.articles_alias}-000001", f"{settings.articles_alias}-000002"]
    rolled = next(r for r in caplog.records if r.getMessage() == "articles index rolled over")
    assert rolled.conditions == ["[max_docs: 2]"]  # type: ignore[attr-defined]


def test_rollover_with_every_condition_off_is_refused_unless_now(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("MAX_AGE", "MAX_PRIMARY_SHARD_SIZE"):
        monkeypatch.setenv(f"NEWSWATCH_ARTICLES_ROLLOVER_{name}", "")
    code, output = invoke("index", "rollover")
    assert code == 1
    assert "every rollover condition is off" in output


def test_a_rollover_not_due_says_so_and_changes_nothing(settings: Settings) -> None:
    ensure_topics(settings)
    produce(settings.kafka_bootstrap, settings.articles_topic, [(b"k", make_article(1).to_bytes())])
    assert run_worker(settings, until_idle_s=1).indexed == 1
    output = _invoke("index", "rollover", "--dry-run")
    assert "[max_age: 30d]: not met" in output
    assert "[max_primary_shard_size: 50gb]: not met" in output
    assert f"still writes to {settings.articles_alias}-000001" in output
