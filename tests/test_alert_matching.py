"""Rule evaluation, pure: any/all/none/topics/languages/sources, the tagger's normalisation and
word boundaries, candidate rules only, snippets, alert ids, realert/digest/silence decisions,
delivery bookkeeping and the rendering of what channels send."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from enrich.alerts.alert import Alert, alert_from_match, alert_id
from enrich.alerts.channels.slack import slack_message
from enrich.alerts.channels.webhook import webhook_body
from enrich.alerts.cli_commands import alerts_test
from enrich.alerts.delivery_state import ChannelDelivery, RetryPolicy, after_attempt
from enrich.alerts.notification import alert_notification, digest_notification
from enrich.alerts.rules.article_scan import fold
from enrich.alerts.rules.offset_map import offset_map
from enrich.alerts.rules.rule_matching import RuleMatcher, explain_rule
from enrich.alerts.rules.rules_config import RuleConfig
from enrich.alerts.rules.snippet import highlight_snippet, plain_snippet
from enrich.alerts.signature import sign_body, verify_signature
from enrich.alerts.silence import find_silences, silence_alert
from enrich.alerts.suppression import WindowState, digest_window, realert_decision
from enrich.tagging.text_normalize import normalize_text
from ingest.common.settings import Settings
from tests.conftest import REPO

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def rule(**fields: Any) -> RuleConfig:
    fields.setdefault("name", "r")
    return RuleConfig.model_validate(fields)


def doc(text: str, **fields: Any) -> dict[str, Any]:
    return {"id": "article-0001", "title": fields.pop("title", ""), "text": text, **fields}


def fired(rules: list[RuleConfig], article: dict[str, Any]) -> list[str]:
    return [m.rule.name for m in RuleMatcher(rules).match(article)]


# --- each condition -----------------------------------------------------------------------
IDLIB = ["Idlib", "إدلب", "İdlib", "Идлиб", "ادلب"]


@pytest.mark.parametrize(
    "text",
    [
        "Shelling hit Idlib on Monday.",
        "IDLIB province",
        "İdlib'de ateşkes ihlali",  # Turkish suffix after an apostrophe
        "قصف على ريف إدلب الجنوبي",
        "اشتباكات وإدلب",  # Arabic proclitic و glued to the name
        "Бои под Идлиб",
    ],
)
def test_any_fires_on_every_spelling(text: str) -> None:
    assert fired([rule(any=IDLIB)], doc(text)) == ["r"]


def test_any_respects_word_boundaries_and_prefix_terms() -> None:
    assert fired([rule(any=["Idlib"])], doc("The Idlibi family")) == []
    assert fired([rule(any=["Syria"])], doc("Assyrian reliefs in the museum")) == []
    assert fired([rule(any=["Идлиб*"])], doc("обстрел в Идлибе")) == ["r"]


def test_all_needs_every_term_anywhere_in_title_or_body() -> None:
    r = rule(any=IDLIB, all=["ceasefire", "Russia"])
    assert fired([r], doc("Russia proposes a ceasefire", title="Idlib talks")) == ["r"]
    assert fired([r], doc("Russia proposes talks", title="Idlib")) == []


def test_all_alone_is_enough() -> None:
    assert fired([rule(all=["ceasefire", "Idlib"])], doc("Idlib ceasefire holds")) == ["r"]


def test_none_vetoes() -> None:
    r = rule(any=IDLIB, none=["football", "Idlib FC*"])
    assert fired([r], doc("Idlib shelling")) == ["r"]
    assert fired([r], doc("Idlib football derby")) == []


def test_topics_filter() -> None:
    r = rule(any=["ceasefire"], topics=["idlib", "syria"])
    assert fired([r], doc("ceasefire", topics=["syria"])) == ["r"]
    assert fired([r], doc("ceasefire", topics=["iran"])) == []
    assert fired([r], doc("ceasefire")) == []


def test_topics_only_rule_is_reached_without_terms() -> None:
    rules = [rule(name="t", topics=["Idlib"]), rule(name="other", any=["Aleppo"])]
    assert fired(rules, doc("no names at all", topics=["idlib"])) == ["t"]
    assert fired(rules, doc("no names at all", topics=["iran"])) == []


def test_languages_filter_uses_the_primary_subtag() -> None:
    r = rule(any=IDLIB, languages=["ar", "TR"])
    assert fired([r], doc("قصف إدلب", language="ar-SY")) == ["r"]
    assert fired([r], doc("İdlib", language="tr")) == ["r"]
    assert fired([r], doc("Idlib", language="en")) == []
    assert fired([r], doc("Idlib")) == []


def test_sources_match_feed_names_and_parent_domains() -> None:
    r = rule(any=["Idlib"], sources=["bbc.co.uk", "enab-baladi-en"])
    assert fired([r], doc("Idlib", domain="www.bbc.co.uk", feed="x")) == ["r"]
    assert fired([r], doc("Idlib", domain="example.org", feed="enab-baladi-en")) == ["r"]
    assert fired([r], doc("Idlib", domain="notbbc.co.uk", feed="x")) == []
    assert fired([rule(sources=["sana.sy"])], doc("anything", domain="sana.sy")) == ["r"]


def test_disabled_and_silence_rules_are_not_evaluated_on_articles() -> None:
    rules = [rule(name="off", any=["Idlib"], enabled=False),
             rule(name="quiet", type="silence", feeds=["x"], silent_for="1h")]
    assert fired(rules, doc("Idlib")) == []


def test_phrases_survive_extra_spaces_but_not_paragraph_breaks_as_in_the_tagger() -> None:
    r = rule(any=["Jisr al-Shughur"])
    assert fired([r], doc("shelling near Jisr  al-Shughur today")) == ["r"]
    assert fired([r], doc("shelling near Jisr al Shughur today")) == ["r"]
    assert fired([r], doc("the last word is Jisr\n\nal-Shughur opens the next")) == []


@pytest.mark.parametrize("seed", range(200))
def test_fold_squeezes_whitespace_exactly_like_the_taggers_regexes(seed: int) -> None:
    rng = random.Random(seed)
    pieces = ["a", "İb", " ", "  ", "\n", "\t", "\r", "\u2028", "\u00a0", "\x0b", "\u3000",
              "\n \n", "-"]
    text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
    squeezed = re.sub(r"[^\S\n]+", " ", re.sub(r"\s*\n\s*", "\n", normalize_text(text)))
    assert fold(text) == squeezed.strip()


def test_matched_terms_are_reported_once_per_normalised_form() -> None:
    (match,) = RuleMatcher([rule(any=IDLIB, all=["ceasefire"])]).match(
        doc("Ceasefire in Idlib; IDLIB residents, İdlib officials")
    )
    assert match.terms == ["Idlib", "ceasefire"]


# --- cost grows with the article, not with the rules --------------------------------------
def test_only_rules_reached_through_found_terms_are_checked() -> None:
    noise = [rule(name=f"n{i}", any=[f"zzterm{i}", f"qqword{i}"], all=[f"kk{i}x"])
             for i in range(5000)]
    matcher = RuleMatcher([*noise, rule(name="hit", any=["Idlib"]),
                           rule(name="near", any=["Idlib"], all=["ceasefire"])])
    article = doc("Idlib again, and zzterm7 once")
    scan = matcher.scan(article)
    assert set(scan.spans) == {"Idlib", "zzterm7"}
    assert len(matcher.candidates(scan, article)) == 3  # hit, near, n7 — not 5002
    assert [m.rule.name for m in matcher.match(article)] == ["hit"]
    assert matcher.rule_count == 5002 and matcher.term_count == 15002


# --- snippets -----------------------------------------------------------------------------
def test_snippet_marks_hits_in_the_text_as_published() -> None:
    text = ("Earlier news. " * 30 + "Turkish troops entered İDLİB's  countryside near "
            "al-Fu'a & Kafraya, <sources> said. " + "Later news. " * 30)
    r = rule(any=["Idlib", "al Fu'a"])
    (match,) = RuleMatcher([r]).match(doc(text))
    snippet = highlight_snippet(match.scan.text, match.scan.normalized, match.spans)
    assert "<mark>İDLİB</mark>'s" in snippet  # original case and letters, not the folded form
    assert "<mark>al-Fu'a</mark>" in snippet  # the hyphen as written, though matched as a space
    assert "&amp; Kafraya, &lt;sources&gt;" in snippet  # HTML-escaped around the marks
    assert snippet.startswith("…") and snippet.endswith("…") and len(snippet) < 400
    assert plain_snippet(snippet).count("[İDLİB]") == 1


PIECES = ["Idlib", "İDLİB", "straße", "ﬁne", "al-Fu'a", "إِدْلِب", "وَ", "  ", "\n\n ", " - ",
          "Ёлка", "x\u200cy", "—", "'", "‘", "ŞAM", "ß", "ﬂ", "١٢", "Ariha", ".", " "]


@pytest.mark.parametrize("folding", [normalize_text, fold])
@pytest.mark.parametrize("seed", range(40))
def test_offset_map_points_every_normalised_character_at_its_source(
    seed: int, folding: Any
) -> None:
    rng = random.Random(seed)
    text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 60)))
    normalized = folding(text)
    full = offset_map(text, normalized)
    assert full is not None
    previous = 0
    for k, char in enumerate(normalized):
        source = full[k]
        assert previous <= source < len(text)  # monotonic, inside the text
        previous = source
        if not char.isspace():
            assert char in normalize_text(text[source]) or char in normalize_text(
                text[max(0, source - 1):source + 2]
            ), (k, char, text[source])
    # a map of a prefix agrees with the full map where both are defined
    upto = rng.randint(1, len(normalized)) if normalized else 0
    part = offset_map(text, normalized, upto)
    assert part is not None
    assert [part[k] for k in range(upto)] == [full[k] for k in range(upto)]


def test_offset_map_gives_up_on_compositions_across_characters() -> None:
    text = "e\u0301tude"  # e + combining acute: NFKC composes across two characters
    assert offset_map(text, normalize_text(text)) is None
    (match,) = RuleMatcher([rule(any=["tude"])]).match(doc(text + " tude"))
    snippet = match.scan.snippet(match.terms)
    assert "<mark>tude</mark>" in snippet
    assert "\u00e9tude" in snippet  # quoted from the folded text (composed), not the original


def test_alert_carries_rule_article_terms_and_snippet() -> None:
    r = rule(name="idlib-ceasefire", any=IDLIB, all=["ceasefire"], channels=[],
             severity="high")
    article = doc("A ceasefire in Idlib.", title="Truce", url="https://x.org/a",
                  published="2024-05-01T10:00:00Z", topics=["idlib"], feed="f",
                  domain="x.org", language="en")
    (match,) = RuleMatcher([r]).match(article)
    alert = alert_from_match(match, article, T0)
    assert alert.id == alert_id("idlib-ceasefire", "article-0001")
    assert alert.matched_terms == ["Idlib", "ceasefire"]
    assert alert.published == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert "<mark>Idlib</mark>" in alert.snippet and alert.severity == "high"


def test_alert_id_is_a_function_of_rule_and_article_only() -> None:
    assert alert_id("a", "x") == alert_id("a", "x")
    assert len({alert_id("a", "x"), alert_id("b", "x"), alert_id("a", "y")}) == 3


# --- realert, digest ----------------------------------------------------------------------
def test_realert_window() -> None:
    window = timedelta(minutes=30)
    opened = WindowState(T0, "first")
    assert realert_decision(window, None, "first", T0) == "fire"
    assert realert_decision(window, opened, "second", T0 + timedelta(minutes=10)) == "suppress"
    assert realert_decision(window, opened, "second", T0 + timedelta(minutes=30)) == "fire"
    # the alert that opened the window, redelivered, is itself, not a repeat
    assert realert_decision(window, opened, "first", T0 + timedelta(minutes=10)) == "fire"
    assert realert_decision(None, opened, "second", T0) == "fire"


def test_digest_windows_are_clock_aligned() -> None:
    hour = timedelta(hours=1)
    a = digest_window("r", "", hour, T0 + timedelta(minutes=5))
    b = digest_window("r", "", hour, T0 + timedelta(minutes=59))
    c = digest_window("r", "", hour, T0 + timedelta(minutes=61))
    assert a == b and a.start == T0 and a.end == T0 + hour
    assert c.id != a.id and c.start == T0 + hour
    assert digest_window("r", "feed=x", hour, T0).id != a.id


# --- silence ------------------------------------------------------------------------------
def test_silence_fires_once_per_episode() -> None:
    quiet = rule(name="quiet", type="silence", feeds=["a", "b"], silent_for="6h")
    seen: dict[Any, Any] = {
        ("feed", "a"): T0 - timedelta(hours=7), ("feed", "b"): T0 - timedelta(hours=1)
    }
    (silence,) = find_silences(quiet, seen, T0, watching_since=T0 - timedelta(days=1))
    assert silence.name == "a"
    first = silence_alert(silence, T0)
    later = silence_alert(find_silences(quiet, seen, T0 + timedelta(hours=1),
                                        T0 - timedelta(days=1))[0], T0 + timedelta(hours=1))
    assert first.id == later.id  # same episode: same alert, the index keeps one
    seen[("feed", "a")] = T0 + timedelta(minutes=5)  # an article arrived
    assert find_silences(quiet, seen, T0 + timedelta(hours=2), T0) == []
    again = find_silences(quiet, seen, T0 + timedelta(hours=7), T0)
    assert silence_alert(again[0], T0 + timedelta(hours=7)).id != first.id
    assert "feed 'a'" in first.title and first.trigger == "silence"


def test_never_seen_subject_counts_from_when_watching_began() -> None:
    quiet = rule(name="quiet", type="silence", topics=["idlib"], silent_for="1h")
    seen: dict[Any, Any] = {("topic", "idlib"): None}
    assert find_silences(quiet, seen, T0 + timedelta(minutes=59), T0) == []
    assert len(find_silences(quiet, seen, T0 + timedelta(hours=1), T0)) == 1


# --- delivery bookkeeping -----------------------------------------------------------------
def test_delivery_attempts_move_through_retry_to_delivered_or_failed() -> None:
    policy = RetryPolicy(base_s=2, cap_s=10)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [2, 4, 8, 10, 10]
    d = ChannelDelivery(channel="hook")
    d = after_attempt(d, "retry", now=T0, error="HTTP 503", max_attempts=3, policy=policy)
    assert (d.status, d.attempts, d.last_error) == ("retrying", 1, "HTTP 503")
    assert d.next_attempt_at == T0 + timedelta(seconds=2)
    ok = after_attempt(d, "delivered", now=T0, error=None, max_attempts=3, policy=policy)
    assert (ok.status, ok.attempts, ok.delivered_at, ok.open) == ("delivered", 2, T0, False)
    d = after_attempt(d, "retry", now=T0, error="HTTP 503", max_attempts=3, policy=policy)
    d = after_attempt(d, "retry", now=T0, error="refused", max_attempts=3, policy=policy)
    assert (d.status, d.attempts, d.last_error, d.open) == ("failed", 3, "refused", False)
    rejected = after_attempt(ChannelDelivery(channel="x"), "rejected", now=T0, error="HTTP 400",
                             max_attempts=8, policy=policy)
    assert (rejected.status, rejected.attempts) == ("failed", 1)


# --- what channels send -------------------------------------------------------------------
def _alert() -> Alert:
    return Alert(id="abc", rule="idlib-ceasefire", fired_at=T0, article_id="a1",
                 title="Truce <holds>", url="https://x.org/a?b=1&c=2", topics=["idlib"],
                 matched_terms=["Idlib", "ceasefire"], snippet="a <mark>Idlib</mark> &amp; b",
                 published=T0, severity="high")


def test_webhook_body_has_the_fields_receivers_need_and_a_verifiable_signature() -> None:
    note = alert_notification(_alert())
    raw = webhook_body(note)
    body = json.loads(raw)
    for key in ("rule", "article_id", "title", "url", "published", "topics", "matched_terms",
                "snippet"):
        assert body[key], key
    assert body["event"] == "alert"
    signature = sign_body(raw, "s3cret")
    assert re.fullmatch(r"sha256=[0-9a-f]{64}", signature)
    assert verify_signature(raw, signature, "s3cret")
    assert not verify_signature(raw + b" ", signature, "s3cret")
    assert not verify_signature(raw, signature, "other")
    assert not verify_signature(raw, None, "s3cret")


def test_text_html_and_slack_renderings() -> None:
    note = alert_notification(_alert())
    assert "Matched: Idlib, ceasefire" in note.text and "[Idlib]" in note.text
    assert "Truce &lt;holds&gt;" in note.html and "<mark>Idlib</mark>" in note.html
    message = slack_message(note)
    block = message["blocks"][0]["text"]["text"]
    assert "*Idlib*" in block and "<https://x.org/a?b=1&c=2|Truce &lt;holds&gt;>" in block
    digest = digest_notification("d1", "r", "low", T0, T0 + timedelta(hours=1),
                                 [_alert(), _alert()])
    assert digest.body["count"] == 2 and digest.event == "digest"
    assert "2 alerts" in digest.subject


# --- `newswatch alerts test` (no servers) --------------------------------------------------
def test_alerts_test_command_says_whether_and_why(tmp_path: Any) -> None:
    settings = Settings(_env_file=None, config_dir=REPO / "config")  # type: ignore[call-arg]
    yes = alerts_test(settings, "idlib-ceasefire",
                      text="The ceasefire in İdlib held overnight, officials said.")
    assert yes.exit_code == 0 and "FIRES" in yes.output
    assert "[İdlib]" in yes.output and "ceasefire" in yes.output
    no = alerts_test(settings, "idlib-ceasefire", text="Shelling in Idlib overnight.")
    assert no.exit_code == 1 and "missing ceasefire" in no.output
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"title": "إدلب", "text": "ceasefire"}), encoding="utf-8")
    assert alerts_test(settings, "idlib-ceasefire", file=page).exit_code == 0
    fetched = alerts_test(settings, "idlib-ceasefire", url="https://x.org/p",
                          fetch_page=lambda url: {"title": "Идлиб", "text": "ceasefire"})
    assert fetched.exit_code == 0
    assert alerts_test(settings, "nope", text="x").exit_code == 2
    assert alerts_test(settings, "idlib-ceasefire").exit_code == 2


def test_explain_lists_reasons() -> None:
    verdict = explain_rule(rule(any=IDLIB, none=["football"], languages=["ar"]),
                           doc("Idlib football", language="en"))
    assert not verdict.fires
    assert verdict.none_found == ["football"] and verdict.any_found == ["Idlib"]
    assert any("language" in r for r in verdict.reasons)
