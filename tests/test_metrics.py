"""Every stage counts what it does; a worker serves its metrics over HTTP when asked."""

from __future__ import annotations

import httpx

from enrich.worker import run_worker
from infra.embedded_stack import free_port
from ingest.kafka_topics import ensure_topics
from ingest.settings import Settings
from tests.support.articles import make_article
from tests.support.kafka_tools import produce


def test_worker_serves_prometheus_metrics(settings: Settings) -> None:
    port = free_port()
    settings = settings.model_copy(update={"metrics_port": port})
    ensure_topics(settings)
    produce(settings.kafka_bootstrap, settings.articles_topic,
            [(b"bad", b"{"), *((a.id.encode(), a.to_bytes()) for a in map(make_article, range(3)))])
    assert run_worker(settings, until_idle_s=1).indexed == 3
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples = {line.split(" ")[0]: float(line.split(" ")[1])
               for line in text.splitlines() if line and not line.startswith("#")}
    assert samples["newswatch_articles_indexed_total"] >= 3
    assert samples['newswatch_dead_letters_total{kind="invalid_json"}'] >= 1
    assert samples['newswatch_offset_commits_total{outcome="ok"}'] >= 1
    lags = [v for k, v in samples.items() if k.startswith("newswatch_consumer_lag{")]
    assert lags and all(v == 0 for v in lags)
