"""The production stack definition and Kibana saved objects, checked without Docker or Kibana.

No Docker engine runs on these machines, so the compose file is checked for what would break
`make up` or silently disagree with the code: services, images, ports, listeners, health
checks and their depends_on conditions, and every NEWSWATCH_* variable against the Settings
model. The saved objects are checked for what makes a Kibana import fail or a panel empty:
valid JSON (also the JSON inside strings), references that resolve, and fields that exist in
the articles index template with the right type.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.container_identity import replica_name
from ingest.common.settings import Settings
from ingest.message.timing_hops import END_TO_END, HOPS

REPO = Path(__file__).resolve().parent.parent
INFRA = REPO / "infra"
COMPOSE_FILE = INFRA / "docker-compose.yml"
SAVED_OBJECTS = INFRA / "kibana" / "saved-objects.ndjson"
TEMPLATE = INFRA / "elasticsearch" / "articles-template.json"

NEWSWATCH_SERVICES = ("poll-runner", "worker")
_VARIABLE = re.compile(
    r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(text: str, env: dict[str, str] | None = None) -> str:
    """Compose's `${VAR:-default}` / `$$` substitution, with `env` standing for infra/.env."""
    values = env or {}

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(3)
        default = match.group(2)
        return values.get(name) or (default if default is not None else "")

    return _VARIABLE.sub(replace, text)


def load_compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    data = yaml.safe_load(interpolate(COMPOSE_FILE.read_text(encoding="utf-8"), env))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def published(service: dict[str, Any]) -> dict[int, tuple[str, int]]:
    """container port -> (host address, host port)."""
    result = {}
    for entry in service.get("ports", []):
        parts = str(entry).split(":")
        address, host, container = parts if len(parts) == 3 else ["0.0.0.0", *parts]
        result[int(container)] = (address, int(host))
    return result


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def default_of(field: str) -> Any:
    return Settings.model_fields[field].default


# --- compose: services, images, ports --------------------------------------------------------


def test_compose_defines_the_whole_production_stack(services: dict[str, Any]) -> None:
    assert set(services) == {
        "kafka",
        "elasticsearch",
        "kibana",
        "postgres",
        "prefect-server",
        *NEWSWATCH_SERVICES,
    }


def test_images_are_the_official_ones_at_matching_versions(services: dict[str, Any]) -> None:
    assert services["kafka"]["image"].startswith("apache/kafka:")
    es_image = services["elasticsearch"]["image"]
    kibana_image = services["kibana"]["image"]
    assert es_image.startswith("docker.elastic.co/elasticsearch/elasticsearch:8.")
    assert kibana_image.startswith("docker.elastic.co/kibana/kibana:")
    # The client is pinned to 8.x (STACK-NOTES), and Kibana must match Elasticsearch exactly.
    assert es_image.rsplit(":", 1)[1] == kibana_image.rsplit(":", 1)[1]
    assert services["prefect-server"]["image"].startswith("prefecthq/prefect:3.")
    assert services["postgres"]["image"].startswith("postgres:")


def test_versions_follow_overrides_from_infra_env() -> None:
    services = load_compose({"ELASTIC_VERSION": "8.18.3"})["services"]
    assert services["elasticsearch"]["image"].endswith(":8.18.3")
    assert services["kibana"]["image"].endswith(":8.18.3")


def test_host_ports_follow_the_embedded_stack_contract(services: dict[str, Any]) -> None:
    kafka_port = int(default_of("kafka_bootstrap").rsplit(":", 1)[1])
    es_port = int(default_of("es_url").rsplit(":", 1)[1])
    expected = {
        "kafka": kafka_port,
        "elasticsearch": es_port,
        "kibana": 5601,
        "prefect-server": default_of("prefect_port"),
    }
    assert (kafka_port, es_port) == (9092, 9200)
    for name, port in expected.items():
        assert published(services[name]) == {port: ("127.0.0.1", port)}, name
    for name in ("postgres", *NEWSWATCH_SERVICES):
        assert "ports" not in services[name], f"{name} should not be published"


