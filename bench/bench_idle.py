"""Idle worker CPU (issue 16): a `newswatch worker` process with nothing to consume, measured
from /proc over 30 s, beside a bare kafka-python consumer blocked in `poll(timeout_ms=1000)`
on the same server (how the worker polled before; the embedded server answers empty fetches
at once, so that poll spins)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.framework import BenchContext, Row, at_most, info, private_stack, run_settings
from enrich.worker.consumer_lag import group_lag
from infra.embedded_stack import StackEndpoints
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from ingest.message.article import Article, utcnow
from ingest.message.article_producer import make_producer
from ingest.message.canonical_url import article_id

WINDOW_S = 30.0
BASELINE_S = 10.0

_BARE_CONSUMER = """
import sys, time
from kafka import KafkaConsumer
consumer = KafkaConsumer(sys.argv[2], bootstrap_servers=sys.argv[1], group_id=sys.argv[3],
                         enable_auto_commit=False)
while True:
    consumer.poll(timeout_ms=1000)
"""


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _share(pid: int, seconds: float) -> float:
    """Percent of one core the process used over the next `seconds`."""
    before, started = _cpu_s(pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (_cpu_s(pid) - before) / (time.monotonic() - started)


def _produce_one(settings: Settings) -> None:
    url = "https://bench.example/idle"
    article = Article(id=article_id(url), url=url, canonical_url=url, feed="bench",
                      domain="bench.example", title="One article, then nothing",
                      text="A worker that has read everything waits for more.", fetched=utcnow())
    producer = make_producer(settings, client_id="newswatch-bench")
    try:
        producer.send(settings.articles_topic, key=article.id.encode(), value=article.to_bytes())
        producer.flush(60)
    finally:
        producer.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rows(ctx: BenchContext) -> list[Row]:
    with private_stack(ctx) as endpoints:
        return _measure(ctx, endpoints)


def _measure(ctx: BenchContext, endpoints: StackEndpoints) -> list[Row]:
    settings = run_settings(endpoints, ctx, f"i{uuid.uuid4().hex[:8]}")
    ensure_topics(settings)
    worker = subprocess.Popen([sys.executable, "-m", "flows.cli", "worker"], cwd=ctx.repo,
                              env=dict(os.environ))
    try:
        # Idle means: in its group, its one article indexed and committed, nothing left.
        _produce_one(settings)
        deadline = time.monotonic() + 120
        while (time.monotonic() < deadline
               and sum(p.committed for p in group_lag(settings)) < 1):
            time.sleep(0.5)
        if sum(p.committed for p in group_lag(settings)) < 1:
            raise RuntimeError("the worker did not commit its one article within 120 s")
        time.sleep(5)  # past start-up (imports, index checks, the first upkeep)
        worker_share = _share(worker.pid, WINDOW_S)
    finally:
        _stop(worker)
    bare = subprocess.Popen([sys.executable, "-c", _BARE_CONSUMER, settings.kafka_bootstrap,
                             settings.articles_topic, f"{settings.consumer_group}-bare"])
    try:
        time.sleep(5)
        bare_share = _share(bare.pid, BASELINE_S)
    finally:
        _stop(bare)
    return [
        at_most("idle worker CPU over 30 s", "% of a core", 5, round(worker_share, 2)),
        info("bare kafka-python consumer in poll(timeout_ms=1000), idle, same server",
             "% of a core", round(bare_share, 1)),
    ]
