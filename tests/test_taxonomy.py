"""The taxonomy file: the shipped one is complete, and every mistake in one names file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from enrich.tagging.taxonomy import TermKind, load_taxonomy, parse_taxonomy
from ingest.common.yaml_config import ConfigError

REPO = Path(__file__).resolve().parent.parent
TOPICS = REPO / "config" / "topics.yaml"
REQUIRED_LANGUAGES = {"en", "ar", "fa", "tr", "ru", "fr", "de"}

MINIMAL = """\
version: "t1"
scoring:
  body_thresholds:
    - {up_to_chars: 300, min_score: 1}
topics:
  syria:
    label: Syria
    names:
      en: [Syria]
  idlib:
    label: Idlib
    implies: [syria]
    names:
      en: [Idlib]
"""


def parse(text: str) -> None:
    parse_taxonomy(text, Path("topics.yaml"))


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return str(caught.value)


def test_shipped_taxonomy_has_the_three_topics_in_every_required_language() -> None:
    taxonomy = load_taxonomy(TOPICS)
    assert taxonomy.version
    assert {"syria", "idlib", "iran"} <= set(taxonomy.topic_ids)
    for topic in ("syria", "idlib", "iran"):
        assert taxonomy.languages(topic) >= REQUIRED_LANGUAGES, topic
        assert taxonomy.topics[topic].negatives or topic == "idlib"
    assert taxonomy.implied("idlib") == {"idlib", "syria"}
    assert taxonomy.implying("syria") == {"syria", "idlib"}
    assert taxonomy.family("iran") == {"iran"}


def test_shipped_taxonomy_lists_idlib_towns_and_syrian_places() -> None:
    taxonomy = load_taxonomy(TOPICS)
    names = {(t.topic, t.term) for t in taxonomy.terms() if t.kind is not TermKind.NEGATIVE}
    for town in ("Saraqib", "Jisr al-Shughur", "Khan Shaykhun", "Kafr Nabl", "Qalb Lawzeh"):
        assert ("idlib", town) in names
    for place in ("Damascus", "Aleppo", "Afrin", "Manbij", "Raqqa", "Latakia", "Daraa"):
        assert ("syria", place) in names
    for institution in ("IRGC", "Tehran", "Khamenei", "Pezeshkian"):
        assert ("iran", institution) in names


def test_minimal_taxonomy_parses() -> None:
    taxonomy = parse_taxonomy(MINIMAL, Path("topics.yaml"))
    assert taxonomy.version == "t1"
    assert taxonomy.topic_ids == ["syria", "idlib"]
    assert [t.term for t in taxonomy.terms()] == ["Syria", "Idlib"]


def test_bad_yaml_names_the_line() -> None:
    text = MINIMAL.replace("      en: [Idlib]", "      en: [Idlib")
    message = problems(text)
    assert message.startswith("topics.yaml:")
    assert "invalid YAML" in message


def test_unknown_field_names_file_line_and_field() -> None:
    text = MINIMAL.replace("    label: Idlib\n", "    label: Idlib\n    synonyms: [x]\n")
    assert "topics.yaml:12: topics.idlib.synonyms: Extra inputs are not permitted" in problems(text)


def test_implying_an_unknown_topic_names_the_entry() -> None:
    text = MINIMAL.replace("implies: [syria]", "implies: [sirya]")
    assert "topics.yaml:12: topics.idlib.implies[0]: implies unknown topic 'sirya'" in problems(
        text
    )


def test_implication_cycles_are_refused() -> None:
    text = MINIMAL.replace("    label: Syria\n", "    label: Syria\n    implies: [idlib]\n")
    assert "a cycle" in problems(text)


def test_malformed_terms_are_refused_with_their_place() -> None:
    text = MINIMAL.replace("en: [Syria]", "en: [Syria, 'Sy*ria', 'ـــ']")
    message = problems(text)
    assert "topics.syria.names.en[1]" in message and "'*' is only allowed once" in message
    assert "topics.syria.names.en[2]" in message and "empty after normalisation" in message


def test_language_keys_and_topic_ids_are_checked() -> None:
    assert "topics.syria.names.english" in problems(MINIMAL.replace("en: [Syria]", "english: [x]"))
    assert "Syria!" in problems(MINIMAL.replace("  syria:\n", "  Syria!:\n"))


def test_threshold_bands_must_ascend() -> None:
    text = MINIMAL.replace(
        "    - {up_to_chars: 300, min_score: 1}\n",
        "    - {up_to_chars: 300, min_score: 2}\n    - {up_to_chars: 100, min_score: 3}\n",
    )
    assert "scoring.body_thresholds[1]" in problems(text)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_taxonomy(tmp_path / "topics.yaml")


def test_threshold_grows_with_body_length() -> None:
    rules = load_taxonomy(TOPICS).scoring
    short, medium, long_ = (rules.threshold(n) for n in (120, 800, 2500))
    assert short < medium < long_
    assert rules.threshold(0) == short
    assert rules.threshold(30_000) > long_
    # One title mention of a name passes every body up to 3,000 characters.
    assert rules.title_weight * rules.name_weight >= long_
