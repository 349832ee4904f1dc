"""The command-line contract of issue 2, through click's runner against the real servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from enrich.worker.loop import run_worker
from flows.cli.main import cli
from ingest.common.es_client import make_es
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from tests.conftest import REPO
from tests.support.articles import make_article
from tests.support.cli import invoke
from tests.support.kafka_tools import produce, produce_articles, read_all


def test_invalid_config_exits_non_zero_naming_file_line_and_field(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - name: ok\n    url: not-a-url\n")
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(tmp_path))
    code, output = invoke("poll", "--once")
    assert code == 2
    assert f"{tmp_path / 'feeds.yaml'}:3" in output
    assert "feeds[0].url" in output


def test_invalid_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_ARTICLES_PARTITIONS", "zero")
    result = CliRunner().invoke(cli, ["stack", "status"])
    assert result.exit_code != 0
    assert "NEWSWATCH_ARTICLES_PARTITIONS" in result.output


def test_stack_commands_are_idempotent(settings: Settings) -> None:
    code, output = invoke("stack", "status")
    assert code == 0 and f"up {settings.kafka_bootstrap}" in output
    code, output = invoke("stack", "up")  # already running: nothing to do, exit 0
    assert code == 0 and "already running" in output


def test_extract_json_gives_path_title_and_text() -> None:
    page = REPO / "flows" / "demo_site" / "seed-syria-mediation.html"
    code, output = invoke("extract", str(page), "--json")
    assert code == 0
    row = json.loads(output.splitlines()[0])
    assert row["path"] == str(page)
    assert "Syria mediation" in row["title"]
    assert "Hmeimim" in row["text"] and "Most read" not in row["text"]


def test_search_json_one_object_per_hit_with_the_contract_fields(settings: Settings) -> None:
    ensure_topics(settings)
    articles = [make_article(1, title="Shelling reported near Saraqib in Idlib province"),
                make_article(2), make_article(3, title="Idlib talks resume in Moscow")]
    produce_articles(settings, articles)
    assert run_worker(settings, until_idle_s=1).indexed == 3
    # Searchable after the next refresh (1 s); the worker does not force one per batch.
    with make_es(settings) as es:
        es.indices.refresh(index=settings.articles_alias)
    code, output = invoke("search", "Idlib", "--json", "--sort", "newest")
    assert code == 0
    hits = [json.loads(line) for line in output.splitlines()]
    assert [h["id"] for h in hits] == [articles[2].id, articles[0].id]
    for hit in hits:
        assert {"id", "title", "url", "published", "topics", "highlight"} <= set(hit)
        assert "idlib" in hit["topics"] and "syria" in hit["topics"]
        assert any("<em>Idlib</em>" in h for h in hit["highlight"])
    code, output = invoke("search", "Idlib", "--json", "--topic", "iran")
    assert code == 0 and output.strip() == ""
    code, output = invoke("search", "Idlib", "--since", "2030-01-01")
    assert code == 0 and "0 matching articles" in output


def test_dlq_list_and_replay(settings: Settings) -> None:
    ensure_topics(settings)
    produce(settings.kafka_bootstrap, settings.articles_topic, [(b"k", b"not json")])
    run_worker(settings, until_idle_s=1)
    code, output = invoke("dlq", "list", "--json")
    assert code == 0
    letter = json.loads(output.splitlines()[0])
    assert letter["error_kind"] == "invalid_json" and letter["offset"] == 0
    # After a fix upstream, the operator replays the letter (here: to a scratch topic).
    code, output = invoke("dlq", "replay", "--kind", "invalid_json", "--to-topic",
                          settings.alerts_topic)
    assert code == 0 and "replayed 1" in output
    replayed = read_all(settings.kafka_bootstrap, settings.alerts_topic)
    assert [(r.key, r.value) for r in replayed] == [(b"k", b"not json")]


def test_demo_prints_the_seed_article_first_and_one_signed_delivery(settings: Settings) -> None:
    code, output = invoke("demo")
    assert code == 0, output
    results = output.split('search "Idlib"')[1]
    first = results.split("\n2.")[0]
    assert "Syria mediation" in first
    assert "topics: idlib, iran, syria" in first
    assert "[Idlib]" in first
    assert "webhook deliveries received" in output and ": 1\n" in output
    assert "signature verified: rule idlib-moscow-talks" in output


def test_extract_reports_a_file_that_is_not_html_and_goes_on(tmp_path: Path) -> None:
    pdf = tmp_path / "report.html"
    pdf.write_bytes(b"%PDF-1.4 not a page")
    page = REPO / "flows" / "demo_site" / "harbour-festival.html"
    code, output = invoke("extract", str(pdf), str(page), "--json")
    assert code == 0  # one file was extracted
    rows = [json.loads(line) for line in output.splitlines()]
    assert rows[0]["text"] == "" and "not HTML" in rows[0]["error"]
    assert "forty thousand" in rows[1]["text"]
    code, _ = invoke("extract", str(pdf))
    assert code == 1  # nothing could be extracted
