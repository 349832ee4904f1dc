"""The one "ensure index" helper (ingest/common/es_client.py) against the embedded Elasticsearch:
created once, grown after, a racing creator's refusal read as "exists", other refusals raised."""

from __future__ import annotations

import threading

import pytest
from elasticsearch import BadRequestError

from ingest.common.es_client import create_index_if_missing, ensure_index, make_es
from ingest.common.settings import Settings


def test_ensure_index_creates_once_then_only_grows_the_mapping(settings: Settings) -> None:
    es = make_es(settings)
    index = f"{settings.articles_alias}-ensure"
    try:
        first = {"dynamic": "strict", "properties": {"a": {"type": "keyword"}}}
        assert ensure_index(es, index, mappings=first, settings={"number_of_shards": 1})
        grown = {"dynamic": "strict",
                 "properties": {"a": {"type": "keyword"}, "b": {"type": "date"}}}
        assert not ensure_index(es, index, mappings=grown)
        properties = es.indices.get_mapping(index=index)[index]["mappings"]["properties"]
        assert properties == {"a": {"type": "keyword"}, "b": {"type": "date"}}
    finally:
        es.close()


def test_racing_creators_agree_that_it_exists_and_real_refusals_raise(
    settings: Settings,
) -> None:
    es = make_es(settings)
    index = f"{settings.articles_alias}-race"
    results: list[bool] = []
    try:
        threads = [threading.Thread(target=lambda: results.append(
            create_index_if_missing(es, index, mappings={"properties": {}})))
            for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False, False, False, True]
        with pytest.raises(BadRequestError):
            create_index_if_missing(es, f"{settings.articles_alias}-bad",
                                    mappings={"properties": {"x": {"type": "no-such-type"}}})
    finally:
        es.close()
