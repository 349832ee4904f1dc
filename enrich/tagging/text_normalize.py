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

# Single characters folded after case folding ("" removes them). Case folding never produces or
# alters a replacement, and İ folds to "i" + U+0307 whose dot is removed here, so one pass
# after casefold() is enough.
_FOLD: dict[str, str] = {
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
    "\u0307": "",  # combining dot above, left by case folding "İ"
}


_REMOVED_RANGES = (
    (0x0610, 0x061A),  # Arabic honorific and Quranic signs
    (0x064B, 0x065F),  # harakat
    (0x0670, 0x0670),  # superscript alef
    (0x06D6, 0x06ED),  # Quranic annotation marks
    (0x0640, 0x0640),  # tatweel
    (0x200B, 0x200B),  # zero-width space
    (0x200D, 0x200D),  # zero-width joiner
    (0x2060, 0x2060),  # word joiner
    (0xFEFF, 0xFEFF),  # zero-width no-break space (BOM)
    (0x00AD, 0x00AD),  # soft hyphen
)
_FOLD.update({chr(c): "" for first, last in _REMOVED_RANGES for c in range(first, last + 1)})
# A regex visits only the characters to fold; str.translate looked up every character of the
# text in a dict (eight times slower on a long Latin-script body).
_FOLD_PATTERN = re.compile("[" + "".join(re.escape(c) for c in sorted(_FOLD)) + "]")
_fold_char = _FOLD.__getitem__


@lru_cache(maxsize=256)
def normalize_text(text: str) -> str:
    """Fold text for matching. Lengths may change: never use offsets into the original.

    Cached: the tagger, the gazetteer and the near-duplicate signature each fold the same
    title and body of an article, and folding a long body is most of their cost.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    return _FOLD_PATTERN.sub(lambda match: _fold_char(match[0]), text)


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
