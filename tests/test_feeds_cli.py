"""`newswatch feeds ...` through click's CliRunner, against the real embedded stack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flows.cli.feeds import feeds
from ingest.common.es_client import make_es
from ingest.common.settings import Settings
from ingest.feeds.feed_state import FeedState, FeedStateStore
from ingest.feeds.feeds_config import load_feeds
from ingest.feeds.opml import parse_opml
from ingest.poll.poll_run import poll_once
from tests.support.http_fixture_server import FixtureServer

OPML = Path(__file__).parent / "fixtures" / "opml" / "reader-export.opml"
FEEDS_YAML = """\
# Feeds of the test desk (this comment must survive every edit).
feeds:
  # --- working ---
  - {name: good, url: "{base}/good.xml", language: en}
  # --- broken ---
  - {name: missing, url: "{base}/missing.xml"}
  - {name: parked, url: "https://parked.example/rss", enabled: false}
"""


@pytest.fixture
def desk(settings: Settings, tmp_path: Path, fixture_server: FixtureServer) -> Settings:
    config = tmp_path / "config"
    config.mkdir()
    (config / "feeds.yaml").write_text(
        FEEDS_YAML.replace("{base}", fixture_server.base_url), encoding="utf-8")
    fixture_server.add("/good.xml", "<rss version='2.0'><channel><title>g</title></channel></rss>",
                       "application/rss+xml")
    return settings.model_copy(update={"config_dir": config, "extract_processes": 1})


@pytest.fixture
def store(desk: Settings) -> Iterator[FeedStateStore]:
    es = make_es(desk)
    yield FeedStateStore.from_settings(es, desk)
    es.close()


def run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(feeds, list(args), obj=settings, catch_exceptions=False)


def test_list_shows_config_merged_with_state(desk: Settings) -> None:
    before = run(desk, "list")
    assert before.exit_code == 0
    lines = {line.split()[0]: line.split() for line in before.output.splitlines()[1:-1]}
    assert lines["good"][1] == "new" and lines["parked"][1] == "disabled"
    assert before.output.splitlines()[-1] == "3 feeds"

    poll_once(desk)
    after = run(desk, "list", "--json")
    rows = {r["name"]: r for r in map(json.loads, after.output.splitlines())}
    assert rows["good"]["status"] == "active"
    assert rows["missing"]["status"] == "backoff"
    assert rows["missing"]["state"]["last_error_kind"] == "http_404"
    assert rows["parked"]["state"] is None  # disabled feeds are not polled
    only = run(desk, "list", "--status", "backoff", "--json").output.splitlines()
    assert [json.loads(line)["name"] for line in only] == ["missing"]


def test_show_prints_one_feeds_config_and_state(desk: Settings) -> None:
    poll_once(desk)
    shown = run(desk, "show", "missing")
    assert shown.exit_code == 0
    fields = {line.split()[0]: line.split(None, 1)[1] for line in shown.output.splitlines()}
    assert fields["status"] == "backoff"
    assert fields["last_error_kind"] == "http_404"
    assert fields["consecutive_failures"] == "1"
    assert "next_due" in fields and "ago" not in fields["next_due"]
    assert run(desk, "show", "parked").output.splitlines()[-1] == "never polled"
    unknown = CliRunner().invoke(feeds, ["show", "nope"], obj=desk)
    assert unknown.exit_code == 1 and "no feed named 'nope'" in unknown.output


def test_health_counts_statuses_and_lists_problem_feeds(
    desk: Settings, store: FeedStateStore
) -> None:
    poll_once(desk)
    blocked = FeedState.new("ghost", "https://ghost.example/rss").model_copy(update={
        "status": "blocked", "consecutive_failures": 7, "permanent_failures": 5,
        "last_error_kind": "http_410", "last_error": "HTTP 410",
        "status_since": datetime(2025, 1, 1, tzinfo=UTC)})
    store.save(blocked)  # state of a feed no longer in feeds.yaml
    out = run(desk, "health").output.splitlines()
    assert out[0] == ("feeds by status: active 1, backoff 1, blocked 0, disabled 1, new 0, "
                      "orphaned 1")
    table = out[2:]
    assert table[0].split() == ["NAME", "STATUS", "FAILS", "SINCE", "NEXT", "TRY", "LAST",
                                "ERROR"]
    assert table[1].split()[:3] == ["missing", "backoff", "1"]
    assert "http_404: HTTP 404" in table[1]
    assert table[2].split()[:2] == ["ghost", "orphaned"]
    assert "not in feeds.yaml any more" in table[2]
    as_json = json.loads(run(desk, "health", "--json").output)
    assert as_json["counts"]["backoff"] == 1
    assert [p["name"] for p in as_json["problems"]] == ["missing", "ghost"]


def test_health_with_no_problems(desk: Settings, fixture_server: FixtureServer) -> None:
    fixture_server.add("/missing.xml", "<rss version='2.0'><channel/></rss>",
                       "application/rss+xml")
    poll_once(desk)
    out = run(desk, "health").output.splitlines()
    assert out == ["feeds by status: active 2, backoff 0, blocked 0, disabled 1, new 0, "
                   "orphaned 0", "no problem feeds"]


def test_add_edits_feeds_yaml_in_place_and_refuses_duplicates(desk: Settings) -> None:
    added = run(desk, "add", "wire", "https://wire.example/rss", "--language", "ar",
                "--tag", "wires", "--tag", "syria")
    assert added.exit_code == 0, added.output
    text = desk.feeds_file.read_text(encoding="utf-8")
    assert text.startswith("# Feeds of the test desk (this comment must survive every edit).")
    assert text.splitlines()[-1] == ("  - {name: wire, url: 'https://wire.example/rss', "
                                     "language: ar, tags: [wires, syria]}")
    assert [f.name for f in load_feeds(desk.feeds_file).feeds][-1] == "wire"

    for args, message in [
        (("wire", "https://other.example/rss"), "a feed named 'wire' is already registered"),
        (("wire2", "https://WIRE.example/rss"), "is already registered as 'wire'"),
        (("bad name!", "https://x.example/rss"), "invalid feed: name"),
        (("x", "ftp://x.example/rss"), "invalid feed: url"),
    ]:
        refused = CliRunner().invoke(feeds, ["add", *args], obj=desk)
        assert refused.exit_code == 1 and message in refused.output, refused.output
    assert desk.feeds_file.read_text(encoding="utf-8") == text  # refusals change nothing


def test_remove_deletes_config_and_state_but_not_seen_entries(
    desk: Settings, store: FeedStateStore
) -> None:
    poll_once(desk)
    assert store.get("missing") is not None
    removed = run(desk, "remove", "missing")
    assert removed.exit_code == 0 and removed.output == "removed missing\n"
    assert [f.name for f in load_feeds(desk.feeds_file).feeds] == ["good", "parked"]
    assert "# --- broken ---" in desk.feeds_file.read_text(encoding="utf-8")
    assert store.get("missing") is None
    gone = CliRunner().invoke(feeds, ["remove", "missing"], obj=desk)
    assert gone.exit_code == 1 and "no feed named 'missing'" in gone.output


def test_import_a_reader_export_then_export_it_back(desk: Settings, tmp_path: Path) -> None:
    dry = run(desk, "import", str(OPML), "--dry-run")
    assert dry.output.splitlines()[-1].startswith("20 feeds would be imported")
    assert len(load_feeds(desk.feeds_file).feeds) == 3  # a dry run changes nothing

    imported = run(desk, "import", str(OPML))
    assert imported.exit_code == 0
    summary = imported.output.splitlines()[-1]
    skipped = [line for line in imported.output.splitlines() if line.startswith("skipped ")]
    assert summary == f"20 feeds imported, {len(skipped)} outlines skipped" and skipped
    configured = load_feeds(desk.feeds_file).feeds
    assert len(configured) == 23
    by_name = {f.name: f for f in configured}
    assert by_name["Syria Direct"].tags == ["Middle East", "Syria"]
    assert by_name["BBC فارسی"].language == "fa"
    assert desk.feeds_file.read_text(encoding="utf-8").startswith("# Feeds of the test desk")

    again = run(desk, "import", str(OPML))
    assert again.output.splitlines()[-1].startswith("0 feeds imported")
    assert len(load_feeds(desk.feeds_file).feeds) == 23  # nothing registered twice

    out = tmp_path / "export.opml"
    assert run(desk, "export", str(out)).exit_code == 0
    assert parse_opml(out.read_bytes()).feeds == configured
    stdout = run(desk, "export")
    assert parse_opml(stdout.stdout_bytes).feeds == configured


def test_import_of_a_broken_file_is_a_clear_error(desk: Settings, tmp_path: Path) -> None:
    broken = tmp_path / "broken.opml"
    broken.write_bytes(b"<opml><body><outline text='a'></body>")
    result = CliRunner().invoke(feeds, ["import", str(broken)], obj=desk)
    assert result.exit_code == 1 and "broken.opml: OPML line 1" in result.output
    assert len(load_feeds(desk.feeds_file).feeds) == 3
