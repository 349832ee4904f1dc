"""`make demo`: the whole pipeline, offline, on a small local site of the project's own.

A local HTTP server serves a feed and its pages (the seed article, an Arabic report from Idlib,
a look-alike about Assyrian reliefs, an unrelated local story); one poll run produces them to
Kafka, one worker indexes them, and the search for "Idlib" is printed with highlights and topics.
The demo uses its own topics and indices (`newswatch-demo-*`) and starts from empty ones, so it
never mixes with what `make run` collected.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from elasticsearch import NotFoundError

from enrich.alerts.webhook_receiver import WebhookReceiver
from enrich.search.search import search_articles
from enrich.worker.loop import run_worker
from flows.demo_site_server import DemoSite
from flows.endpoints import endpoints_of
from infra.embedded_stack import stack_down, stack_up
from ingest.common.es_client import make_es
from ingest.common.settings import Settings
from ingest.feeds.feeds_config import FeedConfig
from ingest.poll.poll_run import poll_once

DEMO_SECRET = "newswatch-demo-secret"


def demo_config_dir(settings: Settings, into: Path) -> Path:
    """The configured taxonomy and gazetteers, with the demo's own alert rules."""
    into.mkdir(parents=True, exist_ok=True)
    for name in ("topics.yaml", "topic_model.yaml", "actors.yaml", "places.yaml"):
        shutil.copy(settings.config_dir / name, into / name)
    rules = resources.files("flows").joinpath("demo_site/alerts.yaml").read_text("utf-8")
    (into / "alerts.yaml").write_text(rules, encoding="utf-8")
    return into


def demo_settings(settings: Settings, config_dir: Path) -> Settings:
    return settings.model_copy(
        update={
            "articles_topic": "newswatch-demo.articles",
            "alerts_topic": "newswatch-demo.alerts",
            "dlq_topic": "newswatch-demo.dlq",
            "articles_alias": "newswatch-demo-articles",
            "alerts_index": "newswatch-demo-alerts",
            "feeds_index": "newswatch-demo-feeds",
            "consumer_group": "newswatch-demo",
            "worker_instance": "newswatch-demo-0",
            "allow_private_networks": True,
            "config_dir": config_dir,
        }
    )


def _reset_indices(settings: Settings) -> None:
    es = make_es(settings)
    try:
        names = [settings.feeds_index, settings.seen_index, settings.alerts_index,
                 settings.dedup_index]
        if es.indices.exists_alias(name=settings.articles_alias):
            names += list(es.indices.get_alias(name=settings.articles_alias).body)
        for name in names:
            with contextlib.suppress(NotFoundError):
                es.indices.delete(index=name)
    finally:
        es.close()


def run_demo(base: Settings, *, query: str = "Idlib") -> int:
    scratch = Path(tempfile.mkdtemp(prefix="newswatch-demo-"))
    settings = demo_settings(base, demo_config_dir(base, scratch / "config"))
    endpoints = endpoints_of(settings)
    started = stack_up(endpoints)
    site = DemoSite().start()
    hook = WebhookReceiver(DEMO_SECRET).start()
    os.environ["NEWSWATCH_ALERT_WEBHOOK_URL"] = hook.url()
    os.environ["NEWSWATCH_WEBHOOK_SECRET"] = DEMO_SECRET
    try:
        _reset_indices(settings)
        print(f"demo site at {site.base_url}/feed.xml")
        feeds = [FeedConfig(name="demo-site", url=f"{site.base_url}/feed.xml",  # type: ignore[arg-type]
                            language=None)]
        report = poll_once(settings, feeds)
        summary = report.summary()
        print(f"poll: {summary['new_entries']} new entries, "
              f"{summary['articles_produced']} articles produced to {settings.articles_topic}")
        stats = run_worker(settings, until_idle_s=3.0)
        print(f"worker: {stats.indexed} articles indexed into {settings.articles_alias}, "
              f"{stats.dead_lettered} dead-lettered")
        es = make_es(settings)
        try:
            es.indices.refresh(index=settings.articles_alias)
            total, hits = search_articles(es, settings.articles_alias, query)
        finally:
            es.close()
        print(f'\nsearch "{query}": {total} hits')
        for rank, hit in enumerate(hits, 1):
            print(f"{rank}. {hit.title}")
            print(f"   topics: {', '.join(hit.topics) or '-'}   {hit.url}")
            for fragment in hit.highlight[:2]:
                shown = fragment.replace("<em>", "[").replace("</em>", "]")
                print(f"   … {shown} …")
        print(f"\nwebhook deliveries received at {hook.url()}: {len(hook.received)}")
        for delivery in hook.received:
            body = delivery.json
            state = "signature verified" if delivery.verified else "BAD SIGNATURE"
            print(f"  {state}: rule {body.get('rule')} -> {body.get('title')}")
        return 0 if hits and len(hook.received) == 1 and hook.received[0].verified else 1
    finally:
        hook.stop()
        site.stop()
        shutil.rmtree(scratch, ignore_errors=True)
        if started:
            stack_down(endpoints)
