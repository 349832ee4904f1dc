"""How names change inside words, per language: what the term matcher accepts around a term.

Names in news copy are inflected and glued: Turkish adds case suffixes, with an apostrophe after
a proper name by the rule ("Suriye'de") and without one in practice ("Suriyeyle", "Irana",
"Idlibde"); Arabic glues conjunctions, prepositions and the article in front ("وبإدلب",
"للاذقية"); Russian declines ("в Идлибе", "с Ираном", "из Сирии"); Persian writes a compound
with a zero-width non-joiner, a space or nothing ("احمدی‌نژاد", "احمدی نژاد", "احمدینژاد").
Each rule here is small, closed and tested on real words; none of them guesses a stem.

All functions work on text already passed through text_normalize.normalize_text (Turkish
dotless ı folded to i, ZWNJ to a space, Arabic letter variants unified).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = [
    "arabic_prefix_ok",
    "persian_joined_variants",
    "russian_forms",
    "turkish_suffix_ok",
]

# ── Turkish ───────────────────────────────────────────────────────────────────────────────────
# Inflectional suffixes after a name, apostrophe or not, vowel harmony folded (ı = i after
# normalisation): plural, possessive, one case, then the relative -ki and a case after it.
# Derivations that make another word ("-li": Suriyeli, a Syrian) are not here: they are
# listed as adjectives in the taxonomy.
_TR_PLURAL = r"(?:l[ae]r)"
_TR_POSSESSIVE = r"(?:s?[iuü]|l[ae]r[iuü])"
_TR_CASE = (
    r"(?:[dt][ae]n?"  # locative -de, ablative -den (Suriyede, Irandan, Halepten)
    r"|[yn]?[ae]"  # dative -e/-ye/-ne (Irana, Suriyeye)
    r"|[yn]?[iuü]"  # accusative -i/-yi/-ni (Esadi, Suriyeyi)
    r"|n?[iuü]n"  # genitive -in/-nin (Iranin, Suriyenin)
    r"|y?l[ae]"  # instrumental -le/-yle (Suriyeyle, Iranla)
    r"|[cç][ae])"  # equative -ce (Iranca is a language; rare enough)
)
_TR_SUFFIX = re.compile(
    rf"(?:{_TR_PLURAL}?{_TR_POSSESSIVE}?{_TR_CASE}?(?:ki(?:l[ae]r)?(?:{_TR_CASE})?)?)"
)


def turkish_suffix_ok(suffix: str) -> bool:
    """True when `suffix` (the rest of the word after a name) is a Turkish inflection."""
    return bool(suffix) and _TR_SUFFIX.fullmatch(suffix) is not None


# ── Arabic ────────────────────────────────────────────────────────────────────────────────────
# Proclitics glue in a fixed order: a conjunction (و "and", ف "so"), a preposition (ب "in",
# ل "for", ك "as"), the article ال; ل + ال is written لل. So "وبالغوطة" is و+ب+الغوطة, but
# "الورقة" ("the paper") is not ال+و+رقة: the article never precedes a conjunction.
_CONJUNCTIONS = ("", "و", "ف")
_PREPOSITIONS = ("", "ب", "ل", "ك")


def _arabic_prefixes(with_article: bool) -> frozenset[str]:
    prefixes = set()
    for conjunction in _CONJUNCTIONS:
        for preposition in _PREPOSITIONS:
            if with_article:
                article = "ل" if preposition == "ل" else "ال"  # ل + ال = لل
                prefixes.add(conjunction + preposition + article)
            prefixes.add(conjunction + preposition)
    prefixes.discard("")
    return frozenset(prefixes)


# For a term without the article the article may be glued too; a term that starts with ال
# ("الغوطه") takes only a conjunction and a preposition but ل, because ل + ال is written لل
# ("للغوطه"; "للاذقيه" with one lam dropped before a word starting with ل): the matcher looks
# for those spellings as needles of their own, behind a conjunction at most.
_PREFIXES_BARE = _arabic_prefixes(with_article=True)
_PREFIXES_WITH_ARTICLE = frozenset(
    p for p in _arabic_prefixes(with_article=False) if p and not p.endswith("ل")
)
AFTER_LAM = frozenset({"و", "ف"})


def arabic_prefix_ok(prefix: str, *, term_has_article: bool, after_lam: bool = False) -> bool:
    """True when `prefix` (the letters glued before a term in the same word) is a valid run
    of proclitics for that term."""
    if after_lam:
        return prefix in AFTER_LAM
    allowed = _PREFIXES_WITH_ARTICLE if term_has_article else _PREFIXES_BARE
    return prefix in allowed


# ── Russian ───────────────────────────────────────────────────────────────────────────────────
# Nouns decline in six cases; a one-word name (hyphens allowed: "Дейр-эз-Зор") gets the forms
# of its declension, chosen by its ending. Names ending in о, е, и, у, ы, э, ю (Алеппо,
# Кобани, Хасеке) do not decline. Adjectives use a `*` prefix in the taxonomy instead.
_RU_VOWEL_STEMS = {
    "ия": ("ия", "ии", "ию", "ией", "иею"),  # Сирия, Сирии, Сирию, Сирией
    "я": ("я", "и", "е", "ю", "ей", "ею"),
    "а": ("а", "ы", "и", "е", "у", "ой", "ою"),  # Ракка, Ракки, Ракке, Ракку, Раккой
    "ь": ("ь", "и", "ю", "ью", "я", "е", "ем"),
    "й": ("й", "я", "ю", "ем", "е", "и"),
}
_RU_CONSONANT_ENDINGS = ("", "а", "у", "ом", "е", "ем")  # Иран, Ирана, Ирану, Ираном, Иране
_RU_INDECLINABLE = frozenset("оеиуыэю")
_CYRILLIC = re.compile(r"[а-яё]")


@lru_cache(maxsize=4096)
def russian_forms(term: str) -> tuple[str, ...]:
    """The case forms of a Russian name (lower-case, normalised; its last word declines, so a
    hyphenated name normalised to "дейр эз зор" gives "дейр эз зора"), itself included; () for
    a term that does not end in a declinable Cyrillic word."""
    if not term or not _CYRILLIC.search(term[-1]):
        return ()
    if term[-1] in _RU_INDECLINABLE:
        return ()
    for ending, endings in _RU_VOWEL_STEMS.items():
        if term.endswith(ending):
            stem = term[: -len(ending)]
            return tuple(stem + e for e in endings)
    return tuple(term + e for e in _RU_CONSONANT_ENDINGS)


# ── Persian ───────────────────────────────────────────────────────────────────────────────────
# A compound written with a zero-width non-joiner (احمدی‌نژاد, خامنه‌ای) also appears with a
# space or with nothing between its parts. Normalisation turns the ZWNJ into a space, so a term
# listed with a ZWNJ or a space matches the first two; this adds the joined spelling, for
# joins after a letter that connects leftwards only in the middle of a word.
_PERSIAN_LETTER = re.compile(r"[\u0600-\u06ff]")


def persian_joined_variants(raw_term: str, normalised: str) -> tuple[str, ...]:
    """The joined spelling of a Persian term listed with a ZWNJ, or () when it has none."""
    if "\u200c" not in raw_term or not _PERSIAN_LETTER.search(normalised):
        return ()
    return (normalised.replace(" ", ""),)
