"""Near-duplicate clustering through the index shared by all workers, against the embedded
Elasticsearch API (noida-db): band pointers and signatures looked up by id. Nothing here
refreshes an index: gets are real-time, so a copy stored a moment ago is already found."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from enrich.dedup.cluster_lookup import BandLookup, ClusterLookup
from enrich.dedup.near_duplicates import band_keys, minhash_signature
from enrich.worker.loop import run_worker
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from tests.conftest import CORPORA, REPO
from tests.support.articles import make_article
from tests.support.kafka_tools import produce

pytestmark = pytest.mark.integration

ITEMS = [
    json.loads(line)
    for line in (CORPORA / "tagging" / "items.jsonl").read_text(encoding="utf-8").splitlines()
]
# Four long real items, each in another language, each with five or more paragraphs.
STORY_A, STORY_B, STORY_C, STORY_D = (
    next(item["text"] for item in ITEMS if item["id"] == item_id)
    for item_id in (
        "ar-snn-20150725-1299",
        "fa-fars-1-170",
        "ru-nerel-24632",
        "ar-snn-20150721-615",
    )
)


def syndicated_copy(text: str) -> str:
    """The same story as another outlet runs it: new headline, one more closing sentence."""
    body = text.split("\n", 1)[1]
    return "A different headline from another outlet\n" + body + "\nReporting by our correspondent."


def document(doc_id: str, text: str) -> dict[str, Any]:
    signature = minhash_signature(text)
    return {"id": doc_id, "text": text, "minhash": signature, "dedup_bands": band_keys(signature)}


@pytest.fixture
def clusters(es: Elasticsearch, settings: Settings) -> Iterator[ClusterLookup]:
    lookup = ClusterLookup(es, settings.articles_alias, settings.dedup_index)
    lookup.ensure()
    yield lookup
    es.indices.delete(index=settings.dedup_index, ignore_unavailable=True)


@pytest.fixture
def es(settings: Settings) -> Iterator[Elasticsearch]:
    """The articles template under this test's alias, and its first backing index."""
    client = Elasticsearch(settings.es_url, request_timeout=30)
    alias = settings.articles_alias
    template = json.loads((REPO / "infra/elasticsearch/articles-template.json").read_text())
    template["index_patterns"] = [f"{alias}-*"]
    client.indices.put_index_template(name=alias, body=template)
    client.indices.create(index=f"{alias}-000001", aliases={alias: {"is_write_index": True}})
    yield client
    client.indices.delete(index=f"{alias}-000001", ignore_unavailable=True)
    client.indices.delete_index_template(name=alias)
    client.close()


def index(clusters: ClusterLookup, docs: list[dict[str, Any]],
          lookup: BandLookup | None = None) -> None:
    """What the worker does once clusters are assigned: store the documents, then their band
    pointers."""
    for doc in docs:
        clusters.es.index(index=clusters.alias, id=doc["id"], document=doc)
    clusters.record(docs, lookup or BandLookup())


def test_copy_in_a_later_batch_joins_the_stored_cluster(clusters: ClusterLookup) -> None:
    first = [document("a-original", STORY_A), document("b-original", STORY_B)]
    found = clusters.assign(first)
    assert [d["cluster_id"] for d in first] == ["a-original", "b-original"]
    assert found.taken == found.stale == set()
    index(clusters, first, found)

    later = [
        document("c-other", STORY_C),
        document("a-copy", syndicated_copy(STORY_A)),
        document("b-copy", syndicated_copy(STORY_B)),
    ]
    clusters.assign(later)
    assert {d["id"]: d["cluster_id"] for d in later} == {
        "c-other": "c-other",
        "a-copy": "a-original",
        "b-copy": "b-original",
    }


def test_copies_within_one_batch_share_the_first_ones_cluster(clusters: ClusterLookup) -> None:
    batch = [
        document("d-original", STORY_D),
        document("c-original", STORY_C),
        document("d-copy-1", syndicated_copy(STORY_D)),
        document("d-copy-2", STORY_D + "\nUpdated at 18:00."),
    ]
    clusters.assign(batch)
    assert [d["cluster_id"] for d in batch] == [
        "d-original",
        "c-original",
        "d-original",
        "d-original",
    ]


