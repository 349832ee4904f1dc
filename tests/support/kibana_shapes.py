"""Kibana 8 saved-object shapes, as Kibana's own source declares them, and a checker that
reports where infra/kibana/saved-objects.ndjson departs from them or from the index template.

Read from elastic/kibana (the attribute schemas Kibana validates imported objects with; a
schema.object forbids unknown keys unless it says otherwise):

* index-pattern: `DataViewAttributes` (the data_views plugin's common types);
  `fieldAttrs` values are `FieldAttrSet` {customLabel, customDescription, count}; source
  filters are `SourceFilter` {value, clientId}.
* search: `SCHEMA_SEARCH_V8_8_0` (src/platform/plugins/shared/saved_search/server/
  saved_objects/schema_legacy.ts), `sort` an array of [field, direction] pairs.
* visualization: the '8.8.0' schema the visualization saved-object type registers (and the
  visualizations content-management `visualizeAttributesSchema`, the same keys).
* map: `mapAttributesSchema` of the maps plugin's content management (unknowns forbidden).
* dashboard: `dashboardAttributesSchema` v1, the '8.9.0' schema (src/platform/plugins/shared/
  dashboard/server/dashboard_saved_object/schema/v1/v1.ts); panels on the 48-column grid
  (DASHBOARD_GRID_COLUMN_COUNT), each with gridData {x, y, w, h, i} and a panelRefName that
  names a reference "<panelIndex>:<panelRefName>".

Fields are checked against the articles index template: they must exist, and have a type the
use needs (a terms aggregation or a sort needs doc values, so not `text`; a date histogram and
the time field need `date`; a map grid layer needs `geo_point`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

GRID_COLUMNS = 48

_STR, _BOOL, _NUM, _OBJ, _LIST = str, bool, (int, float), dict, list

# type -> {attribute: (python type(s), required)}
ATTRIBUTES: dict[str, dict[str, tuple[Any, bool]]] = {
    "index-pattern": {
        "title": (_STR, True), "fields": (_STR, False), "type": (_STR, False),
        "typeMeta": (_STR, False), "timeFieldName": (_STR, False),
        "sourceFilters": (_STR, False), "fieldFormatMap": (_STR, False),
        "fieldAttrs": (_STR, False), "runtimeFieldMap": (_STR, False),
        "allowNoIndex": (_BOOL, False), "name": (_STR, False), "allowHidden": (_BOOL, False),
    },
    "search": {
        "title": (_STR, True), "description": (_STR, False), "columns": (_LIST, False),
        "sort": (_LIST, False), "grid": (_OBJ, False), "rowHeight": (_NUM, False),
        "rowsPerPage": (_NUM, False), "hideChart": (_BOOL, False),
        "breakdownField": (_STR, False), "kibanaSavedObjectMeta": (_OBJ, True),
        "isTextBasedQuery": (_BOOL, False), "usesAdHocDataView": (_BOOL, False),
        "timeRestore": (_BOOL, False), "timeRange": (_OBJ, False),
        "refreshInterval": (_OBJ, False), "viewMode": (_STR, False),
        "hideAggregatedPreview": (_BOOL, False), "hits": (_NUM, False), "version": (_NUM, False),
    },
    "visualization": {
        "title": (_STR, True), "description": (_STR, False), "version": (_NUM, False),
        "kibanaSavedObjectMeta": (_OBJ, False), "uiStateJSON": (_STR, False),
        "visState": (_STR, False), "savedSearchRefName": (_STR, False),
    },
    "map": {
        "title": (_STR, True), "description": (_STR, False), "mapStateJSON": (_STR, False),
        "layerListJSON": (_STR, False), "uiStateJSON": (_STR, False),
    },
    "dashboard": {
        "title": (_STR, True), "description": (_STR, False),
        "kibanaSavedObjectMeta": (_OBJ, False), "timeRestore": (_BOOL, False),
        "timeFrom": (_STR, False), "timeTo": (_STR, False), "refreshInterval": (_OBJ, False),
        "controlGroupInput": (_OBJ, False), "panelsJSON": (_STR, False),
        "optionsJSON": (_STR, False), "hits": (_NUM, False), "version": (_NUM, False),
    },
}

# Attributes Kibana stores as JSON text.
JSON_TEXT = {"fields", "typeMeta", "sourceFilters", "fieldFormatMap", "fieldAttrs",
             "runtimeFieldMap", "uiStateJSON", "visState", "mapStateJSON", "layerListJSON",
             "panelsJSON", "optionsJSON"}

AGGREGATABLE = {"keyword", "date", "long", "integer", "short", "byte", "double", "float",
                "half_float", "scaled_float", "boolean", "ip", "constant_keyword"}
# What each use of a field needs from its mapped type.
NEEDS: dict[str, set[str]] = {
    "time field": {"date", "date_nanos"},
    "date_histogram": {"date", "date_nanos"},
    "terms": AGGREGATABLE,
    "sort": AGGREGATABLE,
    "geo layer": {"geo_point", "geo_shape"},
    # Metric aggregations over values (Kibana's numeric metrics).
    "metric": {"long", "integer", "short", "byte", "double", "float", "half_float",
               "scaled_float", "date"},
}
METRIC_AGGS = {"avg", "sum", "min", "max", "median", "percentiles", "percentile_ranks",
               "std_dev"}
# Runtime field types a data view may define (RUNTIME_FIELD_TYPES in the data_views plugin).
RUNTIME_TYPES = {"keyword", "long", "double", "date", "ip", "boolean", "geo_point",
                 "composite", "lookup"}
_DOC_FIELD = re.compile(r"""doc\[\s*['"]([^'"]+)['"]\s*\]""")


def field_mapping(properties: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The mapping of a dotted field path (objects' properties and multi-fields), or None."""
    node: dict[str, Any] = {"properties": properties}
    for part in path.split("."):
        child = (node.get("properties") or {}).get(part) or (node.get("fields") or {}).get(part)
        if child is None:
            return None
        node = child
    return node


