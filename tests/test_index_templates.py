"""The index templates in infra/elasticsearch/, each sent as-is to the embedded Elasticsearch
API: a complete request body on its own (`PUT _index_template`, `_simulate`), rendered into
the mapping the file declares, and an index created from it carries that mapping.

The embedded server accepts more than Elasticsearch does (an unknown field type, for one), so
the field types are also checked against Elasticsearch 8's list of mapping types."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.embedded_stack import StackEndpoints

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = sorted((REPO / "infra" / "elasticsearch").glob("*-template.json"))

# Elasticsearch 8 field data types (reference/mapping/types), those a template here may use.
ES8_FIELD_TYPES = {
    "binary", "boolean", "keyword", "constant_keyword", "wildcard", "long", "integer", "short",
    "byte", "double", "float", "half_float", "scaled_float", "unsigned_long", "date",
    "date_nanos", "alias", "object", "flattened", "nested", "join", "integer_range",
    "float_range", "long_range", "double_range", "date_range", "ip_range", "ip", "version",
    "murmur3", "text", "match_only_text", "annotated_text", "completion", "search_as_you_type",
    "token_count", "dense_vector", "sparse_vector", "rank_feature", "rank_features",
    "geo_point", "geo_shape", "point", "shape", "percolator", "semantic_text",
}


def _types(properties: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for name, field in properties.items():
        path = f"{prefix}{name}"
        yield path, field.get("type", "object")
        yield from _types(field.get("properties") or {}, f"{path}.")
        yield from _types(field.get("fields") or {}, f"{path}.")


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_template_uses_only_elasticsearch_8_field_types(template: Path) -> None:
    body = json.loads(template.read_text(encoding="utf-8"))
    unknown = {path: kind for path, kind in _types(body["template"]["mappings"]["properties"])
               if kind not in ES8_FIELD_TYPES}
    assert unknown == {}


@pytest.fixture
def es(embedded_stack: StackEndpoints) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=embedded_stack.es_url, timeout=30) as client:
        yield client


def _comparable(mapping: dict[str, Any]) -> dict[str, Any]:
    """A mapping as JSON with sorted keys, so servers' key order does not matter."""
    result: dict[str, Any] = json.loads(json.dumps(mapping, sort_keys=True))
    return result


@pytest.mark.integration
@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_template_is_a_complete_request_body_the_server_renders(
    es: httpx.Client, template: Path
) -> None:
    body = json.loads(template.read_text(encoding="utf-8"))
    assert body["index_patterns"], "a template body needs index_patterns"

    simulated = es.post("/_index_template/_simulate", json=body)
    assert simulated.status_code == 200, simulated.text
    rendered = simulated.json()["template"]
    assert _comparable(rendered["mappings"]) == _comparable(body["template"]["mappings"])

    name = f"file-check-{uuid.uuid4().hex[:8]}"
    stored = es.put(f"/_index_template/{name}", json=body)
    try:
        assert stored.status_code == 200, stored.text
    finally:
        es.delete(f"/_index_template/{name}")

    # An index made from it (under a pattern no other test uses) has the file's mapping.
    index = f"file-check-{uuid.uuid4().hex[:8]}"
    created = es.put(f"/_index_template/{index}",
                     json={**body, "index_patterns": [index], "priority": 500})
    assert created.status_code == 200, created.text
    try:
        assert es.put(f"/{index}").status_code == 200
        mapping = es.get(f"/{index}/_mapping").json()[index]["mappings"]
        assert _comparable(mapping) == _comparable(body["template"]["mappings"])
    finally:
        es.delete(f"/{index}")
        es.delete(f"/_index_template/{index}")


@pytest.mark.integration
def test_a_body_without_index_patterns_is_refused(es: httpx.Client) -> None:
    """What feeds-template.json was before: the server refuses it as a request body."""
    body = json.loads((REPO / "infra/elasticsearch/feeds-template.json").read_text())
    del body["index_patterns"]
    answer = es.put(f"/_index_template/file-check-{uuid.uuid4().hex[:8]}", json=body)
    assert answer.status_code == 400
