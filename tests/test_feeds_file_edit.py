"""feeds.yaml edits keep everything ops wrote: comments, grouping, order, style."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ingest.common.yaml_config import ConfigError
from ingest.feeds.feeds_config import FeedConfig, load_feeds
from ingest.feeds.feeds_file_edit import (
    FeedsFileEditError,
    add_feeds,
    add_feeds_text,
    remove_feed,
    remove_feed_text,
)
from tests.conftest import REPO

FLOW = """\
# Feeds newswatch polls.
feeds:
  # --- Syria ---
  - {name: sana-en, url: "https://sana.sy/en/?feed=rss2", language: en}  # state agency
  - {name: enab-en, url: "https://english.enabbaladi.net/feed/"}
  # --- Iran ---
  - {name: irna-en, url: "https://en.irna.ir/rss", region: iran}
  # - {name: parked, url: "https://parked.example/rss"}
"""

BLOCK = """\
feeds:
  - name: a
    url: https://a.example/rss
    tags:
      - one
      - two
  # between
  - name: b
    url: https://b.example/rss

# trailing remark
"""


def feed(name: str, url: str, **extra: object) -> FeedConfig:
    return FeedConfig.model_validate({"name": name, "url": url, **extra})


def test_add_appends_after_the_last_item_in_the_files_style() -> None:
    edited = add_feeds_text(FLOW, [feed("bbc-ar", "https://feeds.bbci.co.uk/arabic/rss.xml",
                                        language="ar", tags=["regional"])])
    lines = edited.splitlines()
    assert lines[:7] == FLOW.splitlines()[:7]  # everything before, comments included, intact
    assert lines[7] == ("  - {name: bbc-ar, url: 'https://feeds.bbci.co.uk/arabic/rss.xml', "
                        "language: ar, tags: [regional]}")
    assert lines[8] == "  # - {name: parked, url: \"https://parked.example/rss\"}"


def test_add_to_block_style_items_writes_a_block_item_at_the_same_indent() -> None:
    edited = add_feeds_text(BLOCK, [feed("c", "https://c.example/rss", enabled=False)])
    assert "  - name: c\n    url: https://c.example/rss\n    enabled: false\n" in edited
    assert edited.endswith("\n# trailing remark\n")
    assert edited.index("name: c") > edited.index("name: b")
    assert [f.name for f in _load_text(edited)] == ["a", "b", "c"]
    assert _load_text(edited)[0].tags == ["one", "two"]


@pytest.mark.parametrize("text", ["", "# only a comment\n", "feeds: []\n",
                                  "feeds: []  # none yet",
                                  "feeds: []\n# later\n"])
def test_add_to_a_file_without_feeds(text: str) -> None:
    edited = add_feeds_text(text, [feed("x", "https://x.example/rss"),
                                   feed("y", "https://y.example/rss")])
    assert [f.name for f in _load_text(edited)] == ["x", "y"]
    if text.startswith("#"):
        assert edited.startswith("# only a comment\n")


def test_an_invalid_file_is_refused_with_its_location() -> None:
    with pytest.raises(ConfigError, match=r"feeds.yaml:2: feeds\[0\].url"):
        add_feeds_text("feeds:\n  - {name: a, url: not-a-url}\n",
                       [feed("x", "https://x.example/rss")])


def test_add_refuses_a_name_already_there_and_changes_nothing() -> None:
    with pytest.raises(FeedsFileEditError, match="sana-en"):
        add_feeds_text(FLOW, [feed("sana-en", "https://elsewhere.example/rss")])


def test_remove_takes_only_the_items_own_lines() -> None:
    edited = remove_feed_text(FLOW, "enab-en")
    assert edited == FLOW.replace('  - {name: enab-en, url: "https://english.enabbaladi.net/feed/"}\n',
                                  "")
    block = remove_feed_text(BLOCK, "a")
    assert block == BLOCK.replace(
        "  - name: a\n    url: https://a.example/rss\n    tags:\n      - one\n      - two\n", "")


def test_remove_of_the_last_block_item_keeps_trailing_comments() -> None:
    edited = remove_feed_text(BLOCK, "b")
    assert "name: b" not in edited
    assert "  # between\n" in edited and edited.endswith("\n# trailing remark\n")


def test_remove_unknown_name_is_an_error() -> None:
    with pytest.raises(FeedsFileEditError, match="no feed named 'nope'"):
        remove_feed_text(FLOW, "nope")


def test_one_line_list_is_refused_rather_than_rewritten() -> None:
    text = "feeds: [{name: a, url: 'https://a.example/rss'}]\n"
    with pytest.raises(FeedsFileEditError, match="block list"):
        add_feeds_text(text, [feed("b", "https://b.example/rss")])
    with pytest.raises(FeedsFileEditError, match="block list"):
        remove_feed_text(text, "a")


def test_crlf_files_stay_crlf() -> None:
    text = FLOW.replace("\n", "\r\n")
    edited = add_feeds_text(text, [feed("z", "https://z.example/rss")])
    assert "\n" not in edited.replace("\r\n", "")
    assert remove_feed_text(edited, "z") == text


def test_the_repository_feeds_file_round_trips() -> None:
    text = (REPO / "config" / "feeds.yaml").read_text(encoding="utf-8")
    edited = add_feeds_text(text, [feed("new-one", "https://new.example/rss")])
    assert remove_feed_text(edited, "new-one") == text


def test_file_edits_are_atomic_and_serialised(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(FLOW, encoding="utf-8")
    threads = [
        threading.Thread(target=add_feeds, args=(path, [feed(f"t{i}", f"https://t{i}.example/")]))
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    names = [f.name for f in load_feeds(path).feeds]
    assert sorted(names[3:]) == [f"t{i}" for i in range(8)]
    remove_feed(path, "t3")
    assert "t3" not in [f.name for f in load_feeds(path).feeds]
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".feeds.yaml.lock")] \
        == ["feeds.yaml"]  # no temporary files left behind


def _load_text(text: str) -> list[FeedConfig]:
    from ingest.common.yaml_config import parse_yaml_model
    from ingest.feeds.feeds_config import FeedsFile

    return parse_yaml_model(text, FeedsFile, Path("t.yaml")).feeds


def test_adding_to_an_empty_new_file_still_works(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("# my feeds\n", encoding="utf-8")
    add_feeds(path, [FeedConfig.model_validate({"name": "a", "url": "https://a.example/"})])
    assert [f.name for f in load_feeds(path).feeds] == ["a"]
    assert path.read_text(encoding="utf-8").startswith("# my feeds\n")
