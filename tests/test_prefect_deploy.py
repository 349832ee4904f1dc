"""prefect.yaml, deployed the way the compose poll-runner deploys it, run by a Prefect worker.

A real `prefect server start` (SQLite, temporary), the poll-runner's own command from
infra/docker-compose.yml (work pool, `prefect deploy --all`), then `prefect worker start` on
the same pool runs the poll-feeds deployment against the embedded Kafka and Elasticsearch:
the demo site's articles arrive in Kafka. `newswatch serve` (the embedded default) is tested
by tests/test_service_run.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from flows.demo_site_server import DemoSite
from infra.embedded_stack import free_port
from infra.prefect_server import prefect_env, start_prefect_server, wait_healthy
from ingest.common.settings import Settings
from tests.support.kafka_tools import read_all
from tests.test_infra_files import command_text, load_compose

REPO = Path(__file__).resolve().parent.parent
PREFECT_YAML = REPO / "prefect.yaml"


def _deployment() -> dict[str, Any]:
    spec = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    (deployment,) = spec["deployments"]
    return dict(deployment)


def test_prefect_yaml_declares_the_poll_deployment_on_the_process_pool() -> None:
    spec = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    deployment = _deployment()
    assert deployment["name"] == "poll-feeds"
    assert deployment["work_pool"]["name"] == "newswatch"
    # The tick of `newswatch serve` (each feed keeps its own interval on top of it).
    (schedule,) = deployment["schedules"]
    assert timedelta(seconds=schedule["interval"]) == timedelta(
        seconds=Settings.model_fields["poll_tick_s"].default)
    # The entrypoint is the flow `newswatch serve` serves.
    path, name = deployment["entrypoint"].split(":")
    from flows import poll_feeds as module

    assert (REPO / path).resolve() == Path(module.__file__).resolve()
    flow = getattr(module, name)
    assert flow.name == "poll-feeds" and module.DEPLOYMENT == "poll-feeds/poll-feeds"
    # Its prefect-version is the release the server image and the newswatch image pin.
    server_image = load_compose()["services"]["prefect-server"]["image"]
    assert server_image.split(":")[1].startswith(f"{spec['prefect-version']}-python")


def test_compose_poll_runner_deploys_with_this_file_and_starts_a_worker_on_its_pool() -> None:
    command = command_text(load_compose()["services"]["poll-runner"])
    assert "--prefect-file /app/prefect.yaml" in command
    pool = _deployment()["work_pool"]["name"]
    assert f"prefect work-pool create {pool} --type process" in command
    assert f"exec prefect worker start --pool {pool} --type process" in command


@pytest.fixture
def prefect_server(tmp_path: Path) -> Iterator[dict[str, str]]:
    port = free_port()
    home = tmp_path / "prefect"
    process = start_prefect_server(home, port, tmp_path / "prefect-server.log")
    try:
        wait_healthy(process, port)
        env = prefect_env(home, port)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONPATH"] = str(REPO)
        yield env
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _sh(command: str, env: dict[str, str], timeout: float = 240) -> str:
    result = subprocess.run(["sh", "-c", command], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.mark.integration
def test_prefect_deploy_and_a_worker_run_the_poll_deployment(
    settings: Settings, prefect_server: dict[str, str], tmp_path: Path
) -> None:
    site = DemoSite().start()
    try:
        config = tmp_path / "config"
        shutil.copytree(REPO / "config", config)
        (config / "feeds.yaml").write_text(
            f"feeds:\n  - name: demo-site\n    url: {site.base_url}/feed.xml\n", encoding="utf-8"
        )
        env = {**prefect_server, "NEWSWATCH_CONFIG_DIR": str(config),
               "NEWSWATCH_LOG_FORMAT": "text"}
        # The poll-runner's command, as compose runs it, up to the worker.
        command = load_compose()["services"]["poll-runner"]["command"][2]
        setup, worker = command.split("&& exec ")
        _sh(setup.replace("/app/prefect.yaml", str(PREFECT_YAML)), env)
        api = env["PREFECT_API_URL"]
        deployment = httpx.get(f"{api}/deployments/name/poll-feeds/poll-feeds").json()
        assert deployment["work_pool_name"] == "newswatch"
        assert deployment["entrypoint"] == "flows/poll_feeds.py:poll_feeds"
        (schedule,) = deployment["schedules"]
        assert schedule["schedule"]["interval"] == 60
        pool = httpx.get(f"{api}/work_pools/newswatch").json()
        assert pool["type"] == "process"

        _sh("prefect deployment run poll-feeds/poll-feeds", env)
        _sh(f"{worker} --run-once", env)

        runs = httpx.post(f"{api}/flow_runs/filter", json={
            "deployments": {"id": {"any_": [deployment["id"]]}},
            "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
        }).json()
        assert len(runs) == 1, runs
        records = read_all(settings.kafka_bootstrap, settings.articles_topic)
        assert len(records) == 4  # the demo site's four articles, produced by the run
    finally:
        site.stop()
