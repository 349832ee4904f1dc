"""alerts.yaml: the contract of the issue, validation errors with file:line: field, durations,
and rule changes picked up without a restart (keeping the old rules when the edit is bad)."""

from __future__ import annotations

import logging
import os
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from enrich.alerts import ConfigError, load_alert_rules
from enrich.alerts.cli_commands import alerts_validate
from enrich.alerts.rules.durations import format_duration, parse_duration
from enrich.alerts.rules.rules_watcher import RulesWatcher
from ingest.common.settings import Settings
from tests.conftest import REPO

ISSUE_EXAMPLE = """\
channels:
  - name: ops-webhook
    type: webhook            # webhook | slack | email | kafka | elasticsearch | log
    url: https://example.org/hooks/newswatch
    secret_env: NEWSWATCH_WEBHOOK_SECRET   # HMAC key, read from this environment variable
rules:
  - name: idlib-ceasefire
    any: ["Idlib", "إدلب", "İdlib", "Идлиб", "ادلب"]   # at least one of these terms
    all: ["ceasefire"]                                   # optional: every one of these
    none: []                                             # optional: none of these
    topics: []            # optional: article must carry one of these topics
    languages: []         # optional
    channels: [ops-webhook]
    realert: 30m          # optional: at most one alert per rule (and group key) per window
"""


def write(tmp_path: Path, text: str, name: str = "alerts.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_alert_rules(path)
    return caught.value.problems


# --- durations ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [("45s", timedelta(seconds=45)), ("30m", timedelta(minutes=30)), ("6h", timedelta(hours=6)),
     ("2d", timedelta(days=2)), ("1w", timedelta(weeks=1)), ("1h30m", timedelta(minutes=90)),
     ("1H", timedelta(hours=1))],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["30", "", "m", "3 fortnights", "0m", "-5m", "1.5h"])
def test_ambiguous_or_empty_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_durations_format_back() -> None:
    for text in ("45s", "30m", "1h30m", "2d", "1w", "10d"):
        assert format_duration(parse_duration(text)) == text


# --- the contract -------------------------------------------------------------------------
def test_issue_example_is_a_valid_file(tmp_path: Path) -> None:
    config = load_alert_rules(write(tmp_path, ISSUE_EXAMPLE))
    rule = config.rules[0]
    assert rule.name == "idlib-ceasefire"
    assert rule.any == ["Idlib", "إدلب", "İdlib", "Идлиб", "ادلب"]
    assert rule.all == ["ceasefire"]
    assert rule.realert == timedelta(minutes=30)
    assert rule.channels == ["ops-webhook"]
    channel = config.channels[0]
    assert (channel.type, channel.secret_env) == ("webhook", "NEWSWATCH_WEBHOOK_SECRET")


def test_default_rules_file_has_the_idlib_rule_and_offline_safe_channels() -> None:
    config = load_alert_rules(REPO / "config" / "alerts.yaml")
    rule = config.rule("idlib-ceasefire")
    assert rule is not None and "Idlib" in rule.any and rule.all == ["ceasefire"]
    types = {c.name: c for c in config.channels}
    assert {c.type for c in types.values()} >= {"log", "webhook"}
    webhook = next(c for c in config.channels if c.type == "webhook")
    # The URL comes from the environment: the default starts without network or secrets.
    assert webhook.url is None and webhook.url_env and webhook.secret_env
    assert set(rule.channels) <= set(types)


# --- errors name file, line and field -----------------------------------------------------
def test_unknown_channel_is_an_error_on_the_rules_channels_line(tmp_path: Path) -> None:
    path = write(tmp_path, ISSUE_EXAMPLE.replace("channels: [ops-webhook]",
                                                 "channels: [ops-webhook, pager]"))
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:13: rules[0].channels:")
    assert "unknown channel 'pager'" in problem and "ops-webhook" in problem


