"""The enrichment worker against the real embedded Kafka and Elasticsearch: the seed article
end to end, poison messages, rejected documents, and a SIGKILL mid-batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from typing import Any

from elasticsearch import Elasticsearch

from enrich.dlq.dead_letters import DeadLetter
from enrich.search.search import search_articles
from enrich.worker.enricher import Enricher
from enrich.worker.loop import EnrichWorker, run_worker
from flows.demo_site_server import DemoSite
from ingest.common.es_client import make_es
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from ingest.feeds.feeds_config import FeedConfig
from ingest.message.article import Article
from ingest.poll.poll_run import poll_once
from tests.support.articles import make_article
from tests.support.kafka_tools import produce, produce_articles, read_all
from tests.support.worker_runs import built_worker


def _ids(es: Elasticsearch, alias: str) -> list[str]:
    es.indices.refresh(index=alias)
    found = es.search(index=alias, query={"match_all": {}}, size=10000, source=False)
    return [hit["_id"] for hit in found["hits"]["hits"]]


def test_seed_article_end_to_end_tagged_searchable_highlighted(settings: Settings) -> None:
    site = DemoSite().start()
    try:
        feeds = [FeedConfig(name="demo", url=f"{site.base_url}/feed.xml")]  # type: ignore[arg-type]
        assert poll_once(settings, feeds).produced == 4
    finally:
        site.stop()
    stats = run_worker(settings, until_idle_s=2)
    assert stats.indexed == 4 and stats.dead_lettered == 0
    es = make_es(settings)
    try:
        es.indices.refresh(index=settings.articles_alias)
        _, hits = search_articles(es, settings.articles_alias, "Idlib")
        assert "/world/syria-mediation.html" in hits[0].url
        assert set(hits[0].topics) == {"syria", "idlib", "iran"}
        assert any("<em>Idlib</em>" in fragment for fragment in hits[0].highlight)
        # The Arabic report from Idlib is found by its topic, not by the Latin word.
        _, by_topic = search_articles(es, settings.articles_alias, "", topic="idlib")
        assert {h.url.split("?")[0].rsplit("/", 1)[-1] for h in by_topic} == {
            "syria-mediation.html",
            "idlib-shelling.html",
        }
        docs = {
            h["_source"]["title"]: h["_source"]
            for h in es.search(index=settings.articles_alias, query={"match_all": {}}, size=10)[
                "hits"
            ]["hits"]
        }
    finally:
        es.close()
    lookalike = next(d for t, d in docs.items() if t.startswith("Assyrian"))
    assert lookalike["topics"] == []
    unrelated = next(d for t, d in docs.items() if t.startswith("Harbour"))
    assert unrelated["topics"] == []
    seed = next(d for t, d in docs.items() if "mediation" in t)
    assert seed["language"] == "en"
    assert "Idlib" in seed["matches"] or "idlib" in [m.lower() for m in seed["matches"]]

    # Redelivery of everything overwrites: same count, no duplicates.
    stats_again = _replay_all(settings)
    assert stats_again == 4
    es = make_es(settings)
    try:
        assert len(_ids(es, settings.articles_alias)) == 4
    finally:
        es.close()


def _replay_all(settings: Settings) -> int:
    records = read_all(settings.kafka_bootstrap, settings.articles_topic)
    produce(settings.kafka_bootstrap, settings.articles_topic, [(r.key, r.value) for r in records])
    return run_worker(settings, until_idle_s=2).indexed


def test_poison_messages_go_to_dlq_and_the_worker_goes_on(settings: Settings) -> None:
    ensure_topics(settings)
    good = make_article(1)
    wrong_version = json.loads(make_article(2).to_bytes())
    wrong_version["schema_version"] = 99
    produce(
        settings.kafka_bootstrap,
        settings.articles_topic,
        [
            (b"bad-json", b"{not json"),
            (b"v99", json.dumps(wrong_version).encode()),
            (b"not-utf8", b"\xff\xfe\x00garbage"),
            (b"no-fields", b'{"schema_version": 1, "id": "x"}'),
            (good.id.encode(), good.to_bytes()),
        ],
    )
    stats = run_worker(settings, until_idle_s=2)
    assert (stats.indexed, stats.dead_lettered) == (1, 4)
    letters = [
        DeadLetter.model_validate_json(r.value)
        for r in read_all(settings.kafka_bootstrap, settings.dlq_topic)
    ]
    kinds = {letter.key: letter.error_kind for letter in letters}
    assert kinds == {
        b"bad-json": "invalid_json",
        b"v99": "unsupported_schema",
        b"not-utf8": "invalid_utf8",
        b"no-fields": "invalid_schema",
    }
    bad = next(letter for letter in letters if letter.key == b"bad-json")
    assert bad.value == b"{not json"
    assert bad.topic == settings.articles_topic and bad.offset >= 0
    assert "not JSON" in bad.error
    # Everything was committed: a new run of the same group finds nothing to do.
    assert run_worker(settings, until_idle_s=1).consumed == 0


class _BrokenFieldEnricher(Enricher):
    """Adds a field the strict mapping refuses to one article: a real 400 from Elasticsearch."""

    def enrich(self, article: Article, **kw: Any) -> dict[str, Any]:
        doc = super().enrich(article, **kw)
        if article.title.startswith("Story number 2 "):
            doc["unexpected_field"] = "x"
        return doc


def test_document_rejected_by_elasticsearch_is_dead_lettered(settings: Settings) -> None:
    ensure_topics(settings)
    articles = [make_article(n) for n in (1, 2, 3)]
    produce_articles(settings, articles)
    base = Enricher.from_settings(settings)
    with built_worker(settings, enricher=_BrokenFieldEnricher(base.tagger, base.gazetteer)) \
            as worker:
        stats = worker.run(until_idle_s=2)
        assert (stats.indexed, stats.dead_lettered) == (2, 1)
        assert sorted(_ids(worker.es, settings.articles_alias)) == sorted(
            [articles[0].id, articles[2].id])
    letters = [
        DeadLetter.model_validate_json(r.value)
        for r in read_all(settings.kafka_bootstrap, settings.dlq_topic)
    ]
    assert [letter.error_kind for letter in letters] == ["rejected_by_index"]
    assert "HTTP 400" in letters[0].error and "strict_dynamic_mapping" in letters[0].error
    assert Article.from_bytes(letters[0].value).id == articles[1].id


def test_worker_killed_mid_batch_loses_nothing(settings: Settings) -> None:
    ensure_topics(settings)
    articles = [make_article(n) for n in range(1500)]
    produce_articles(settings, articles)
    env = dict(os.environ, NEWSWATCH_WORKER_BATCH_SIZE="20", NEWSWATCH_LOG_LEVEL="WARNING")
    command = [sys.executable, "-m", "flows.cli", "worker", "--until-idle", "3"]
    es = make_es(settings)
    victim = subprocess.Popen(command, env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            count = (
                es.count(index=settings.articles_alias)["count"]
                if es.indices.exists_alias(name=settings.articles_alias)
                else 0
            )
            if count >= 60:
                break
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        indexed_before_kill = len(_ids(es, settings.articles_alias))
        assert indexed_before_kill < len(articles), "worker finished before it could be killed"
        survivor = subprocess.run(command, env=env, timeout=300)
        assert survivor.returncode == 0
        ids = _ids(es, settings.articles_alias)
        assert sorted(ids) == sorted(a.id for a in articles)
    finally:
        if victim.poll() is None:
            victim.kill()
        es.close()


class _AdmittedLate:
    """The worker's consumer on a broker that admits the member only after `delay_s` (Tansu
    does after about 6 s; real Kafka holds a new group's first join for
    group.initial.rebalance.delay.ms): until then no assignment and no records."""

    def __init__(self, consumer: Any, delay_s: float) -> None:
        self._consumer = consumer
        self._admitted_at = time.monotonic() + delay_s

    def _waiting(self) -> float:
        return max(0.0, self._admitted_at - time.monotonic())

    def assignment(self) -> Any:
        return set() if self._waiting() else self._consumer.assignment()

    def poll(self, timeout_ms: int = 0, **kwargs: Any) -> Any:
        wait = self._waiting()
        if wait:
            time.sleep(min(wait, timeout_ms / 1000))
            return {}
        return self._consumer.poll(timeout_ms=timeout_ms, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._consumer, name)


def _late_worker(settings: Settings, delay_s: float) -> AbstractContextManager[EnrichWorker]:
    return built_worker(settings, wrap_consumer=lambda consumer: _AdmittedLate(consumer, delay_s))


def test_until_idle_counts_from_the_first_assignment(settings: Settings) -> None:
    """Admitted 3 s late, a worker told to leave after 1 idle second still consumes the
    backlog: idle time starts with its partitions, not with the process."""
    ensure_topics(settings)
    articles = [make_article(n) for n in (1, 2, 3)]
    produce_articles(settings, articles)
    with _late_worker(settings, delay_s=3) as worker:
        stats = worker.run(until_idle_s=1)
    assert stats.indexed == 3


def test_a_member_never_assigned_still_leaves(settings: Settings) -> None:
    """More workers than partitions: one that never gets a partition leaves after the idle
    time plus one session timeout instead of waiting for ever."""
    ensure_topics(settings)
    short = settings.model_copy(update={"worker_session_timeout_ms": 3000})
    with _late_worker(short, delay_s=3600) as worker:
        stats = worker.run(until_idle_s=1)
    assert stats.consumed == 0
