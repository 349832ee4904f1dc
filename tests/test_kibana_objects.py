"""The Kibana saved objects against the shapes Kibana 8's source declares and against the
articles index template (tests/support/kibana_shapes.py says where each shape comes from).
A copy broken the ways a hand edit breaks it (a field that is not mapped, a panel off the
grid, an attribute Kibana forbids, a dangling reference) must be reported."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.kibana_shapes import problems

REPO = Path(__file__).resolve().parent.parent
OBJECTS = [json.loads(line) for line in
           (REPO / "infra/kibana/saved-objects.ndjson").read_text(encoding="utf-8").splitlines()]
PROPERTIES: dict[str, Any] = json.loads(
    (REPO / "infra/elasticsearch/articles-template.json").read_text(encoding="utf-8")
)["template"]["mappings"]["properties"]


def _one(objects: list[dict[str, Any]], kind: str, index: int = 0) -> dict[str, Any]:
    return [o for o in objects if o["type"] == kind][index]


def _edit_json(obj: dict[str, Any], key: str, change: Callable[[Any], None]) -> None:
    value = json.loads(obj["attributes"][key])
    change(value)
    obj["attributes"][key] = json.dumps(value)


def test_the_shipped_objects_have_kibanas_shapes_and_mapped_fields() -> None:
    assert problems(OBJECTS, PROPERTIES) == []


def _vis_field(objects: list[dict[str, Any]], field: str) -> None:
    def change(state: dict[str, Any]) -> None:
        state["aggs"][1]["params"]["field"] = field
    _edit_json(_one(objects, "visualization", 1), "visState", change)


def _vis_field_of(objects: list[dict[str, Any]], agg_type: str, field: str) -> None:
    """Point the first aggregation of type `agg_type` (in any visualisation) at `field`."""
    for vis in (o for o in objects if o["type"] == "visualization"):
        state = json.loads(vis["attributes"]["visState"])
        for agg in state["aggs"]:
            if agg["type"] == agg_type:
                agg["params"]["field"] = field
                vis["attributes"]["visState"] = json.dumps(state)
                return
    raise AssertionError(f"no {agg_type} aggregation to break")


BREAKAGES: dict[str, tuple[Callable[[list[dict[str, Any]]], None], str]] = {
    "visualisation on a missing field": (
        lambda o: _vis_field(o, "source_domain"), "'source_domain' is not in the index template"),
    "terms on a text field": (
        lambda o: _vis_field(o, "title"), "'title' is text, terms needs"),
    "time field that does not exist": (
        lambda o: _one(o, "index-pattern")["attributes"].update(timeFieldName="date"),
        "'date' is not in the index template"),
    "time field that is not a date": (
        lambda o: _one(o, "index-pattern")["attributes"].update(timeFieldName="domain"),
        "'domain' is keyword, time field needs"),
    "saved search column not mapped": (
        lambda o: _one(o, "search")["attributes"]["columns"].append("sentiment"),
        "'sentiment' is not in the index template"),
    "saved search sorted on a text field": (
        lambda o: _one(o, "search")["attributes"].update(sort=[["text", "desc"]]),
        "'text' is text, sort needs"),
    "map layer on a keyword field": (
        lambda o: _edit_json(_one(o, "map"), "layerListJSON",
                             lambda layers: layers[1]["sourceDescriptor"].update(
                                 geoField="places")),
        "'places' is keyword, geo layer needs"),
    "panel wider than the grid": (
        lambda o: _edit_json(_one(o, "dashboard"), "panelsJSON",
                             lambda panels: panels[0]["gridData"].update(w=60)),
        "> 48 columns"),
    "panel without its reference": (
        lambda o: _one(o, "dashboard").update(references=_one(o, "dashboard")["references"][1:]),
        "panelRefName has no reference"),
    "reference to an object not in the file": (
        lambda o: _one(o, "search")["references"][0].update(id="another-view"),
        "index-pattern/another-view missing"),
    "attribute Kibana's schema forbids": (
        lambda o: _one(o, "visualization")["attributes"].update(savedSearchId="x"),
        "'savedSearchId' is not in Kibana's visualization schema"),
    "dashboard refreshInterval without pause": (
        lambda o: _one(o, "dashboard")["attributes"].update(refreshInterval={"value": 60000}),
        "refreshInterval needs"),
    "fieldAttrs for an unmapped field": (
        lambda o: _edit_json(_one(o, "index-pattern"), "fieldAttrs",
                             lambda attrs: attrs.update(sentiment={"customLabel": "S"})),
        "'sentiment' is not in the index template"),
    "runtime field reading a field the template lacks": (
        lambda o: _edit_json(_one(o, "index-pattern"), "runtimeFieldMap",
                             lambda fields: fields.update(lag_s={
                                 "type": "double",
                                 "script": {"source": "emit(doc['timings.queued'].value)"}})),
        "runtime field 'lag_s': field 'timings.queued' is not in the index template"),
    "numeric metric on a keyword field": (
        lambda o: _vis_field_of(o, "percentiles", "domain"), "'domain' is keyword, metric needs"),
    "embedded JSON that does not parse": (
        lambda o: _one(o, "map")["attributes"].update(mapStateJSON="{zoom: 4}"),
        "'mapStateJSON' is not valid JSON text"),
}


@pytest.mark.parametrize("what", sorted(BREAKAGES))
def test_a_broken_object_is_reported(what: str) -> None:
    objects = copy.deepcopy(OBJECTS)
    breaker, expected = BREAKAGES[what]
    breaker(objects)
    found = problems(objects, PROPERTIES)
    assert any(expected in problem for problem in found), (what, found)


def test_a_field_removed_from_the_template_is_reported() -> None:
    """The other direction: the template changes under the objects (a renamed field)."""
    properties = {k: v for k, v in PROPERTIES.items() if k != "geo"}
    assert any("'geo' is not in the index template" in p for p in problems(OBJECTS, properties))
