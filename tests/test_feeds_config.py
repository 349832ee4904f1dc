from pathlib import Path

import pytest

from ingest.common.yaml_config import ConfigError, parse_yaml_model
from ingest.feeds.feeds_config import FeedsFile, load_feeds

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


# --- issue 16, item 7: each mistake at its own line --------------------------------------
def _problems(text: str, tmp_path: Path) -> str:
    with pytest.raises(ConfigError) as err:
        parse_yaml_model(text, FeedsFile, tmp_path / "feeds.yaml")
    return "\n".join(err.value.problems)


@pytest.mark.parametrize(("text", "line"), [
    # `- name a` lacks its colon; PyYAML notices only at the next line's `url:`.
    ("feeds:\n  - name a\n    url: https://a.example/\n  - name: b\n", 2),
    # A quote left open is noticed at the end of the file.
    ('feeds:\n  - name: "a\n    url: https://a.example/\n  - name: b\n'
     "    url: https://b.example/\n", 2),
    # An unclosed `{` is noticed at the next item.
    ("feeds:\n  - {name: a, url: https://a.example/\n  - name: b\n", 2),
    # A mis-indented key is reported where it is.
    ("feeds:\n  - name: a\n    url: https://a.example/\n   language: en\n", 4),
])
def test_yaml_syntax_errors_name_the_line_to_fix(text: str, line: int, tmp_path: Path) -> None:
    problems = _problems(text, tmp_path)
    assert f"feeds.yaml:{line}: invalid YAML" in problems


def test_a_duplicate_name_is_reported_at_its_own_line(tmp_path: Path) -> None:
    text = ("feeds:\n  - name: a\n    url: https://x.example/1\n"
            "  - name: b\n    url: https://x.example/2\n"
            "  - name: a\n    url: https://x.example/3\n")
    problems = _problems(text, tmp_path)
    assert "feeds.yaml:6: feeds[2].name" in problems and "used twice" in problems


def test_the_same_url_under_two_names_is_refused_at_the_second(tmp_path: Path) -> None:
    text = ("feeds:\n  - name: a\n    url: https://x.example/rss?feed=1\n"
            "  - name: b\n    url: HTTP://X.example:80/rss?feed=1\n")
    problems = _problems(text, tmp_path)
    assert "feeds.yaml:5: feeds[1].url" in problems and "'a'" in problems
    other_query = text.replace("feed=1\n", "feed=2\n", 1)  # another feed on that site: fine
    assert len(parse_yaml_model(other_query, FeedsFile, tmp_path / "f.yaml").feeds) == 2


def test_a_key_given_twice_is_refused_instead_of_the_last_winning(tmp_path: Path) -> None:
    text = ("feeds:\n  - name: a\n    url: https://x.example/1\n"
            "    url: https://x.example/2\n")
    problems = _problems(text, tmp_path)
    assert "feeds.yaml:4: feeds[0].url: key given twice (first at line 3)" in problems


def test_language_must_be_an_iso_639_1_code(tmp_path: Path) -> None:
    text = "feeds:\n  - name: a\n    url: https://x.example/1\n    language: english\n"
    problems = _problems(text, tmp_path)
    assert "feeds.yaml:4: feeds[0].language" in problems and "ISO 639-1" in problems
    good = parse_yaml_model(text.replace("english", "AR"), FeedsFile, tmp_path / "f.yaml")
    assert good.feeds[0].language == "ar"


@pytest.mark.parametrize("text", ["", "# all feeds moved elsewhere\n", "other: 1\n"])
def test_a_file_without_its_feeds_list_is_refused(text: str, tmp_path: Path) -> None:
    assert "no `feeds:` list" in _problems(text, tmp_path)


@pytest.mark.parametrize("text", ["feeds: []\n", "feeds:\n"])
def test_an_explicitly_empty_feeds_list_is_fine(text: str, tmp_path: Path) -> None:
    assert parse_yaml_model(text, FeedsFile, tmp_path / "f.yaml").feeds == []