def test_bind_address_can_be_opened_deliberately() -> None:
    services = load_compose({"NEWSWATCH_BIND_ADDRESS": "0.0.0.0"})["services"]
    assert published(services["elasticsearch"])[9200] == ("0.0.0.0", 9200)


# --- compose: Kafka ---------------------------------------------------------------------------


def _listeners(value: str) -> dict[str, str]:
    return dict(item.split("://", 1) for item in value.split(","))


def test_kafka_runs_kraft_single_node_without_topic_auto_creation(
    services: dict[str, Any],
) -> None:
    env = environment(services["kafka"])
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])  # a base64 UUID
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    node, address = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split("@")
    assert node == env["KAFKA_NODE_ID"]
    controller_port = address.rsplit(":", 1)[1]
    assert _listeners(env["KAFKA_LISTENERS"])["CONTROLLER"] == f":{controller_port}"
    assert env["KAFKA_LOG_DIRS"] in {v.split(":")[1] for v in services["kafka"]["volumes"]}


def test_kafka_listeners_serve_host_and_in_network_clients(services: dict[str, Any]) -> None:
    env = environment(services["kafka"])
    listeners = _listeners(env["KAFKA_LISTENERS"])
    advertised = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(listeners) == set(protocols)
    assert set(advertised) <= set(listeners)
    assert "CONTROLLER" not in advertised
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    # Host clients use the embedded stack's default bootstrap address.
    assert default_of("kafka_bootstrap") in advertised.values()
    # Containers use the in-network listener, on the port that listener binds.
    for name in NEWSWATCH_SERVICES:
        bootstrap = environment(services[name])["NEWSWATCH_KAFKA_BOOTSTRAP"]
        listener = next(k for k, v in advertised.items() if v == bootstrap)
        assert listeners[listener] == ":" + bootstrap.rsplit(":", 1)[1]
        assert bootstrap.split(":")[0] == "kafka"


# --- compose: Elasticsearch, Kibana, Prefect ----------------------------------------------------


def test_elasticsearch_single_node_with_documented_security_and_fixed_heap(
    services: dict[str, Any],
) -> None:
    env = environment(services["elasticsearch"])
    assert env["ES_SETTING_DISCOVERY_TYPE"] == "single-node"
    # explicit, never the default
    assert env["ES_SETTING_XPACK_SECURITY_ENABLED"] in {"true", "false"}
    heap = re.fullmatch(r"-Xms(\S+) -Xmx(\S+)", env["ES_JAVA_OPTS"])
    assert heap is not None and heap.group(1) == heap.group(2)
    assert "es-data:/usr/share/elasticsearch/data" in services["elasticsearch"]["volumes"]
    readme = (INFRA / "README.md").read_text(encoding="utf-8")
    assert "xpack.security.enabled" in readme
    assert "ES_HEAP" in readme


def test_kibana_talks_to_the_compose_elasticsearch(services: dict[str, Any]) -> None:
    hosts = json.loads(environment(services["kibana"])["ELASTICSEARCH_HOSTS"])
    assert hosts == ["http://elasticsearch:9200"]


