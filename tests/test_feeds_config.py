from pathlib import Path

import pytest

from ingest.feeds_config import FeedsFile, load_feeds
from ingest.yaml_config import ConfigError, parse_yaml_model

REPO = Path(__file__).resolve().parent.parent


def test_default_feeds_file_is_valid() -> None:
    feeds = load_feeds(REPO / "config" / "feeds.yaml").feeds
    assert len(feeds) >= 10
    assert all(str(f.url).startswith("https://") for f in feeds)


def test_bad_url_names_file_line_and_field(tmp_path: Path) -> None:
    text = "feeds:\n  - name: ok\n    url: https://a.example/feed\n  - name: bad\n    url: nope\n"
    with pytest.raises(ConfigError) as err:
        parse_yaml_model(text, FeedsFile, tmp_path / "feeds.yaml")
    message = str(err.value)
    assert "feeds.yaml:5" in message
    assert "feeds[1].url" in message


def test_unknown_field_and_missing_name_are_reported(tmp_path: Path) -> None:
    text = "feeds:\n  - url: https://a.example/feed\n    colour: red\n"
    with pytest.raises(ConfigError) as err:
        parse_yaml_model(text, FeedsFile, tmp_path / "feeds.yaml")
    problems = "\n".join(err.value.problems)
    assert "feeds[0].name: Field required" in problems
    assert "feeds[0].colour" in problems and ":3:" in problems


def test_duplicate_names_and_non_http_schemes_are_refused(tmp_path: Path) -> None:
    dup = "feeds:\n  - {name: a, url: 'https://x.example/1'}\n  - {name: a, url: 'https://x.example/2'}\n"
    with pytest.raises(ConfigError, match="used twice"):
        parse_yaml_model(dup, FeedsFile, tmp_path / "f.yaml")
    ftp = "feeds:\n  - {name: a, url: 'ftp://x.example/1'}\n"
    with pytest.raises(ConfigError, match=r"feeds\[0\]\.url"):
        parse_yaml_model(ftp, FeedsFile, tmp_path / "f.yaml")


def test_broken_yaml_reports_the_line(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - name: a\n    url: [unclosed\n")
    with pytest.raises(ConfigError, match=r"feeds.yaml:\d+: invalid YAML"):
        load_feeds(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_feeds(tmp_path / "absent.yaml")
