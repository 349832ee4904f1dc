"""Issue 16, item 9: the command line for people. Interactive commands print their output
with only warnings as text on stderr (services keep JSON logs), one feed can be polled now,
`index rollover --dry-run` shows what the conditions are compared with, and the small things
around (the feeds file lock ignored by git, README covering what config files point to)."""

from __future__ import annotations

import fnmatch
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.demo_site_server import DemoSite
from ingest.common.es_client import make_es
from ingest.common.kafka_topics import ensure_topics
from ingest.common.settings import Settings
from ingest.feeds.feed_state import FeedStateStore
from tests.conftest import REPO
from tests.support.cli import invoke
from tests.support.kafka_tools import read_all


@pytest.fixture
def desk(settings: Settings, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Settings, str]]:
    """Two feeds: the demo site, and one that is never asked for here."""
    site = DemoSite().start()
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)  # every config file; feeds.yaml replaced below
    (config / "feeds.yaml").write_text(
        f"feeds:\n  - name: demo\n    url: {site.base_url}/feed.xml\n"
        f"  - name: other\n    url: {site.base_url}/other.xml\n", encoding="utf-8")
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(config))
    monkeypatch.setenv("NEWSWATCH_EXTRACT_PROCESSES", "1")
    monkeypatch.delenv("NEWSWATCH_LOG_FORMAT")  # the default, as a user has it
    yield settings.model_copy(update={"config_dir": config}), site.base_url
    site.stop()


def test_poll_once_prints_its_report_without_log_lines(desk: tuple[Settings, str]) -> None:
    code, output = invoke("poll", "--once")
    assert code == 0, output
    lines = output.splitlines()
    assert not [line for line in lines if line.startswith("{") or " INFO " in line]
    assert lines[-1].startswith("2 feeds, 4 articles produced")


def test_feeds_poll_polls_one_feed_now(desk: tuple[Settings, str]) -> None:
    settings, _ = desk
    code, output = invoke("feeds", "poll", "demo")
    assert code == 0, output
    assert output.strip().splitlines()[-1] == "demo: ok, entries=4 new=4 produced=4"
    assert len(read_all(settings.kafka_bootstrap, settings.articles_topic)) == 4
    es = make_es(settings)
    try:
        store = FeedStateStore.from_settings(es, settings)
        assert store.get("demo") is not None
        assert store.get("other") is None  # only the one asked for was polled
    finally:
        es.close()
    code, output = invoke("feeds", "poll", "nope")
    assert code == 1 and "no feed named 'nope'" in output


def test_rollover_dry_run_prints_the_current_age_docs_and_size(settings: Settings) -> None:
    from enrich.index.article_index import ArticleIndex

    ensure_topics(settings)
    es = make_es(settings)
    try:
        ArticleIndex(es, settings.articles_alias).ensure()
    finally:
        es.close()
    code, output = invoke("index", "rollover", "--dry-run")
    assert code == 0, output
    assert f"current index {settings.articles_alias}-000001:" in output
    age = next(line for line in output.splitlines() if line.strip().startswith("age"))
    assert age.split()[1].endswith(("s", "m")) and "(max_age 30d)" in age
    assert "docs                     0 (max_docs off)" in output
    assert "largest primary shard" in output and "(max_primary_shard_size 50gb)" in output


def test_the_feeds_file_lock_is_ignored_by_git() -> None:
    lock_name = ".feeds.yaml.lock"
    patterns = [line.strip() for line in (REPO / ".gitignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert any(fnmatch.fnmatch(lock_name, p) or fnmatch.fnmatch(f"config/{lock_name}", p)
               for p in patterns)


def test_readme_covers_the_webhook_channel_and_the_prefect_port() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    alerts = (REPO / "config" / "alerts.yaml").read_text(encoding="utf-8")
    assert "see README" in alerts
    assert "## Alert webhooks" in readme
    webhooks = readme.split("## Alert webhooks")[1].split("\n## ")[0]
    for name in ("NEWSWATCH_ALERT_WEBHOOK_URL", "NEWSWATCH_WEBHOOK_SECRET",
                 "X-Newswatch-Signature"):
        assert name in alerts and name in webhooks
    assert "`NEWSWATCH_PREFECT_PORT`" in readme
    for command in ("newswatch status", "newswatch stop", "poll NAME` polls one feed now"):
        assert command in readme
