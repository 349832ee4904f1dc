"""Give each document of a batch the cluster of an earlier near-duplicate, across all workers.

Elasticsearch is the memory the workers share, in two places:
* every stored article carries its MinHash signature (`minhash`) and cluster (`cluster_id`);
* a small index of band pointers (`Settings.dedup_index`) maps each LSH band key to the first
  article that had it: `_id` = band key, written with `create`, so the first writer keeps it.

A batch is resolved with lookups by id only (`mget`): its own ids in the articles index, its
band keys in the pointer index, then the signatures of the articles those pointers name. Every
candidate is verified by comparing whole signatures (near_duplicates), so a shared band alone
never merges two stories.

Why pointers looked up by id rather than a `terms` query on the articles' `dedup_bands`: a
search costs the embedded server time in proportion to the index (measured on noida-db: a
1,600-term lookup took 0.10 s on 1,000 documents, 0.42 s on 4,000 and 1.3 s on 12,000, so a
worker would slow down every day it runs), while a get by id does not; gets are also real-time,
so a copy indexed a moment ago by another worker is found without waiting for a refresh.

Rules, in batch order:
* a document already stored (a redelivery, a replay, a reprocess) keeps the cluster it was
  stored with: delivery is at-least-once, so the outcome of a redelivery must not depend on
  what was indexed since;
* candidates of a new document are the stored articles its bands point to and the documents
  before it in the batch, never a document with its own id;
* a pointed-to article that is also in this batch and already reassigned is seen with its new
  cluster, so the batch and the index agree;
* among verified candidates (similarity ≥ SIMILARITY_THRESHOLD) the most similar wins; ties go
  to the smaller cluster id, so the choice is the same on every run;
* no verified candidate: the document is its own cluster (its id).

Known limit: each band remembers one article. A band whose article is deleted (retention) is
handed to the next article that has it.

The window: a pointer records when it was written (`at`), and `expire()` deletes pointers older
than `Settings.dedup_window_days` (the worker calls it every `dedup_expiry_check_s`). Without it
the pointer index would grow by up to 32 documents per story for ever, while syndicated copies
arrive within days; a copy of a story older than the window starts a cluster of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError, helpers

from enrich.dedup.near_duplicates import SIMILARITY_THRESHOLD, estimated_similarity
from ingest.common.es_client import ensure_index

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Candidate:
    id: str
    cluster_id: str
    minhash: Sequence[int]
    bands: frozenset[str]


@dataclass
class BandLookup:
    """What assign() learnt about the batch's bands, so record() writes only what is new."""

    taken: set[str] = field(default_factory=set)  # pointer exists and its article is stored
    stale: set[str] = field(default_factory=set)  # pointer exists, its article is gone
    # Batch documents already stored -> the backing index holding them, so a redelivery is
    # rewritten there and not into the alias's newer write index after a rollover.
    homes: dict[str, str] = field(default_factory=dict)


def choose_cluster(doc_id: str, minhash: Sequence[int], candidates: Iterable[_Candidate]) -> str:
    """The cluster of the most similar verified candidate, else the document's own id."""
    best: tuple[float, str] | None = None
    for candidate in candidates:
        if candidate.id == doc_id:
            continue
        similarity = estimated_similarity(minhash, candidate.minhash)
        if similarity < SIMILARITY_THRESHOLD:
            continue
        key = (-similarity, candidate.cluster_id)
        if best is None or key < best:
            best = key
    return best[1] if best is not None else doc_id


_POINTER_FIELDS: dict[str, dict[str, Any]] = {
    "article_id": {"type": "keyword", "index": False},
    "at": {"type": "date", "format": "epoch_second"},  # when written: for expire()
}


