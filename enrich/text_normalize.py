"""Normalisation applied to both terms and text before matching, identical for every script.

Analysts write "Idlib"; publishers write "İDLİB", "إدْلِب", "ادلب", "Идлиб". Folding both sides
the same way makes one term match all of them without a regex per language:

* Unicode NFKC (full-width and presentation forms become plain letters);
* case folding, with Turkish İ/ı folded to plain i so "İdlib", "IDLIB" and "ıdlib" meet;
* Arabic diacritics (harakat, superscript alef, Quranic marks) and tatweel removed;
* Arabic/Persian letter variants unified: ی ى ئ → ي, ک ڪ → ك, أ إ آ ٱ → ا, ؤ → و, ة ۀ ە ھ → ه;
* Russian ё → е, and the circumflexed â î û → a i u (both are written or left out at will);
* zero-width non-joiner (Persian suffix joiner) becomes a space, other zero-width marks vanish;
* typographic apostrophes and transliteration ayn/hamza marks (ʿ ʾ ‘ ’ ´ `) become "'";
* hyphens become spaces, because transliterations hyphenate at will ("al-Fu'a" = "al Fu'a",
  "Дейр-эз-Зор" = "Дейр эз Зор"); en and em dashes stay.

Every rule maps one character on its own, so normalising a text character by character gives
the same result as normalising it whole (but for rare NFKC compositions across characters): the
alert snippets rely on that to map offsets back to the published text. Anything that needs
context (collapsing whitespace, say) belongs to the caller.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ZERO_WIDTH = re.compile("[\u200b\u200d\u2060\ufeff\u00ad]")
_TRANSLATE = str.maketrans(
    {
        "\u0130": "i",  # İ
        "\u0131": "i",  # ı
        "\u06cc": "\u064a",  # Persian yeh → Arabic yeh
        "\u0649": "\u064a",  # alef maksura
        "\u0626": "\u064a",  # yeh with hamza
        "\u06a9": "\u0643",  # Persian keheh → kaf
        "\u06aa": "\u0643",  # swash kaf
        "\u0623": "\u0627",
        "\u0625": "\u0627",
        "\u0622": "\u0627",
        "\u0671": "\u0627",
        "\u0624": "\u0648",
        "\u0629": "\u0647",  # teh marbuta → heh
        "\u06c0": "\u0647",
        "\u06d5": "\u0647",  # ae
        "\u06be": "\u0647",  # heh doachashmee
        "\u00e2": "a",  # â, î, û: Turkish writes "harekât" and "harekat" alike
        "\u00ee": "i",
        "\u00fb": "u",
        "\u0451": "\u0435",  # ё → е
        "\u0401": "\u0435",  # Ё → е
        "\u200c": " ",  # ZWNJ
        "\u2019": "'",
        "\u2018": "'",
        "\u02bc": "'",
        "\u02bf": "'",  # ʿ ayn
        "\u02be": "'",  # ʾ hamza
        "\u00b4": "'",
        "`": "'",
        "-": " ",
        "\u2010": " ",  # hyphen
        "\u2011": " ",  # non-breaking hyphen
        "\u2012": " ",  # figure dash
        "\u2043": " ",  # hyphen bullet
        "\ufe63": " ",  # small hyphen-minus
        "\u0307": None,  # combining dot above, left by case folding "İ" from decomposed input
    }
)


@lru_cache(maxsize=256)
def normalize_text(text: str) -> str:
    """Fold text for matching. Lengths may change: never use offsets into the original.

    Cached: the tagger, the gazetteer and the near-duplicate signature each fold the same
    title and body of an article, and folding a long body is most of their cost.
    """
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_TRANSLATE)
    text = text.casefold()
    text = _ARABIC_MARKS.sub("", text)
    text = _ZERO_WIDTH.sub("", text)
    return text.translate(_TRANSLATE)


def is_word_char(char: str) -> bool:
    """Letters, digits and combining marks continue a word; everything else ends it."""
    if char.isalnum():
        return True
    return unicodedata.category(char) in ("Mn", "Mc")


def is_arabic_script(text: str) -> bool:
    return any("\u0600" <= c <= "\u06ff" or "\u0750" <= c <= "\u077f" for c in text)


def fold_for_matching(text: str) -> str:
    """normalize_text, then whitespace runs squeezed (a line break survives as one newline),
    so a phrase term survives a double space but never spans two paragraphs — the text that
    topics, places and alert rules are all matched against. Split and join do it four times
    faster than regexes."""
    lines = (" ".join(line.split()) for line in normalize_text(text).split("\n"))
    return "\n".join(line for line in lines if line)
