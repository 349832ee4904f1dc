"""Prometheus view of the feed registry, read from Elasticsearch at scrape time.

Poll runs execute in short-lived Prefect flow-run processes, so their counters die with them;
what an operator needs to see between runs — feeds per status, failing feeds by error kind,
sites whose extraction drifted — lives in the shared state and is read from there, the same
from whichever runner is scraped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from elasticsearch import Elasticsearch
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


class FeedStateCollector(Collector):
    def __init__(self, es: Elasticsearch, feeds_index: str, drift_index: str,
                 websub_index: str | None = None) -> None:
        self.es = es
        self.feeds_index = feeds_index
        self.drift_index = drift_index
        self.websub_index = websub_index

    def collect(self) -> Iterator[GaugeMetricFamily]:
        feeds = GaugeMetricFamily("newswatch_feeds", "Feeds by status", labels=["status"])
        failing = GaugeMetricFamily("newswatch_feeds_failing", "Feeds not active, by last "
                                    "error kind", labels=["kind"])
        drifting = GaugeMetricFamily("newswatch_sites_extraction_drift",
                                     "Sites whose extraction drifted")
        pushed = GaugeMetricFamily("newswatch_websub_subscriptions", "WebSub subscriptions by "
                                   "status (failed/denied: those feeds are polled normally)",
                                   labels=["status"])
        try:
            found = self.es.search(
                index=self.feeds_index, size=0, ignore_unavailable=True,
                aggs={
                    "status": {"terms": {"field": "status", "size": 10}},
                    "failing": {
                        "filter": {"bool": {"must_not": [{"term": {"status": "active"}}]}},
                        "aggs": {"kind": {"terms": {"field": "last_error_kind", "size": 50}}},
                    },
                },
            )
            for bucket in found["aggregations"]["status"]["buckets"]:
                feeds.add_metric([bucket["key"]], bucket["doc_count"])
            for bucket in found["aggregations"]["failing"]["kind"]["buckets"]:
                failing.add_metric([bucket["key"]], bucket["doc_count"])
            count = self.es.count(index=self.drift_index, ignore_unavailable=True,
                                  query={"term": {"status": "drift"}})
            drifting.add_metric([], count["count"])
            if self.websub_index is not None:
                subs = self.es.search(index=self.websub_index, size=0, ignore_unavailable=True,
                                      aggs={"status": {"terms": {"field": "status",
                                                                 "size": 10}}})
                for bucket in subs["aggregations"]["status"]["buckets"]:
                    pushed.add_metric([bucket["key"]], bucket["doc_count"])
        except Exception as exc:  # a scrape must not fail because Elasticsearch is away
            log.warning("feed metrics unavailable", extra={"error": str(exc)})
            return
        yield feeds
        yield failing
        yield drifting
        if self.websub_index is not None:
            yield pushed
