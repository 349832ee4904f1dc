"""Give each document of a batch the cluster of an earlier near-duplicate, across all workers.

The index is the memory the workers share: every stored document carries its LSH band keys
(`dedup_bands`, keyword) and its MinHash signature (`minhash`, stored, not indexed). One `terms`
query with the band keys of the whole batch returns every stored document sharing at least one
band; each candidate is then verified by comparing whole signatures (near_duplicates), so a
shared band alone never merges two stories.

Rules, in batch order:
* a document already stored (a redelivery, a replay, a reprocess) keeps the cluster it was
  stored with: delivery is at-least-once, so the outcome of a redelivery must not depend on
  what was indexed since;
* candidates of a new document are the stored hits (one representative per cluster) and the
  documents before it in the batch, never a document with its own id;
* a stored hit whose id is also in this batch and already reassigned is seen with its new
  cluster, so the batch and the index agree;
* among verified candidates (similarity ≥ SIMILARITY_THRESHOLD) the most similar wins; ties go
  to the smaller cluster id, so the choice is the same on every run;
* no verified candidate: the document is its own cluster (its id).

The outcome is idempotent: replaying a batch that is already indexed gives the same clusters,
because each copy finds the others (with their stored cluster id) in the index.

Known limit: a document indexed less than a refresh interval ago (1 s) is not yet searchable,
so two copies that arrive that close together on different workers may start two clusters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

from enrich.near_duplicates import SIMILARITY_THRESHOLD, estimated_similarity

# Upper bound of stored candidates (clusters) fetched per batch.
MAX_CANDIDATES = 500
# Elasticsearch refuses a terms query with more than 65,536 terms (index.max_terms_count);
# at 32 bands a document that is a batch of 1,875 documents. Larger batches take more queries.
MAX_TERMS = 60000


@dataclass(frozen=True)
class _Candidate:
    id: str
    cluster_id: str
    minhash: Sequence[int]
    bands: frozenset[str]


def _stored_candidates(
    es: Elasticsearch, alias: str, bands: list[str], max_candidates: int, batch_ids: list[str]
) -> list[_Candidate]:
    """Stored documents sharing a band with the batch, one per cluster; `dedup_bands` comes
    along so each hit is compared only with the documents it shares a band with.

    Collapsing on the cluster keeps the lookup cheap when a story was syndicated hundreds of
    times (one representative instead of every copy, each with its 128-value signature); the
    batch's own ids are left out, so a redelivered document never meets its stored self.
    """
    candidates: dict[str, _Candidate] = {}
    for begin in range(0, len(bands), MAX_TERMS):
        response = es.search(
            index=alias,
            query={"bool": {
                "filter": [{"terms": {"dedup_bands": bands[begin : begin + MAX_TERMS]}}],
                "must_not": [{"ids": {"values": batch_ids}}],
            }},
            collapse={"field": "cluster_id"},
            source_includes=["cluster_id", "minhash", "dedup_bands"],
            size=max_candidates,
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        for hit in response["hits"]["hits"]:
            source = hit.get("_source") or {}
            candidates[hit["_id"]] = _Candidate(
                id=hit["_id"],
                cluster_id=source.get("cluster_id") or hit["_id"],
                minhash=source.get("minhash") or [],
                bands=frozenset(source.get("dedup_bands") or []),
            )
    return list(candidates.values())


def _stored_clusters(es: Elasticsearch, alias: str, ids: list[str]) -> dict[str, str]:
    """Cluster ids of the batch's documents that are already stored."""
    if not ids or not es.indices.exists_alias(name=alias):
        return {}
    found = es.search(index=alias, query={"ids": {"values": ids}}, size=len(ids),
                      source_includes=["cluster_id"])
    return {hit["_id"]: (hit.get("_source") or {}).get("cluster_id") or hit["_id"]
            for hit in found["hits"]["hits"]}


def choose_cluster(doc_id: str, minhash: Sequence[int], candidates: list[_Candidate]) -> str:
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


def assign_clusters(
    es: Elasticsearch,
    alias: str,
    docs: list[dict[str, Any]],
    *,
    max_candidates: int = MAX_CANDIDATES,
) -> None:
    """Set `cluster_id` on every doc (dicts with `id`, `minhash`, `dedup_bands`), in place."""
    known = _stored_clusters(es, alias, [doc["id"] for doc in docs])
    all_bands = sorted({band for doc in docs for band in doc.get("dedup_bands") or []})
    stored = _stored_candidates(es, alias, all_bands, max_candidates, sorted(known))
    assigned: dict[str, _Candidate] = {}
    for doc in docs:
        doc_id = doc["id"]
        bands = frozenset(doc.get("dedup_bands") or [])
        minhash = doc.get("minhash") or []
        if doc_id in known:
            doc["cluster_id"] = known[doc_id]
            assigned[doc_id] = _Candidate(doc_id, known[doc_id], minhash, bands)
            continue
        candidates = [
            assigned.get(candidate.id, candidate) for candidate in stored if candidate.bands & bands
        ]
        candidates.extend(c for c in assigned.values() if c.bands & bands)
        cluster_id = choose_cluster(doc_id, minhash, candidates)
        doc["cluster_id"] = cluster_id
        assigned[doc_id] = _Candidate(doc_id, cluster_id, minhash, bands)
