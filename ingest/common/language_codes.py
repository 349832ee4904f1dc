"""ISO 639-1 language codes: what a `language:` in config may say.

A hint like `language: english` would be compared with the detector's two-letter codes and
never match; refusing it at load time names the mistake. Kept as data (the standard's 183
codes, plus the withdrawn ones CLD2 still emits) rather than a dependency for one set.
"""

from __future__ import annotations

_CODES = """
aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da
de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy
hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg
li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or
os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta
te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
iw in ji jw mo
"""
ISO_639_1: frozenset[str] = frozenset(_CODES.split())


def check_language_code(value: str) -> str:
    """The code lower-cased; ValueError naming the expected form when it is not ISO 639-1."""
    code = value.strip().lower()
    if code not in ISO_639_1:
        raise ValueError(f"{value!r} is not an ISO 639-1 language code (two letters, e.g. "
                         "ar, en, fa, tr)")
    return code
