"""infra/docker-compose.yml checked against the products' own definitions, not by eye.

* The Compose Specification's JSON schema (vendored in tests/fixtures/compose-spec/, with its
  licence and source commit) validates the file as written and as Compose interpolates it; a
  broken copy must fail.
* Elasticsearch settings are passed as `ES_SETTING_*` names, decoded here with the rule of
  Elasticsearch's EnvironmentAwareCommand, so no dotted variable can be dropped by a shell
  (elastic/elasticsearch#142676), and the pinned version is one with that bug fixed.
* The Kibana healthcheck command runs, as the container would run it, against a local server
  answering like Kibana's /api/status (shape from Kibana's status route and its examples).
* The Prefect server image uses the tag form Prefect itself computes for a release.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version
from prefect.utilities.dockerutils import get_prefect_image_name

from tests.support.threaded_http import serve
from tests.test_infra_files import COMPOSE_FILE, environment, load_compose

REPO = Path(__file__).resolve().parent.parent
INFRA = REPO / "infra"
SCHEMA_DIR = REPO / "tests" / "fixtures" / "compose-spec"
MEMLOCK_OVERRIDE = INFRA / "docker-compose.memlock.yml"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMA_DIR / "compose-spec.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _errors(validator: jsonschema.Draft7Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


# --- the Compose Specification's JSON schema ------------------------------------------------


def test_vendored_schema_names_its_source_and_licence() -> None:
    source = (SCHEMA_DIR / "SOURCE.md").read_text(encoding="utf-8")
    assert re.search(r"\b[0-9a-f]{40}\b", source)  # the commit it was copied from
    assert "github.com/compose-spec/compose-spec" in source
    assert "Apache License" in (SCHEMA_DIR / "LICENSE").read_text(encoding="utf-8")


def test_compose_file_as_written_is_valid(validator: jsonschema.Draft7Validator) -> None:
    written = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert _errors(validator, written) == []


@pytest.mark.parametrize(
    "env",
    [{}, {"NEWSWATCH_BIND_ADDRESS": "0.0.0.0", "NEWSWATCH_WORKERS": "6", "ES_HEAP": "4g"}],
)
def test_compose_file_as_interpolated_is_valid(
    validator: jsonschema.Draft7Validator, env: dict[str, str]
) -> None:
    assert _errors(validator, load_compose(env)) == []


def test_memlock_override_is_valid_and_only_adds_the_lock(
    validator: jsonschema.Draft7Validator,
) -> None:
    override = yaml.safe_load(MEMLOCK_OVERRIDE.read_text(encoding="utf-8"))
    assert _errors(validator, override) == []
    (service,) = override["services"].values()
    assert set(override["services"]) == {"elasticsearch"}
    assert service["environment"] == {"ES_SETTING_BOOTSTRAP_MEMORY__LOCK": "true"}
    assert service["ulimits"] == {"memlock": {"soft": -1, "hard": -1}}


@pytest.mark.parametrize(
    ("what", "break_it"),
    [
        ("misspelt service key", lambda c: c["services"]["worker"].update(enviroment={"A": "b"})),
        ("healthcheck test not a list/string",
         lambda c: c["services"]["kibana"]["healthcheck"].update(test=123)),
        ("unknown depends_on condition",
         lambda c: c["services"]["worker"]["depends_on"]["kafka"].update(
             condition="service_health")),
        ("ulimit without hard", lambda c: c["services"]["elasticsearch"].update(
            ulimits={"memlock": {"soft": -1}})),
        ("volume list as a string", lambda c: c["services"]["worker"].update(volumes="data")),
        ("unknown top-level key", lambda c: c.update(service={})),
    ],
)
def test_a_broken_compose_file_fails_the_check(
    validator: jsonschema.Draft7Validator, what: str, break_it: Any
) -> None:
    broken = copy.deepcopy(load_compose())
    break_it(broken)
    assert _errors(validator, broken), what


# --- Elasticsearch: settings without dots, a version without the bug ---------------------------


def es_setting_name(variable: str) -> str | None:
    """The setting an environment variable sets in Elasticsearch's Docker build, following
    EnvironmentAwareCommand.putDockerEnvSettings; None when it sets none."""
    if re.fullmatch(r"[-a-z0-9_]+(\.[-a-z0-9_]+)+", variable):
        return variable
    if variable.startswith("ES_SETTING_"):
        key = variable.removeprefix("ES_SETTING_").replace("_", ".").replace("..", "_")
        return key.lower()
    return None


@pytest.mark.parametrize(
    ("variable", "setting"),
    [
        ("ES_SETTING_CLUSTER_NAME", "cluster.name"),
        ("ES_SETTING_BOOTSTRAP_MEMORY__LOCK", "bootstrap.memory_lock"),
        ("ES_SETTING_ACTION_DESTRUCTIVE__REQUIRES__NAME", "action.destructive_requires_name"),
        ("cluster.name", "cluster.name"),
        ("ES_JAVA_OPTS", None),
    ],
)
def test_es_setting_names_decode_like_elasticsearch(variable: str, setting: str | None) -> None:
    assert es_setting_name(variable) == setting


def test_elasticsearch_gets_its_settings_without_dotted_variables() -> None:
    env = environment(load_compose()["services"]["elasticsearch"])
    assert [name for name in env if "." in name] == []
    settings = {es_setting_name(k): v for k, v in env.items() if es_setting_name(k)}
    assert settings == {
        "cluster.name": "newswatch",
        "node.name": "es01",
        "discovery.type": "single-node",
        "xpack.security.enabled": "false",
        "xpack.security.enrollment.enabled": "false",
        "xpack.ml.enabled": "false",
        "action.destructive_requires_name": "true",
    }


def test_elasticsearch_version_has_the_dotted_env_fix_and_matches_kibana() -> None:
    services = load_compose()["services"]
    es = Version(services["elasticsearch"]["image"].rsplit(":", 1)[1])
    kibana = Version(services["kibana"]["image"].rsplit(":", 1)[1])
    assert es == kibana
    assert Version("8.19.13") <= es < Version("9")  # 8.17.0-8.19.12 drop dotted env vars


def test_no_memory_lock_in_the_default_stack() -> None:
    """Rootless Docker/Podman refuse `memlock: -1`; the lock is the opt-in override."""
    es = load_compose()["services"]["elasticsearch"]
    assert "memlock" not in es.get("ulimits", {})
    env = environment(es)
    assert "bootstrap.memory_lock" not in {es_setting_name(k) for k in env}


# --- Kibana healthcheck: the overall level, not any level ------------------------------------


def _status_body(overall: str, plugin: str = "available") -> dict[str, Any]:
    """/api/status as Kibana 8 answers it (src/core/packages/status/server-internal/src/routes/
    status.ts and status.examples.yaml): overall, core, plugins, each with a level."""
    return {
        "name": "newswatch-kibana",
        "uuid": "5b2de169-2785-441b-ae8c-186a1936b17d",
        "version": {"number": "8.19.13", "build_snapshot": False},
        "status": {
            "overall": {"level": overall, "summary": f"overall {overall}",
                        "meta": {"affectedServices": []}},
            "core": {
                "elasticsearch": {"level": "available", "summary": "Elasticsearch is available"},
                "savedObjects": {"level": "available", "summary": "migrations done"},
            },
            "plugins": {"taskManager": {"level": plugin, "summary": "ok"}},
        },
        "metrics": {"last_updated": "2026-04-30T12:00:05.000Z"},
    }


class _Answer:
    def __init__(self) -> None:
        self.status = 200
        self.body: dict[str, Any] = {}


@pytest.fixture
def fake_kibana() -> Iterator[tuple[int, _Answer]]:
    answer = _Answer()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            # Compact JSON, as Kibana's HTTP server serialises it.
            data = json.dumps(answer.body, separators=(",", ":")).encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with serve(Handler) as server:
        yield server.port, answer


def _kibana_check(port: int) -> int:
    test = load_compose()["services"]["kibana"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    command = test[1].replace("localhost:5601", f"127.0.0.1:{port}")
    assert command != test[1]
    return subprocess.run(["sh", "-c", command], capture_output=True, timeout=30).returncode


@pytest.mark.parametrize(
    ("status", "overall", "plugin", "healthy"),
    [
        (200, "available", "available", True),
        (200, "available", "degraded", True),  # a plugin's trouble is not Kibana's overall
        (200, "degraded", "available", False),  # 200 but degraded: the old check passed this
        (503, "unavailable", "available", False),
        (503, "critical", "critical", False),
    ],
)
def test_kibana_healthcheck_follows_the_overall_level(
    fake_kibana: tuple[int, _Answer], status: int, overall: str, plugin: str,
    healthy: bool,
) -> None:
    port, answer = fake_kibana
    answer.status, answer.body = status, _status_body(overall, plugin)
    assert (_kibana_check(port) == 0) is healthy


def test_kibana_healthcheck_fails_when_nothing_answers() -> None:
    from infra.embedded_stack import free_port

    assert _kibana_check(free_port()) != 0


# --- Prefect: a published tag, the same release as the image's client ------------------------


def test_prefect_server_image_is_a_tag_prefect_publishes_matching_the_client() -> None:
    compose = load_compose()
    image = compose["services"]["prefect-server"]["image"]
    match = re.fullmatch(r"prefecthq/prefect:(\d+\.\d+\.\d+)-python(\d+\.\d+)", image)
    assert match, image
    version, python = match.groups()
    # The name Prefect's own tooling gives the image of that release.
    assert image == get_prefect_image_name(prefect_version=version, python_version=python)
    dockerfile = (INFRA / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(rf"^FROM python:{re.escape(python)}-slim$", dockerfile, re.MULTILINE)
    # The newswatch image is built with the same release (build arg, Dockerfile default).
    for name in ("poll-runner", "worker"):
        assert compose["services"][name]["build"]["args"]["PREFECT_VERSION"] == version
    assert re.search(rf"^ARG PREFECT_VERSION={re.escape(version)}$", dockerfile, re.MULTILINE)
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    (prefect,) = [Requirement(r) for r in pyproject["project"]["dependencies"]
                  if Requirement(r).name == "prefect"]
    assert prefect.specifier.contains(version)
