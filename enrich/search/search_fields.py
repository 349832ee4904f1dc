"""Which per-language search fields an article gets, from its detected language.

Why separate fields and not multi-fields: Elasticsearch cannot choose an analyzer per document,
so an Arabic article analysed by the Russian or Turkish stemmer too would only add noise (and
index size). The worker copies title and text into `title_<lang>`/`text_<lang>` for the
language it detected; `title`/`text` themselves carry the language-neutral analysis that every
article gets (case, diacritics, Arabic letter variants, tatweel, ZWNJ, apostrophes). The
analyzers behind each field are in infra/elasticsearch/articles-template.json.
"""

from __future__ import annotations

import re
from typing import Final

# Languages with their own analysis; every other language is searched through the neutral
# fields only. Order is the order fields are listed in queries (it does not affect scores).
SEARCH_LANGUAGES: Final = ("en", "ar", "fa", "tr", "ru", "fr", "de")

NEUTRAL_TITLE: Final = "title"
NEUTRAL_TEXT: Final = "text"


def title_field(language: str) -> str:
    return f"title_{language}"


def text_field(language: str) -> str:
    return f"text_{language}"


_CYRILLIC = re.compile("[\u0400-\u04ff]")
_ARABIC_SCRIPT = re.compile("[\u0600-\u06ff]")
_PERSIAN_LETTERS = re.compile("[پچژگکی]")
_LATIN = re.compile("[A-Za-z\u00c0-\u024f]")
_TURKISH_LETTERS = re.compile("[ğĞıİşŞ]")
# Detected languages analysed as a close one: short Turkish titles are often detected as
# Azerbaijani, whose suffixes work the same way.
_ANALYSED_AS = {"az": "tr"}


def script_language(text: str) -> str | None:
    """The analysis to use when the language detector was unsure (short items often are): the
    script decides where it is unambiguous enough. Cyrillic -> Russian analysis, Arabic script
    -> Persian when a Persian-only letter occurs, else Arabic; Latin with a Turkish-only letter
    (ğ ı İ ş) -> Turkish; other Latin text stays neutral-only."""
    sample = text[:2000]
    counts = {"cyrillic": len(_CYRILLIC.findall(sample)),
              "arabic": len(_ARABIC_SCRIPT.findall(sample)),
              "latin": len(_LATIN.findall(sample))}
    script = max(counts, key=lambda k: counts[k])
    if counts[script] == 0:
        return None
    if script == "latin":
        return "tr" if _TURKISH_LETTERS.search(sample) else None
    if script == "cyrillic":
        return "ru"
    return "fa" if _PERSIAN_LETTERS.search(sample) else "ar"


def search_language(language: str | None, title: str, text: str) -> str | None:
    """The language whose analysis a document's copies get: the detected one when it has
    analysis of its own; when detection gave nothing, the script's (see script_language)."""
    if language in SEARCH_LANGUAGES:
        return language
    if language in _ANALYSED_AS:
        return _ANALYSED_AS[language]
    if language is None:
        return script_language(f"{title}\n{text}")
    return None


def language_fields(language: str | None, title: str, text: str) -> dict[str, str]:
    """The per-language copies of title and text for a document in `language` (none when the
    language has no analysis of its own; an unknown one is guessed from the script)."""
    language = search_language(language, title, text)
    if language is None:
        return {}
    fields: dict[str, str] = {}
    if title:
        fields[title_field(language)] = title
    if text:
        fields[text_field(language)] = text
    return fields


def all_language_fields() -> list[str]:
    """Every per-language field name, titles first."""
    return [title_field(lang) for lang in SEARCH_LANGUAGES] + [
        text_field(lang) for lang in SEARCH_LANGUAGES
    ]
