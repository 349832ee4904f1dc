"""`make demo`: the whole pipeline, offline, on a small local site of the project's own.

A local HTTP server serves a feed and its pages (the seed article, an Arabic report from Idlib,
a look-alike about Assyrian reliefs, an unrelated local story); one poll run produces them to
Kafka, one worker indexes them, and the search for "Idlib" is printed with highlights and topics.
The demo uses its own topics and indices (`newswatch-demo-*`) and starts from empty ones, so it
never mixes with what `make run` collected.
"""

from __future__ import annotations

import contextlib

from elasticsearch import NotFoundError

from enrich.search import search_articles
from enrich.worker import run_worker
from flows.demo_site_server import DemoSite
from flows.endpoints import endpoints_of
from infra.embedded_stack import stack_down, stack_up
from ingest.es_client import make_es
from ingest.feeds_config import FeedConfig
from ingest.poll_run import poll_once
from ingest.settings import Settings


def demo_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "articles_topic": "newswatch-demo.articles",
            "alerts_topic": "newswatch-demo.alerts",
            "dlq_topic": "newswatch-demo.dlq",
            "articles_alias": "newswatch-demo-articles",
            "feeds_index": "newswatch-demo-feeds",
            "consumer_group": "newswatch-demo",
            "worker_instance": "newswatch-demo-0",
            "allow_private_networks": True,
        }
    )


def _reset_indices(settings: Settings) -> None:
    es = make_es(settings)
    try:
        names = [settings.feeds_index, settings.seen_index]
        if es.indices.exists_alias(name=settings.articles_alias):
            names += list(es.indices.get_alias(name=settings.articles_alias).body)
        for name in names:
            with contextlib.suppress(NotFoundError):
                es.indices.delete(index=name)
    finally:
        es.close()


def run_demo(base: Settings, *, query: str = "Idlib") -> int:
    settings = demo_settings(base)
    endpoints = endpoints_of(settings)
    started = stack_up(endpoints)
    site = DemoSite().start()
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
        return 0 if hits else 1
    finally:
        site.stop()
        if started:
            stack_down(endpoints)