def test_redelivered_documents_keep_their_clusters(clusters: ClusterLookup) -> None:
    batch = [document("a-first", STORY_A), document("a-second", syndicated_copy(STORY_A))]
    index(clusters, batch, clusters.assign(batch))

    # The same batch again (a redelivery after a crash before the offset commit), in both orders.
    for order in (batch, batch[::-1]):
        again = [document(d["id"], d["text"]) for d in order]
        clusters.assign(again)
        assert {d["id"]: d["cluster_id"] for d in again} == {
            "a-first": "a-first",
            "a-second": "a-first",
        }

    # Alone, the stored original finds only itself and its copy: it stays its own cluster.
    alone = [document("a-first", STORY_A)]
    clusters.assign(alone)
    assert alone[0]["cluster_id"] == "a-first"


def test_a_redelivered_document_keeps_its_stored_cluster(clusters: ClusterLookup) -> None:
    # Stored as the copy of an original that is gone from the index since (retention).
    stored = document("b-copy", syndicated_copy(STORY_B)) | {"cluster_id": "b-deleted-original"}
    index(clusters, [stored])
    redelivered = [document("b-copy", syndicated_copy(STORY_B))]
    clusters.assign(redelivered)
    assert redelivered[0]["cluster_id"] == "b-deleted-original"


def test_a_new_document_is_never_its_own_earlier_copy(clusters: ClusterLookup) -> None:
    # Twice in one batch before it was ever stored (a redelivery overlapping the original
    # delivery): the second occurrence must not join the first as an "earlier copy".
    twice = [
        document("e-new", syndicated_copy(STORY_B)),
        document("e-new", syndicated_copy(STORY_B)),
    ]
    clusters.assign(twice)
    assert [d["cluster_id"] for d in twice] == ["e-new", "e-new"]


def test_shared_band_without_similar_signature_is_not_a_duplicate(
    clusters: ClusterLookup,
) -> None:
    stored = document("b-stored", STORY_B) | {"cluster_id": "b-stored"}
    index(clusters, [stored])
    # A different story that happens to share one band key must still be verified by signature.
    unrelated = document("c-unrelated", STORY_C)
    unrelated["dedup_bands"] = [*unrelated["dedup_bands"], stored["dedup_bands"][0]]
    found = clusters.assign([unrelated])
    assert unrelated["cluster_id"] == "c-unrelated"
    assert found.taken == {stored["dedup_bands"][0]}  # the pointer was found, then refuted


def test_missing_index_and_empty_texts_give_own_clusters(settings: Settings) -> None:
    client = Elasticsearch(settings.es_url, request_timeout=30)
    docs = [document("empty-1", ""), document("empty-2", ""), document("x", STORY_A)]
    # Neither the alias nor the pointer index exists yet.
    ClusterLookup(client, settings.articles_alias, settings.dedup_index).assign(docs)
    client.close()
    assert [d["cluster_id"] for d in docs] == ["empty-1", "empty-2", "x"]


def test_the_first_article_with_a_band_keeps_it(clusters: ClusterLookup) -> None:
    original = [document("f-original", STORY_A)]
    index(clusters, original, clusters.assign(original))
    copy = [document("f-copy", syndicated_copy(STORY_A))]
    found = clusters.assign(copy)
    assert copy[0]["cluster_id"] == "f-original"
    shared = set(copy[0]["dedup_bands"]) & set(original[0]["dedup_bands"])
    assert shared and found.taken == shared
    # Only the copy's own new bands get pointers; the shared ones still name the original.
    written = clusters.record(copy, found)
    assert written == len(set(copy[0]["dedup_bands"]) - shared)
    pointers = clusters.es.mget(index=clusters.pointers_index, ids=sorted(shared))["docs"]
    assert {p["_source"]["article_id"] for p in pointers} == {"f-original"}


def test_a_band_of_a_deleted_article_goes_to_the_next_one(clusters: ClusterLookup) -> None:
    gone = [document("g-gone", STORY_C)]
    index(clusters, gone, clusters.assign(gone))
    clusters.es.delete(index=clusters.alias, id="g-gone")  # retention removed it

    successor = [document("g-successor", syndicated_copy(STORY_C))]
    found = clusters.assign(successor)
    assert successor[0]["cluster_id"] == "g-successor"
    assert found.stale and found.stale <= set(gone[0]["dedup_bands"])
    index(clusters, successor, found)

    later = [document("g-later", STORY_C + "\nCorrection appended.")]
    clusters.assign(later)
    assert later[0]["cluster_id"] == "g-successor"