class ClusterLookup:
    def __init__(
        self, es: Elasticsearch, alias: str, pointers_index: str, *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.es = es
        self.alias = alias
        self.pointers_index = pointers_index
        self._clock = clock

    def ensure(self) -> None:
        """Create the pointer index (looked up by id; `at` is searched only to expire), or add
        `at` to one created before it existed."""
        ensure_index(self.es, self.pointers_index,
                     mappings={"dynamic": "strict", "properties": _POINTER_FIELDS},
                     settings={"number_of_shards": 1, "number_of_replicas": 0})

    def expire(self, window_s: float) -> int:
        """Delete the pointers written more than `window_s` ago, and those from before pointers
        recorded `at` (their age is unknown); returns how many. Any worker may run it at any
        time: deleting what another run deletes too is harmless (conflicts proceed)."""
        if not self.es.indices.exists(index=self.pointers_index):
            return 0
        cutoff = int(self._clock() - window_s)
        result = self.es.delete_by_query(
            index=self.pointers_index,
            query={"bool": {"should": [
                {"range": {"at": {"lt": cutoff}}},
                {"bool": {"must_not": {"exists": {"field": "at"}}}},
            ]}},
            conflicts="proceed",
        )
        return int(result.get("deleted") or 0)

    # --- reads --------------------------------------------------------------------------
    def _backing_indices(self) -> list[str]:
        try:
            return sorted(self.es.indices.get_alias(name=self.alias).body)
        except NotFoundError:
            return []

    def _get_articles(
        self, indices: list[str], ids: Iterable[str], fields: list[str]
    ) -> dict[str, dict[str, Any]]:
        """Stored articles by id, from every index behind the alias (after a rollover an id
        may live in an older one); `_index` in each says which."""
        wanted = sorted(set(ids))
        if not indices or not wanted:
            return {}
        found = self.es.mget(
            docs=[{"_index": index, "_id": doc_id} for index in indices for doc_id in wanted],
            source_includes=fields,
        )
        return {
            doc["_id"]: {**(doc.get("_source") or {}), "_index": doc["_index"]}
            for doc in found["docs"]
            if doc.get("found")
        }

    def _get_pointers(self, bands: list[str]) -> dict[str, str]:
        """Band key -> the article id it points to."""
        if not bands:
            return {}
        try:
            found = self.es.mget(index=self.pointers_index, ids=bands)
        except NotFoundError:  # no worker has written a pointer yet
            return {}
        pointers: dict[str, str] = {}
        for doc in found["docs"]:
            article = (doc.get("_source") or {}).get("article_id") if doc.get("found") else None
            if article:
                pointers[doc["_id"]] = str(article)
        return pointers

    def assign(self, docs: list[dict[str, Any]]) -> BandLookup:
        """Set `cluster_id` on every doc (dicts with `id`, `minhash`, `dedup_bands`), in place."""
        batch_ids = [doc["id"] for doc in docs]
        indices = self._backing_indices()
        stored_batch = self._get_articles(indices, batch_ids, ["cluster_id"])
        known = {
            doc_id: source.get("cluster_id") or doc_id for doc_id, source in stored_batch.items()
        }
        new_bands = sorted({
            band for doc in docs if doc["id"] not in known for band in doc.get("dedup_bands") or []
        })
        pointers = self._get_pointers(new_bands)
        # A redelivered document never meets its stored self among the candidates.
        pointed = {article for article in pointers.values() if article not in known}
        stored_articles = self._get_articles(indices, pointed, ["cluster_id", "minhash"])
        lookup = BandLookup(homes={doc_id: s["_index"] for doc_id, s in stored_batch.items()})
        bands_of: dict[str, set[str]] = {}
        for band, article in pointers.items():
            if article in stored_articles:
                bands_of.setdefault(article, set()).add(band)
                lookup.taken.add(band)
            elif article not in known:
                lookup.stale.add(band)
            else:
                lookup.taken.add(band)
        stored = {
            article: _Candidate(
                article,
                source.get("cluster_id") or article,
                source.get("minhash") or [],
                frozenset(bands_of.get(article, ())),
            )
            for article, source in stored_articles.items()
        }

        assigned: dict[str, _Candidate] = {}
        for doc in docs:
            doc_id = doc["id"]
            bands = frozenset(doc.get("dedup_bands") or [])
            minhash = doc.get("minhash") or []
            if doc_id in known:
                doc["cluster_id"] = known[doc_id]
            else:
                candidates = [
                    assigned.get(candidate.id, candidate)
                    for candidate in stored.values()
                    if candidate.bands & bands
                ]
                candidates.extend(c for c in assigned.values() if c.bands & bands)
                doc["cluster_id"] = choose_cluster(doc_id, minhash, candidates)
            assigned[doc_id] = _Candidate(doc_id, doc["cluster_id"], minhash, bands)
        return lookup

    # --- writes -------------------------------------------------------------------------
    def record(self, docs: list[dict[str, Any]], lookup: BandLookup) -> int:
        """Point every band of these (indexed) documents that has no article yet at them; the
        first document of the batch with a band wins, as a concurrent worker's would. Returns
        the pointers written. Transport errors propagate (the caller waits and retries); a
        refused pointer is logged, as it only costs a future copy its cluster."""
        actions: list[dict[str, Any]] = []
        claimed: set[str] = set(lookup.taken)
        now = int(self._clock())
        for doc in docs:
            for band in doc.get("dedup_bands") or []:
                if band in claimed:
                    continue
                claimed.add(band)
                actions.append({
                    "_op_type": "index" if band in lookup.stale else "create",
                    "_index": self.pointers_index,
                    "_id": band,
                    "_source": {"article_id": doc["id"], "at": now},
                })
        written = 0
        for ok, item in helpers.streaming_bulk(
            self.es, actions, chunk_size=2000, raise_on_error=False, raise_on_exception=True,
            max_retries=3, initial_backoff=1, max_backoff=10,
        ):
            result = item.get("create") or item.get("index") or {}
            if ok:
                written += 1
            elif result.get("status") != 409:  # 409: another worker claimed it first
                log.warning("band pointer not written",
                            extra={"band": result.get("_id"), "status": result.get("status"),
                                   "error": str(result.get("error"))[:300]})
        return written
