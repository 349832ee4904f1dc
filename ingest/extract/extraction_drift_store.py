"""Extraction drift per domain, kept in Elasticsearch beside the feed state so every poll
runner learns from the same history and `newswatch feeds health` can show it."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch, helpers

from ingest.common.es_client import create_index_if_missing
from ingest.extract.extraction_drift import DomainDriftState, ExtractionDriftTracker
from ingest.poll.metrics import DRIFTING_DOMAINS

log = logging.getLogger(__name__)


class DriftRecorder:
    """A thread-safe tracker for one poll run: pages observed from many threads."""

    def __init__(self, tracker: ExtractionDriftTracker) -> None:
        self.tracker = tracker
        self.touched: set[str] = set()
        self._lock = threading.Lock()

    def observe(self, domain: str, text_chars: int | None) -> None:
        with self._lock:
            before = self.tracker.assessment(domain).drifting
            verdict = self.tracker.observe(domain, text_chars)
            self.touched.add(domain)
        if verdict.drifting and not before:
            log.warning(
                "extraction drift: the site's template may have changed",
                extra={"domain": domain, "reasons": list(verdict.reasons)},
            )


class DriftStore:
    def __init__(self, es: Elasticsearch, index: str) -> None:
        self.es = es
        self.index = index

    def ensure(self) -> None:
        if self.es.indices.exists(index=self.index):
            return
        create_index_if_missing(
            self.es, self.index,
            settings={"number_of_shards": 1, "number_of_replicas": 0},
            mappings={
                "dynamic": "strict",
                "properties": {
                    "domain": {"type": "keyword"},
                    "status": {"type": "keyword"},
                    "reasons": {"type": "text"},
                    "baseline_median_chars": {"type": "float"},
                    "recent_median_chars": {"type": "float"},
                    "recent_failure_rate": {"type": "float"},
                    "updated": {"type": "date"},
                    "state": {"type": "object", "enabled": False},
                },
            },
        )

    def load(self) -> ExtractionDriftTracker:
        states = {
            hit["_id"]: DomainDriftState.model_validate(hit["_source"]["state"])
            for hit in helpers.scan(self.es, index=self.index, query={"query": {"match_all": {}}})
        }
        return ExtractionDriftTracker(states=states)

    def save(self, recorder: DriftRecorder, now: datetime) -> None:
        tracker = recorder.tracker
        actions: list[dict[str, Any]] = []
        for domain in sorted(recorder.touched):
            verdict = tracker.assessment(domain)
            actions.append({
                "_index": self.index, "_id": domain,
                "_source": {
                    "domain": domain, "status": verdict.status,
                    "reasons": "; ".join(verdict.reasons),
                    "baseline_median_chars": verdict.baseline_median_chars,
                    "recent_median_chars": verdict.recent_median_chars,
                    "recent_failure_rate": verdict.recent_failure_rate,
                    "updated": now.isoformat(),
                    "state": tracker.states[domain].model_dump(mode="json"),
                },
            })
        if actions:
            helpers.bulk(self.es, actions)
        DRIFTING_DOMAINS.set(len(tracker.drifting()))

    def drifting(self) -> list[dict[str, Any]]:
        if not self.es.indices.exists(index=self.index):
            return []
        self.es.indices.refresh(index=self.index)
        found = self.es.search(index=self.index, query={"term": {"status": "drift"}}, size=500,
                               source_excludes=["state"], sort=[{"domain": "asc"}])
        return [hit["_source"] for hit in found["hits"]["hits"]]