def test_articles_in_an_older_backing_index_are_still_found(
    clusters: ClusterLookup, es: Elasticsearch, settings: Settings
) -> None:
    alias = settings.articles_alias
    old = [document("h-old", STORY_D)]
    index(clusters, old, clusters.assign(old))
    # A rollover: a new write index behind the alias; the old one stays readable.
    es.indices.create(index=f"{alias}-000002")
    es.indices.update_aliases(actions=[
        {"add": {"index": f"{alias}-000001", "alias": alias, "is_write_index": False}},
        {"add": {"index": f"{alias}-000002", "alias": alias, "is_write_index": True}},
    ])
    try:
        batch = [document("h-old", STORY_D), document("h-copy", syndicated_copy(STORY_D))]
        clusters.assign(batch)
        assert [d["cluster_id"] for d in batch] == ["h-old", "h-old"]
        fresh = [document("h-copy-2", STORY_D + "\nLast updated today.")]
        clusters.assign(fresh)
        assert fresh[0]["cluster_id"] == "h-old"
    finally:
        es.indices.delete(index=f"{alias}-000002", ignore_unavailable=True)


DAY = 86400.0


def test_pointers_older_than_the_window_expire(
    clusters: ClusterLookup, es: Elasticsearch, settings: Settings
) -> None:
    now = 1_800_000_000.0
    old_clock = ClusterLookup(es, settings.articles_alias, settings.dedup_index,
                              clock=lambda: now - 40 * DAY)
    old = [document("w-old", STORY_A)]
    index(old_clock, old, old_clock.assign(old))
    recent = [document("w-recent", STORY_B)]
    recent_clock = ClusterLookup(es, settings.articles_alias, settings.dedup_index,
                                 clock=lambda: now - 2 * DAY)
    index(recent_clock, recent, recent_clock.assign(recent))

    today = ClusterLookup(es, settings.articles_alias, settings.dedup_index, clock=lambda: now)
    es.indices.refresh(index=settings.dedup_index)  # expiry searches; a month is long refreshed
    assert today.expire(30 * DAY) == len(set(old[0]["dedup_bands"]))
    assert today.expire(30 * DAY) == 0  # nothing left to expire: a second run is harmless

    copies = [document("w-old-copy", syndicated_copy(STORY_A)),
              document("w-recent-copy", syndicated_copy(STORY_B))]
    today.assign(copies)
    # The old story is out of the window: its copy starts a cluster; the recent one is found.
    assert [d["cluster_id"] for d in copies] == ["w-old-copy", "w-recent"]


def test_pointers_written_before_they_carried_a_date_expire_at_once(
    clusters: ClusterLookup,
) -> None:
    clusters.es.index(index=clusters.pointers_index, id="legacy-band",
                      document={"article_id": "x"}, refresh=True)
    assert clusters.expire(30 * DAY) == 1


def test_an_index_from_before_the_window_gets_the_date_field(
    es: Elasticsearch, settings: Settings
) -> None:
    es.indices.create(index=settings.dedup_index, mappings={"dynamic": "strict", "properties": {
        "article_id": {"type": "keyword", "index": False}}})
    try:
        lookup = ClusterLookup(es, settings.articles_alias, settings.dedup_index)
        lookup.ensure()
        docs = [document("m-1", STORY_C)]
        index(lookup, docs, lookup.assign(docs))  # strict mapping: refused without `at`
        mapping = es.indices.get_mapping(index=settings.dedup_index)
        assert "at" in mapping[settings.dedup_index]["mappings"]["properties"]
    finally:
        es.indices.delete(index=settings.dedup_index, ignore_unavailable=True)


def test_the_worker_expires_pointers_older_than_the_window(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_DEDUP_WINDOW_DAYS", "30")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    ensure_topics(settings)
    produce(settings.kafka_bootstrap, settings.articles_topic,
            [(b"k", make_article(1).to_bytes())])
    assert run_worker(settings, until_idle_s=1).indexed == 1  # creates the pointer index
    with Elasticsearch(settings.es_url) as client:
        client.index(index=settings.dedup_index, id="stale-band",
                     document={"article_id": "gone", "at": int(time.time() - 31 * DAY)},
                     refresh=True)
        run_worker(settings, until_idle_s=1)  # checks at start-up
        assert not client.exists(index=settings.dedup_index, id="stale-band")
        assert client.count(index=settings.dedup_index)["count"] > 0  # the recent ones stay