def _field_problem(properties: dict[str, Any], path: str, use: str | None) -> str | None:
    mapping = field_mapping(properties, path)
    if mapping is None:
        return f"field {path!r} is not in the index template"
    if use and (mapping.get("enabled") is False or mapping.get("index") is False):
        return f"field {path!r} is not searchable (enabled/index false), {use} needs it"
    kind = mapping.get("type", "object")
    if use and kind not in NEEDS[use]:
        return f"field {path!r} is {kind}, {use} needs one of {sorted(NEEDS[use])}"
    return None


def _attribute_problems(obj: dict[str, Any]) -> list[str]:
    allowed = ATTRIBUTES.get(obj["type"])
    if allowed is None:
        return [f"unknown saved-object type {obj['type']!r}"]
    problems = []
    attributes = obj["attributes"]
    for key, value in attributes.items():
        if key not in allowed:
            problems.append(f"attribute {key!r} is not in Kibana's {obj['type']} schema")
        elif not isinstance(value, allowed[key][0]) or (
            allowed[key][0] is _NUM and isinstance(value, bool)
        ):
            problems.append(f"attribute {key!r} has the wrong type")
        elif key in JSON_TEXT:
            try:
                json.loads(value)
            except ValueError:
                problems.append(f"attribute {key!r} is not valid JSON text")
    problems += [f"attribute {key!r} is required" for key, (_, required) in allowed.items()
                 if required and key not in attributes]
    return problems


def _reference_names(obj: dict[str, Any]) -> set[str]:
    return {ref["name"] for ref in obj.get("references", [])}


def _check_index_pattern(obj: dict[str, Any], properties: dict[str, Any]) -> list[str]:
    attributes = obj["attributes"]
    problems = []
    if "timeFieldName" in attributes:
        problem = _field_problem(properties, attributes["timeFieldName"], "time field")
        problems += [problem] if problem else []
    for source_filter in json.loads(attributes.get("sourceFilters", "[]")):
        if set(source_filter) - {"value", "clientId"} or "value" not in source_filter:
            problems.append(f"source filter {source_filter} is not a SourceFilter")
        elif field_mapping(properties, source_filter["value"]) is None:
            problems.append(f"source filter {source_filter['value']!r} names no field")
    for name, field_attrs in json.loads(attributes.get("fieldAttrs", "{}")).items():
        if set(field_attrs) - {"customLabel", "customDescription", "count"}:
            problems.append(f"fieldAttrs[{name!r}] has keys FieldAttrSet does not")
        problem = _field_problem(properties, name, None)
        problems += [problem] if problem else []
    for name in json.loads(attributes.get("fieldFormatMap", "{}")):
        problem = _field_problem(properties, name, None)
        problems += [problem] if problem else []
    for name, runtime in json.loads(attributes.get("runtimeFieldMap", "{}")).items():
        if runtime.get("type") not in RUNTIME_TYPES:
            problems.append(f"runtime field {name!r} has type {runtime.get('type')!r}")
        # The fields its script reads need doc values (doc['x'] on a text field fails).
        for used in _DOC_FIELD.findall((runtime.get("script") or {}).get("source", "")):
            problem = _field_problem(properties, used, "sort")
            problems += [f"runtime field {name!r}: {problem}"] if problem else []
    return problems


