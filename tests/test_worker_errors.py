"""Errors inside a batch, against the real embedded Kafka and Elasticsearch: an unexpected
enrichment error is retried per record before its dead letter, which says what was raised and
where (also in `newswatch dlq list`); an alert rule that raises never costs the article."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from enrich.alerts.rules import rule_matching
from enrich.dlq.dead_letters import DeadLetter
from enrich.worker import metrics
from enrich.worker.enricher import Enricher
from enrich.worker.loop import run_worker
from ingest.common.es_client import make_es
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from ingest.message.article import Article
from tests.conftest import REPO, SHARED
from tests.support.articles import make_article
from tests.support.cli import invoke
from tests.support.kafka_tools import produce_articles, read_all
from tests.support.worker_runs import built_worker

pytestmark = pytest.mark.integration


def _ids(es: Elasticsearch, alias: str) -> set[str]:
    es.indices.refresh(index=alias)
    found = es.search(index=alias, query={"match_all": {}}, size=100, source=False)
    return {hit["_id"] for hit in found["hits"]["hits"]}


def _letters(settings: Settings) -> list[DeadLetter]:
    return [DeadLetter.model_validate_json(r.value)
            for r in read_all(settings.kafka_bootstrap, settings.dlq_topic)]


def _tagger_bug(article: Article) -> None:
    raise RuntimeError(f"tagger broke on {article.id}")


TAGGER_BUG_LINE = _tagger_bug.__code__.co_firstlineno + 1


class _FlakyEnricher(Enricher):
    """Story 2 always raises; story 3 raises on its first attempt only."""

    calls: dict[str, int]

    def enrich(self, article: Article, **kw: Any) -> dict[str, Any]:
        self.calls[article.id] = self.calls.get(article.id, 0) + 1
        if article.title.startswith("Story number 2 "):
            _tagger_bug(article)
        if article.title.startswith("Story number 3 ") and self.calls[article.id] == 1:
            raise ConnectionResetError("gazetteer file read interrupted")
        return super().enrich(article, **kw)


def test_enrichment_errors_are_retried_per_record_then_dead_lettered_with_type_and_place(
    settings: Settings,
) -> None:
    ensure_topics(settings)
    articles = [make_article(n) for n in (1, 2, 3)]
    produce_articles(settings, articles)
    base = Enricher.from_settings(settings)
    enricher = _FlakyEnricher(base.tagger, base.gazetteer)
    enricher.calls = {}
    with built_worker(settings, enricher=enricher) as worker:
        stats = worker.run(until_idle_s=2)
        assert (stats.indexed, stats.dead_lettered) == (2, 1)
        retries = settings.worker_record_retries
        assert enricher.calls == {articles[0].id: 1, articles[1].id: 1 + retries,
                                  articles[2].id: 2}
        assert _ids(worker.es, settings.articles_alias) == {articles[0].id, articles[2].id}

    (letter,) = _letters(settings)
    assert letter.error_kind == "enrich_error" and letter.attempts == 1 + retries
    assert letter.exception == "RuntimeError"
    assert letter.raised_at == f"tests.test_worker_errors:{TAGGER_BUG_LINE}"
    assert Article.from_bytes(letter.value).id == articles[1].id

    code, output = invoke("dlq", "list")
    assert code == 0
    assert f"RuntimeError at tests.test_worker_errors:{TAGGER_BUG_LINE}" in output
    code, output = invoke("dlq", "list", "--json")
    row = json.loads(output)
    assert (row["exception"], row["raised_at"]) == (
        "RuntimeError", f"tests.test_worker_errors:{TAGGER_BUG_LINE}")
    # Every offset was committed: the group has nothing left to read.
    assert run_worker(settings, until_idle_s=1).consumed == 0


RULES = """
rules:
  - name: broken-rule
    any: ["Idlib"]
  - name: idlib-watch
    any: ["Idlib"]
"""


def test_an_alert_rule_that_raises_does_not_cost_the_article(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    (config / "alerts.yaml").write_text(RULES, encoding="utf-8")
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(config))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    real_unmet = rule_matching._unmet

    def unmet(rule: Any, *args: Any) -> list[str]:
        if rule.config.name == "broken-rule":
            raise KeyError("a rule condition nobody wrote a test for")
        return real_unmet(rule, *args)

    monkeypatch.setattr(rule_matching, "_unmet", unmet)
    ensure_topics(settings)
    seed_text = (SHARED / "seed" / "syria-mediation-article.txt").read_text(encoding="utf-8")
    seed = make_article(1, title="Moscow steps up its Syria mediation role", text=seed_text)
    other = make_article(2)
    produce_articles(settings, [seed, other])
    errors_before = metrics.ALERT_EVALUATION_ERRORS._value.get()

    stats = run_worker(settings, until_idle_s=1)

    assert stats.indexed == 2  # the article the broken rule met is indexed all the same
    es = make_es(settings)
    try:
        assert _ids(es, settings.articles_alias) == {seed.id, other.id}
    finally:
        es.close()
    # The other rule still fired on it.
    alerts = read_all(settings.kafka_bootstrap, settings.alerts_topic)
    assert [r.key for r in alerts] == [b"idlib-watch"]
    assert json.loads(alerts[0].value)["article_id"] == seed.id
    # The failure: counted, logged with the rule's name, dead-lettered on its own.
    assert metrics.ALERT_EVALUATION_ERRORS._value.get() == errors_before + 1
    logged = [r for r in caplog.records if getattr(r, "rule", None) == "broken-rule"]
    assert logged and logged[0].levelno == logging.ERROR
    assert logged[0].offset is not None  # type: ignore[attr-defined]
    (letter,) = _letters(settings)
    assert letter.error_kind == "alert_evaluation_error"
    assert "broken-rule" in letter.error
    assert letter.exception == "KeyError"
    assert letter.raised_at is not None
    assert letter.raised_at.startswith("tests.test_worker_errors:")
    assert Article.from_bytes(letter.value).id == seed.id
    assert stats.dead_lettered == 1
