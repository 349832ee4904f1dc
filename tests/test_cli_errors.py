"""Issue 16, item 5: with the stack down every command says in one line what it cannot reach
and how to start it, exits non-zero, and shows no traceback (`--debug` does); commands that
only edit feeds.yaml work without the stack; bad flag values are refused by click."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flows.cli.main import cli
from infra.embedded_stack import free_port
from ingest.feeds.feeds_config import load_feeds
from tests.conftest import REPO


@pytest.fixture
def stack_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings pointing at ports where nothing listens; a config folder of our own."""
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)  # every config file; feeds.yaml replaced below
    (config / "feeds.yaml").write_text(
        "feeds:\n  - name: one\n    url: https://one.example/rss\n", encoding="utf-8")
    for key, value in {
        "NEWSWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "NEWSWATCH_ES_URL": f"http://127.0.0.1:{free_port()}",
        "NEWSWATCH_DATA_DIR": str(tmp_path / "data"),
        "NEWSWATCH_CONFIG_DIR": str(config),
    }.items():
        monkeypatch.setenv(key, value)
    return config


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("args", [
    ("feeds", "list"),
    ("feeds", "health"),
    ("feeds", "show", "one"),
    ("feeds", "remove", "one"),
    ("index", "rollover", "--dry-run"),
    ("search", "Idlib"),
    ("alerts", "history"),
    ("reprocess",),
])
def test_commands_needing_elasticsearch_say_so_in_one_line(stack_down: Path,
                                                           args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "cannot reach Elasticsearch at http://127.0.0.1:" in errors[0]
    assert "newswatch stack up" in errors[0]


@pytest.mark.parametrize("args", [("dlq", "list"), ("dlq", "replay"), ("poll", "--once"),
                                  ("feeds", "poll", "one"), ("alerts", "tail")])
def test_commands_needing_kafka_fail_fast_naming_it(stack_down: Path,
                                                    args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "error: cannot reach Kafka at 127.0.0.1:" in result.output
    assert "newswatch stack up" in result.output


def test_debug_shows_the_underlying_error(stack_down: Path) -> None:
    result = run("--debug", "feeds", "list")
    assert result.exit_code != 0
    assert result.exception is not None and not isinstance(result.exception, SystemExit)


def test_feeds_add_import_and_export_only_need_the_file(stack_down: Path,
                                                        tmp_path: Path) -> None:
    added = run("feeds", "add", "two", "https://two.example/rss", "--language", "ar")
    assert added.exit_code == 0, added.output
    assert [f.name for f in load_feeds(stack_down / "feeds.yaml").feeds] == ["one", "two"]
    exported = run("feeds", "export", str(tmp_path / "out.opml"))
    assert exported.exit_code == 0, exported.output
    assert b"two.example" in (tmp_path / "out.opml").read_bytes()


@pytest.mark.parametrize("args", [
    ("feeds", "list", "--status", "sleeping"),
    ("feeds", "add", "x", "https://x.example/rss", "--language", "english"),
    ("--log-level", "LOUD", "stack", "status"),
    ("stop", "--timeout", "0"),
])
def test_bad_flag_values_are_refused(stack_down: Path, args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "Invalid value" in result.output or "invalid feed" in result.output