def test_prefect_server_runs_on_postgres(services: dict[str, Any]) -> None:
    server = services["prefect-server"]
    assert "prefect server start --host 0.0.0.0" in command_text(server)
    url = environment(server)["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert re.fullmatch(r"postgresql\+asyncpg://prefect:[^@]+@postgres:5432/prefect", url)
    assert server["depends_on"]["postgres"]["condition"] == "service_healthy"
    postgres = environment(services["postgres"])
    assert (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"]) == ("prefect", "prefect")
    assert url.split("prefect:", 1)[1].split("@")[0] == postgres["POSTGRES_PASSWORD"]


# --- compose: newswatch services ----------------------------------------------------------------


def test_newswatch_services_run_the_cli_contract(services: dict[str, Any]) -> None:
    poll_runner = command_text(services["poll-runner"])
    assert "prefect --no-prompt deploy --all --prefect-file /app/prefect.yaml" in poll_runner
    assert "exec prefect worker start --pool newswatch --type process" in poll_runner
    worker = command_text(services["worker"])
    assert worker.endswith("exec newswatch worker")
    assert 'NEWSWATCH_WORKER_INSTANCE="$(python -m infra.container_identity)"' in worker
    # Scalable with --scale: no fixed container name, replicas from a variable.
    assert "container_name" not in services["worker"]
    assert int(services["worker"]["deploy"]["replicas"]) == 2
    for name in NEWSWATCH_SERVICES:
        env = environment(services[name])
        assert env["PREFECT_API_URL"] == f"http://prefect-server:{default_of('prefect_port')}/api"
        assert env["NEWSWATCH_ES_URL"] == "http://elasticsearch:9200"
        build = services[name]["build"]
        assert (build["context"], build["dockerfile"]) == ("..", "infra/Dockerfile")
        assert "../config:/app/config:ro" in services[name]["volumes"]
    assert services["poll-runner"]["depends_on"]["prefect-server"]["condition"] == "service_healthy"


def test_every_newswatch_variable_is_a_settings_field(compose: dict[str, Any]) -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    names = set(re.findall(r"\bNEWSWATCH_([A-Z0-9_]+)\b", text))
    # Compose-level knobs (interpolated into the file, never seen by the code).
    compose_only = {"BIND_ADDRESS", "IMAGE_TAG", "WORKERS"}
    unknown = {n for n in names - compose_only if n.lower() not in Settings.model_fields}
    assert unknown == set()
    for name in NEWSWATCH_SERVICES:
        for variable in environment(compose["services"][name]):
            if variable.startswith("NEWSWATCH_"):
                field = variable.removeprefix("NEWSWATCH_").lower()
                assert field in Settings.model_fields, variable


def test_settings_accept_the_values_compose_gives_them(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable, value in environment(services["worker"]).items():
        monkeypatch.setenv(variable, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.kafka_host_port == ("kafka", 19092)
    assert settings.es_host_port == ("elasticsearch", 9200)
    assert settings.articles_partitions == 6
    assert settings.dlq_retention_ms == -1  # dead letters are never expired by the broker
    assert settings.articles_retention_ms == 7 * 24 * 3600 * 1000


# --- compose: health and start order ------------------------------------------------------------


def test_every_service_has_a_healthcheck_and_waits_for_healthy_dependencies(
    services: dict[str, Any],
) -> None:
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert condition["condition"] == "service_healthy", f"{name} -> {dependency}"
    assert set(services["worker"]["depends_on"]) == {"kafka", "elasticsearch"}
    assert set(services["kibana"]["depends_on"]) == {"elasticsearch"}


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    used = set()
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if not source.startswith((".", "/")):
                used.add(source)
    assert used == set(compose["volumes"])


# --- the newswatch image ------------------------------------------------------------------------


def test_dockerfile_installs_every_package_the_project_ships() -> None:
    dockerfile = (INFRA / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = sorted({pattern.rstrip("*").rstrip(".") for pattern in include})
    allowed = (INFRA / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    for package in packages:
        assert re.search(rf"^COPY {package} \./{package}$", dockerfile, re.MULTILINE), package
        assert f"!{package}" in allowed, package
    for needed in ("pyproject.toml", "README.md", "config"):
        assert f"!{needed}" in allowed
    assert "pip install --no-deps ." in dockerfile
    assert re.search(r"^USER newswatch$", dockerfile, re.MULTILINE)


def test_worker_entrypoint_shell_line_is_well_formed(services: dict[str, Any]) -> None:
    command = services["worker"]["command"]
    assert command[:2] == ["sh", "-c"]
    words = shlex.split(command[2])
    assert words[-3:] == ["exec", "newswatch", "worker"]


@pytest.mark.parametrize(
    ("ptr", "expected"),
    [
        ("newswatch-worker-3.newswatch_default", "newswatch-worker-3"),
        ("newswatch-worker-3.newswatch_default.", "newswatch-worker-3"),
        ("newswatch_worker_1", "newswatch_worker_1"),  # compose v1 naming, no network suffix
        ("", None),
        ("-bad.example", None),
    ],
)
def test_replica_name_from_the_reverse_lookup(ptr: str, expected: str | None) -> None:
    assert replica_name(ptr) == expected


# --- Kibana saved objects -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_objects() -> list[dict[str, Any]]:
    lines = SAVED_OBJECTS.read_text(encoding="utf-8").splitlines()
    assert all(line.strip() for line in lines), "blank line in ndjson"
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def mapping() -> dict[str, Any]:
    properties: dict[str, Any] = json.loads(TEMPLATE.read_text(encoding="utf-8"))["template"][
        "mappings"
    ]["properties"]
    return properties


def _by_type(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["type"] == kind]


def _field_type(mapping: dict[str, Any], path: str) -> str | None:
    node: dict[str, Any] = {"properties": mapping}
    for part in path.split("."):
        node = node.get("properties", {}).get(part) or node.get("fields", {}).get(part) or {}
    return node.get("type") if node else None


def test_saved_objects_are_kibana_8_ndjson(saved_objects: list[dict[str, Any]]) -> None:
    keys = [(o["type"], o["id"]) for o in saved_objects]
    assert len(keys) == len(set(keys))
    for obj in saved_objects:
        assert {"id", "type", "attributes", "references"} <= set(obj)
        assert obj["coreMigrationVersion"].startswith("8.")
        assert int(obj["typeMigrationVersion"].split(".")[0]) == 8
        assert obj["attributes"]["title"]
    kinds = [o["type"] for o in saved_objects]
    assert kinds.count("index-pattern") == 1
    assert kinds.count("search") >= 1
    assert kinds.count("visualization") >= 3
    assert kinds.count("map") == 1
    assert kinds.count("dashboard") == 1


def test_data_view_is_the_articles_alias_by_publication_time(
    saved_objects: list[dict[str, Any]], mapping: dict[str, Any]
) -> None:
    (view,) = _by_type(saved_objects, "index-pattern")
    assert view["attributes"]["title"] == default_of("articles_alias") == "newswatch-articles"
    assert view["attributes"]["timeFieldName"] == "published_or_fetched"  # never empty
    assert _field_type(mapping, "published_or_fetched") == "date"
    for source_filter in json.loads(view["attributes"]["sourceFilters"]):
        assert source_filter["value"] in mapping


def _embedded_json(obj: dict[str, Any]) -> dict[str, Any]:
    """Every attribute Kibana stores as a JSON string, parsed."""
    attributes = obj["attributes"]
    parsed = {}
    for key in ("visState", "uiStateJSON", "panelsJSON", "optionsJSON", "layerListJSON",
                "mapStateJSON", "fields", "fieldFormatMap", "sourceFilters", "fieldAttrs",
                "runtimeFieldMap", "typeMeta"):  # fmt: skip
        if key in attributes:
            parsed[key] = json.loads(attributes[key])
    meta = attributes.get("kibanaSavedObjectMeta", {})
    if "searchSourceJSON" in meta:
        parsed["searchSourceJSON"] = json.loads(meta["searchSourceJSON"])
    return parsed


def _ref_names_used(obj: dict[str, Any], parsed: dict[str, Any]) -> set[str]:
    names = set()
    source = parsed.get("searchSourceJSON", {})
    if "indexRefName" in source:
        names.add(source["indexRefName"])
    for panel in parsed.get("panelsJSON", []):
        names.add(f"{panel['panelIndex']}:{panel['panelRefName']}")
    for layer in parsed.get("layerListJSON", []):
        if "indexPatternRefName" in layer.get("sourceDescriptor", {}):
            names.add(layer["sourceDescriptor"]["indexPatternRefName"])
    return names


def test_every_reference_resolves(saved_objects: list[dict[str, Any]]) -> None:
    present = {(o["type"], o["id"]) for o in saved_objects}
    for obj in saved_objects:
        parsed = _embedded_json(obj)
        reference_names = {ref["name"] for ref in obj["references"]}
        assert _ref_names_used(obj, parsed) == reference_names, obj["id"]
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in present, f"{obj['id']} -> {ref}"


def test_dashboard_shows_every_visualisation_map_and_search(
    saved_objects: list[dict[str, Any]],
) -> None:
    (dashboard,) = _by_type(saved_objects, "dashboard")
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    shown = {(ref["type"], ref["id"]) for ref in dashboard["references"]}
    wanted = {(o["type"], o["id"]) for o in saved_objects if o["type"] != "index-pattern"}
    assert shown == wanted - {("dashboard", dashboard["id"])}
    cells = set()
    for panel in panels:
        grid = panel["gridData"]
        assert grid["i"] == panel["panelIndex"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 48  # Kibana's 48-column grid
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"panel {panel['panelIndex']} overlaps"
                cells.add((x, y))


def test_visualisations_use_fields_the_index_template_maps(
    saved_objects: list[dict[str, Any]], mapping: dict[str, Any]
) -> None:
    wanted_types = {"date_histogram": {"date"}, "terms": {"keyword"},
                    "percentiles": {"double"}, "max": {"double"}}
    (view,) = _by_type(saved_objects, "index-pattern")
    runtime = json.loads(view["attributes"]["runtimeFieldMap"])
    fields_seen = set()
    for vis in _by_type(saved_objects, "visualization"):
        for agg in json.loads(vis["attributes"]["visState"])["aggs"]:
            field = agg["params"].get("field")
            if field is not None:
                fields_seen.add(field)
                field_type = _field_type(mapping, field) or runtime.get(field, {}).get("type")
                assert field_type in wanted_types[agg["type"]], field
    assert {"published_or_fetched", "topics", "domain"} <= fields_seen
    (search,) = _by_type(saved_objects, "search")
    for column in search["attributes"]["columns"]:
        assert _field_type(mapping, column) is not None, column


def test_map_layer_clusters_articles_on_the_geo_point(
    saved_objects: list[dict[str, Any]], mapping: dict[str, Any]
) -> None:
    (article_map,) = _by_type(saved_objects, "map")
    layers = json.loads(article_map["attributes"]["layerListJSON"])
    sources = [layer["sourceDescriptor"] for layer in layers]
    geo = [s for s in sources if s.get("type", "").startswith("ES_")]
    assert len(geo) == 1
    assert _field_type(mapping, geo[0]["geoField"]) == "geo_point"


def test_freshness_runtime_fields_span_mapped_timings(
    saved_objects: list[dict[str, Any]], mapping: dict[str, Any]
) -> None:
    """The data view computes each hop and end-to-end span from two `timings` dates the
    template maps (as `newswatch freshness` does), and the freshness table shows them all."""
    (view,) = _by_type(saved_objects, "index-pattern")
    runtime = json.loads(view["attributes"]["runtimeFieldMap"])
    spans = {f"freshness_{s.name}_s": s for s in HOPS + END_TO_END}
    assert set(spans) <= set(runtime)
    for name, span in spans.items():
        script = runtime[name]["script"]["source"]
        used = set(re.findall(r"doc\['([^']+)'\]", script))
        assert used == {f"timings.{span.start}", f"timings.{span.end}"}, name
        assert all(_field_type(mapping, field) == "date" for field in used), name
        assert "emit(" in script and runtime[name]["type"] == "double"
    (table,) = [v for v in _by_type(saved_objects, "visualization")
                if v["id"] == "newswatch-freshness"]
    aggs = json.loads(table["attributes"]["visState"])["aggs"]
    shown = {(a["type"], a["params"]["field"]) for a in aggs}
    assert shown == {(kind, name) for name in spans for kind in ("percentiles", "max")}
    assert all(a["params"]["percents"] == [50, 95] for a in aggs if a["type"] == "percentiles")
