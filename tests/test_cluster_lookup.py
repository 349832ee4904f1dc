"""Near-duplicate clustering through the index shared by all workers, against the embedded
Elasticsearch API (noida-db): band keys stored as keywords, looked up with one terms query."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from enrich.cluster_lookup import assign_clusters
from enrich.near_duplicates import band_keys, minhash_signature
from ingest.settings import Settings
from tests.conftest import CORPORA, REPO

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


def index(es: Elasticsearch, alias: str, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        es.index(index=alias, id=doc["id"], document=doc)
    es.indices.refresh(index=alias)


def test_copy_in_a_later_batch_joins_the_stored_cluster(
    es: Elasticsearch, settings: Settings
) -> None:
    alias = settings.articles_alias
    first = [document("a-original", STORY_A), document("b-original", STORY_B)]
    assign_clusters(es, alias, first)
    assert [d["cluster_id"] for d in first] == ["a-original", "b-original"]
    index(es, alias, first)

    later = [
        document("c-other", STORY_C),
        document("a-copy", syndicated_copy(STORY_A)),
        document("b-copy", syndicated_copy(STORY_B)),
    ]
    assign_clusters(es, alias, later)
    assert {d["id"]: d["cluster_id"] for d in later} == {
        "c-other": "c-other",
        "a-copy": "a-original",
        "b-copy": "b-original",
    }


def test_copies_within_one_batch_share_the_first_ones_cluster(
    es: Elasticsearch, settings: Settings
) -> None:
    batch = [
        document("d-original", STORY_D),
        document("c-original", STORY_C),
        document("d-copy-1", syndicated_copy(STORY_D)),
        document("d-copy-2", STORY_D + "\nUpdated at 18:00."),
    ]
    assign_clusters(es, settings.articles_alias, batch)
    assert [d["cluster_id"] for d in batch] == [
        "d-original",
        "c-original",
        "d-original",
        "d-original",
    ]


def test_redelivered_documents_keep_their_clusters(es: Elasticsearch, settings: Settings) -> None:
    alias = settings.articles_alias
    batch = [document("a-first", STORY_A), document("a-second", syndicated_copy(STORY_A))]
    assign_clusters(es, alias, batch)
    index(es, alias, batch)

    # The same batch again (a redelivery after a crash before the offset commit), in both orders.
    for order in (batch, batch[::-1]):
        again = [document(d["id"], d["text"]) for d in order]
        assign_clusters(es, alias, again)
        assert {d["id"]: d["cluster_id"] for d in again} == {
            "a-first": "a-first",
            "a-second": "a-first",
        }

    # Alone, the stored original finds only itself and its copy: it stays its own cluster.
    alone = [document("a-first", STORY_A)]
    assign_clusters(es, alias, alone)
    assert alone[0]["cluster_id"] == "a-first"


def test_a_redelivered_document_keeps_its_stored_cluster(
    es: Elasticsearch, settings: Settings
) -> None:
    alias = settings.articles_alias
    # Stored as the copy of an original that is gone from the index since (retention).
    stored = document("b-copy", syndicated_copy(STORY_B)) | {"cluster_id": "b-deleted-original"}
    index(es, alias, [stored])
    redelivered = [document("b-copy", syndicated_copy(STORY_B))]
    assign_clusters(es, alias, redelivered)
    assert redelivered[0]["cluster_id"] == "b-deleted-original"


def test_a_new_document_is_never_its_own_earlier_copy(
    es: Elasticsearch, settings: Settings
) -> None:
    # Twice in one batch before it was ever stored (a redelivery overlapping the original
    # delivery): the second occurrence must not join the first as an "earlier copy".
    twice = [
        document("e-new", syndicated_copy(STORY_B)),
        document("e-new", syndicated_copy(STORY_B)),
    ]
    assign_clusters(es, settings.articles_alias, twice)
    assert [d["cluster_id"] for d in twice] == ["e-new", "e-new"]


def test_shared_band_without_similar_signature_is_not_a_duplicate(
    es: Elasticsearch, settings: Settings
) -> None:
    alias = settings.articles_alias
    stored = document("b-stored", STORY_B)
    index(es, alias, [stored])
    # A different story that happens to share one band key must still be verified by signature.
    unrelated = document("c-unrelated", STORY_C)
    unrelated["dedup_bands"] = [*unrelated["dedup_bands"], stored["dedup_bands"][0]]
    assign_clusters(es, alias, [unrelated])
    assert unrelated["cluster_id"] == "c-unrelated"


def test_missing_index_and_empty_texts_give_own_clusters(settings: Settings) -> None:
    client = Elasticsearch(settings.es_url, request_timeout=30)
    docs = [document("empty-1", ""), document("empty-2", ""), document("x", STORY_A)]
    assign_clusters(client, settings.articles_alias, docs)  # alias not created yet
    client.close()
    assert [d["cluster_id"] for d in docs] == ["empty-1", "empty-2", "x"]