def test_bad_duration_and_short_term_are_reported_each_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, ISSUE_EXAMPLE.replace("realert: 30m ", "realert: 30 ")
                 .replace('"ceasefire"]', '"ceasefire", "x"]'))
    problems = problems_of(path)
    assert any(p.startswith(f"{path}:14: rules[0].realert:") and "unit" in p for p in problems)
    assert any(p.startswith(f"{path}:9: rules[0].all[1]:") for p in problems)


def test_names_used_twice_are_errors(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        channels:
          - {name: ops, type: log}
          - {name: ops, type: log}
        rules:
          - {name: a, any: [Idlib], channels: [ops]}
          - {name: a, any: [Aleppo], channels: [ops]}
        """)
    problems = problems_of(path)
    assert f"{path}:3: channels[1].name: Value error, channel name 'ops' is used twice" in problems
    assert f"{path}:6: rules[1].name: Value error, rule name 'a' is used twice" in problems


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{name: w, type: webhook}", "exactly one of url, url_env"),
        ("{name: w, type: webhook, url: 'ftp://x'}", "not an http(s) URL"),
        ("{name: w, type: log, url: 'https://x.org'}", "url not used by log channels"),
        ("{name: m, type: email, host: smtp.x.org, from: a@x.org}", "needs to"),
        ("{name: k, type: kafka}", "needs topic"),
        ("{name: e, type: elasticsearch}", "needs index"),
        ("{name: p, type: pager}", "type"),
        ("{name: w, type: webhook, url_env: 'not a var'}", "url_env"),
    ],
)
def test_channel_entries_are_checked_per_type(tmp_path: Path, entry: str, message: str) -> None:
    path = write(tmp_path, f"channels:\n  - {entry}\n")
    problems = problems_of(path)
    assert any(p.startswith(f"{path}:2: channels[0]") and message in p for p in problems), problems


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{name: r}", "needs any, all, topics or sources"),
        ("{name: r, any: ['Id*lib']}", "only allowed once, at the end"),
        ("{name: r, any: [Idlib], none: [IDLIB]}", "never fires"),
        ("{name: r, any: [Idlib], languages: [arabic]}", "not a language code"),
        ("{name: r, any: [Idlib], languages: [ara]}", "not a language code"),
        ("{name: r, any: [Idlib], languages: [xx]}", "not a language code"),
        ("{name: r, any: [Idlib], severity: urgent}", "'high' or 'critical'"),
        ("{name: r, any: [Idlib], silent_for: 1h}", "only used by silence rules"),
        ("{name: r, type: silence, feeds: [bbc]}", "needs silent_for"),
        ("{name: r, type: silence, silent_for: 1h}", "needs feeds or topics"),
        ("{name: r, type: silence, silent_for: 1h, feeds: [x], any: [Idlib]}",
         "not used by silence rules"),
        ("{name: r, any: [Idlib], group_by: [author]}", "group_by"),
        ("{name: r, any: [Idlib], colour: red}", "Extra inputs are not permitted"),
    ],
)
def test_rule_entries_are_checked(tmp_path: Path, rule: str, message: str) -> None:
    path = write(tmp_path, f"rules:\n  - {rule}\n")
    problems = problems_of(path)
    assert any(p.startswith(f"{path}:2: rules[0]") and message in p for p in problems), problems


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "rules:\n  - name: a\n    any: [Idlib\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:") and "invalid YAML" in problem


def test_silence_rule_and_optional_keys_load(tmp_path: Path) -> None:
    config = load_alert_rules(write(tmp_path, """\
        channels: [{name: ops, type: log}]
        rules:
          - {name: quiet, type: silence, feeds: ["*"], topics: [syria], silent_for: 6h,
             channels: [ops], severity: critical}
          - {name: d, any: [Idlib], digest: 1h, group_by: [feed], sources: [bbc.co.uk],
             severity: low, enabled: false}
        """))
    quiet, digest = config.rules
    assert quiet.silent_for == timedelta(hours=6) and quiet.feeds == ["*"]
    assert digest.digest == timedelta(hours=1) and digest.group_by == ["feed"]
    assert not digest.enabled


# --- validate command ---------------------------------------------------------------------
def _settings_for(config_dir: Path) -> Settings:
    return Settings(_env_file=None, config_dir=config_dir)  # type: ignore[call-arg]


def test_validate_command_reports_ok_and_counts(tmp_path: Path) -> None:
    write(tmp_path, ISSUE_EXAMPLE)
    result = alerts_validate(_settings_for(tmp_path))
    assert result.exit_code == 0
    assert "OK" in result.output and "1 rules" in result.output and "1 channels" in result.output


def test_validate_command_fails_with_file_line_field(tmp_path: Path) -> None:
    path = write(tmp_path, ISSUE_EXAMPLE.replace("[ops-webhook]", "[nope]"))
    result = alerts_validate(_settings_for(tmp_path))
    assert result.exit_code == 1
    assert f"{path}:13: rules[0].channels" in result.output


def test_validate_command_on_a_missing_file_is_non_zero(tmp_path: Path) -> None:
    result = alerts_validate(_settings_for(tmp_path))
    assert result.exit_code == 1 and "not found" in result.output


# --- reload without restart ---------------------------------------------------------------
def _names(config: object) -> list[str]:
    return [r.name for r in config.rules]  # type: ignore[attr-defined]


def _touch_later(path: Path) -> None:
    """Make sure the mtime moves even on coarse file-system clocks."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_watcher_picks_up_a_changed_file(tmp_path: Path) -> None:
    path = write(tmp_path, "rules:\n  - {name: a, any: [Idlib]}\n")
    watcher = RulesWatcher(path, lambda config: config, check_every_s=0)
    assert _names(watcher.current) == ["a"]
    assert not watcher.reload_if_changed()  # nothing changed
    write(tmp_path, "rules:\n  - {name: a, any: [Idlib]}\n  - {name: b, any: [Aleppo]}\n")
    _touch_later(path)
    assert watcher.maybe_reload()
    assert _names(watcher.current) == ["a", "b"]


def test_watcher_keeps_the_old_rules_when_the_new_file_is_invalid(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, "rules:\n  - {name: a, any: [Idlib]}\n")
    watcher = RulesWatcher(path, lambda config: config, check_every_s=0)
    write(tmp_path, "rules:\n  - {name: a, any: [Idlib], realert: soon}\n")
    _touch_later(path)
    with caplog.at_level(logging.ERROR):
        assert not watcher.reload_if_changed()
    assert _names(watcher.current) == ["a"]
    assert watcher.last_error is not None
    assert any("keeping the rules in use" in r.message for r in caplog.records)
    assert any(f"{path}:2: rules[0].realert" in p for p in watcher.last_error.problems)
    # fixed again: picked up
    write(tmp_path, "rules:\n  - {name: c, any: [Idlib]}\n")
    _touch_later(path)
    assert watcher.reload_if_changed()
    assert _names(watcher.current) == ["c"] and watcher.last_error is None


def test_watcher_checks_the_file_at_most_once_per_interval(tmp_path: Path) -> None:
    now = [0.0]
    path = write(tmp_path, "rules:\n  - {name: a, any: [Idlib]}\n")
    watcher = RulesWatcher(path, lambda config: config, check_every_s=5,
                           monotonic=lambda: now[0])
    write(tmp_path, "rules:\n  - {name: b, any: [Idlib]}\n")
    _touch_later(path)
    now[0] = 4.0
    assert not watcher.maybe_reload() and _names(watcher.current) == ["a"]
    now[0] = 5.0
    assert watcher.maybe_reload() and _names(watcher.current) == ["b"]


def test_a_missing_file_means_no_rules_and_an_invalid_one_refuses_to_start(
    tmp_path: Path,
) -> None:
    assert _names(RulesWatcher(tmp_path / "absent.yaml", lambda c: c).current) == []
    bad = write(tmp_path, "rules: [{name: a}]\n")
    with pytest.raises(ConfigError):
        RulesWatcher(bad, lambda c: c)