def runtime_fields(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The data views' runtime fields, as mapping entries: fields Kibana can use like mapped
    ones (Discover, aggregations) although the index template does not hold them."""
    fields: dict[str, Any] = {}
    for obj in objects:
        if obj.get("type") == "index-pattern":
            runtime = json.loads((obj.get("attributes") or {}).get("runtimeFieldMap") or "{}")
            fields.update({name: {"type": spec.get("type")} for name, spec in runtime.items()})
    return fields


def _check_search_source(obj: dict[str, Any]) -> list[str]:
    meta = obj["attributes"].get("kibanaSavedObjectMeta") or {}
    if "searchSourceJSON" not in meta:
        return []
    source = json.loads(meta["searchSourceJSON"])
    name = source.get("indexRefName")
    if name is not None and name not in _reference_names(obj):
        return [f"searchSourceJSON.indexRefName {name!r} is not a reference"]
    return []


def _check_search(obj: dict[str, Any], properties: dict[str, Any]) -> list[str]:
    attributes = obj["attributes"]
    problems = []
    for column in attributes.get("columns", []):
        problem = _field_problem(properties, column, None)
        problems += [problem] if problem else []
    for pair in attributes.get("sort", []):
        if not (isinstance(pair, list) and len(pair) == 2 and pair[1] in {"asc", "desc"}):
            problems.append(f"sort entry {pair} is not [field, asc|desc]")
            continue
        problem = _field_problem(properties, pair[0], "sort")
        problems += [problem] if problem else []
    return problems


def _check_visualization(obj: dict[str, Any], properties: dict[str, Any]) -> list[str]:
    state = json.loads(obj["attributes"].get("visState", "{}"))
    problems = []
    for agg in state.get("aggs", []):
        field = (agg.get("params") or {}).get("field")
        if field is None:
            continue
        use = "metric" if agg["type"] in METRIC_AGGS else agg["type"] if agg[
            "type"] in NEEDS else None
        problem = _field_problem(properties, field, use)
        problems += [problem] if problem else []
    return problems


def _check_map(obj: dict[str, Any], properties: dict[str, Any]) -> list[str]:
    problems = []
    for layer in json.loads(obj["attributes"].get("layerListJSON", "[]")):
        source = layer.get("sourceDescriptor") or {}
        if "geoField" in source:
            problem = _field_problem(properties, source["geoField"], "geo layer")
            problems += [problem] if problem else []
        name = source.get("indexPatternRefName")
        if name is not None and name not in _reference_names(obj):
            problems.append(f"layer {layer.get('id')!r}: {name!r} is not a reference")
    return problems


def _check_dashboard(obj: dict[str, Any], properties: dict[str, Any]) -> list[str]:
    attributes = obj["attributes"]
    problems = []
    refresh = attributes.get("refreshInterval")
    if refresh is not None and not (isinstance(refresh.get("pause"), bool)
                                    and isinstance(refresh.get("value"), int | float)):
        problems.append("refreshInterval needs {pause: boolean, value: number}")
    names = _reference_names(obj)
    for panel in json.loads(attributes.get("panelsJSON", "[]")):
        label = f"panel {panel.get('panelIndex')!r}"
        grid = panel.get("gridData") or {}
        if set(grid) - {"x", "y", "w", "h", "i", "sectionId"} or not all(
            isinstance(grid.get(k), int) for k in ("x", "y", "w", "h")
        ):
            problems.append(f"{label}: gridData is not {{x, y, w, h, i}} of integers")
            continue
        if grid["x"] < 0 or grid["y"] < 0 or grid["w"] < 1 or grid["h"] < 1:
            problems.append(f"{label}: gridData out of range")
        if grid["x"] + grid["w"] > GRID_COLUMNS:
            problems.append(f"{label}: x + w = {grid['x'] + grid['w']} > {GRID_COLUMNS} columns")
        if grid.get("i") != panel.get("panelIndex"):
            problems.append(f"{label}: gridData.i differs from panelIndex")
        if f"{panel.get('panelIndex')}:{panel.get('panelRefName')}" not in names:
            problems.append(f"{label}: its panelRefName has no reference")
    return problems


CHECKS: dict[str, Callable[[dict[str, Any], dict[str, Any]], list[str]]] = {
    "index-pattern": _check_index_pattern,
    "search": _check_search,
    "visualization": _check_visualization,
    "map": _check_map,
    "dashboard": _check_dashboard,
}


def problems(objects: list[dict[str, Any]], properties: dict[str, Any]) -> list[str]:
    """Every departure from Kibana's shapes or from the template, as "type/id: what"."""
    found = []
    present = {(o.get("type"), o.get("id")) for o in objects}
    properties = {**properties, **runtime_fields(objects)}
    for obj in objects:
        where = f"{obj.get('type')}/{obj.get('id')}"
        if not {"id", "type", "attributes", "references"} <= set(obj):
            found.append(f"{where}: not a saved object (id, type, attributes, references)")
            continue
        issues = _attribute_problems(obj)
        if not issues:
            issues += CHECKS[obj["type"]](obj, properties)
            issues += _check_search_source(obj)
        for ref in obj["references"]:
            if set(ref) != {"name", "type", "id"}:
                issues.append(f"reference {ref} is not {{name, type, id}}")
            elif (ref["type"], ref["id"]) not in present:
                issues.append(f"reference {ref['name']!r} -> {ref['type']}/{ref['id']} missing")
        found += [f"{where}: {issue}" for issue in issues]
    return found
