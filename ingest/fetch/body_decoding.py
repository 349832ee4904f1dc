"""Find the character encoding of a fetched feed or page and decode it.

Servers lie about encodings: a windows-1251 feed labelled UTF-8, a Russian page labelled
ISO-8859-1, a header that contradicts the XML declaration. Evidence is taken in the order the
standards give it weight — byte-order mark, the Content-Type charset, the XML declaration, an
HTML <meta> — but a label is only believed if the bytes decode under it; when none holds, valid
UTF-8 and then the chardet detector decide. A Latin-1 family label (which can decode any bytes)
is overruled only when its decoding reads as mojibake and the detector names another script.

feedparser does its own sniffing (with chardet when a label fails to decode) but believes a
Latin-1 label that decodes, yielding mojibake for a Cyrillic feed so labelled; and it cannot say
which label lied. `utf8_for_feedparser` hands it UTF-8 bytes with labels that agree, plus how the
charset was decided, for feed health. Pure: bytes in, text out.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import Literal

import chardet

Source = Literal["bom", "header", "xml_declaration", "meta", "utf8", "detected", "fallback"]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Browsers decode these labels as windows-1252 (WHATWG Encoding), and so do real servers mean them.
_WINDOWS_1252_LABELS = frozenset({"iso8859-1", "latin-1", "ascii", "us-ascii"})
_LATIN_FAMILY = frozenset({"cp1252", "iso8859-1", "iso8859-15", "ascii", "latin-1", "mac-roman"})
_MOJIBAKE_SHARE = 0.4  # share of non-ASCII among letters above which Latin text is implausible
_PREFIX = 4096
_MARKUP = re.compile(r"<[^>]*>|&\w+;|https?://\S+")

_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?([\w.:+-]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(
    rb"""^<\?xml\s[^>]*?encoding\s*=\s*["']([\w.:+-]+)["']""", re.IGNORECASE
)
_XML_ENCODING_ATTR = re.compile(rb"""(^\s*<\?xml\s[^>]*?encoding\s*=\s*)(["'])[\w.:+-]+\2""")
_META_CHARSET = re.compile(rb"""<meta\s[^>]*?charset\s*=\s*["']?([\w.:+-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class DecodedBody:
    text: str
    encoding: str  # Python codec name
    source: Source
    # Labels the body carried that its bytes contradicted: evidence of a mislabelled source.
    rejected_labels: tuple[str, ...] = field(default=())


def codec_name(label: str | None) -> str | None:
    """The Python codec for a label (WHATWG: latin-1 means windows-1252); None if unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return "cp1252" if name in _WINDOWS_1252_LABELS else name


def header_charset(content_type_header: str | None) -> str | None:
    match = _CHARSET_PARAM.search(content_type_header or "")
    return match.group(1) if match else None


def xml_declared_encoding(body: bytes) -> str | None:
    match = _XML_DECLARATION.match(body[:_PREFIX].lstrip())
    return match.group(1).decode("ascii") if match else None


def meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:_PREFIX])
    return match.group(1).decode("ascii") if match else None


def bom_encoding(body: bytes) -> tuple[str, int] | None:
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name, len(bom)
    return None


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def implausible_as_latin(text: str) -> bool:
    """Text decoded with a Latin-1 family codec whose letters are mostly not ASCII: Latin-script
    languages are mostly ASCII letters, another script read as Latin-1 is not (mojibake)."""
    prose = _MARKUP.sub(" ", text[:65536])  # tag names are ASCII whatever the language
    letters = [c for c in prose if c.isalpha()]
    if len(letters) < 20:
        return False
    non_ascii = sum(1 for c in letters if not c.isascii())
    return non_ascii / len(letters) > _MOJIBAKE_SHARE


def _detected(body: bytes) -> str | None:
    """chardet's pick from the bytes alone: it trusts in-document labels, which already failed."""
    unlabelled = _META_CHARSET.sub(b"<meta>", _XML_ENCODING_ATTR.sub(rb"\1''", body, count=1))
    guess = chardet.detect(unlabelled)
    return codec_name(guess.get("encoding"))


# An XML document without a BOM still shows its width in how "<?" is spelled (XML 1.0, App. F).
_XML_START_WITHOUT_BOM = (
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
)


def decode_body(body: bytes, content_type_header: str | None = None) -> DecodedBody:
    bom = bom_encoding(body)
    if bom is not None:
        name, size = bom
        return DecodedBody(body[size:].decode(name, errors="replace"), name, "bom")
    for start, wide in _XML_START_WITHOUT_BOM:
        if body.startswith(start):
            return DecodedBody(body.decode(wide, errors="replace"), wide, "xml_declaration")
    labels: list[tuple[Source, str | None]] = [
        ("header", header_charset(content_type_header)),
        ("xml_declaration", xml_declared_encoding(body)),
        ("meta", meta_charset(body)),
    ]
    rejected: list[str] = []
    tried: set[str] = set()
    for source, label in labels:
        if not label:
            continue
        encoding = codec_name(label)
        if encoding is None:
            rejected.append(label)
            continue
        if source != "header" and encoding.startswith(("utf-16", "utf-32")):
            # An ASCII-readable declaration cannot be in UTF-16/32: WHATWG reads it as UTF-8.
            encoding = "utf-8"
        if encoding in tried:
            continue
        tried.add(encoding)
        text = _strict(body, encoding)
        if text is None:
            rejected.append(label)
            continue
        if encoding in _LATIN_FAMILY and implausible_as_latin(text):
            detected = _detected(body)
            if detected is not None and detected not in _LATIN_FAMILY:
                better = _strict(body, detected)
                if better is not None:
                    return DecodedBody(better, detected, "detected", (*rejected, label))
        return DecodedBody(text, encoding, source, tuple(rejected))
    if "utf-8" not in tried:
        text = _strict(body, "utf-8")
        if text is not None:
            return DecodedBody(text, "utf-8", "utf8", tuple(rejected))
    detected = _detected(body)
    if detected is not None:
        text = _strict(body, detected)
        if text is not None:
            return DecodedBody(text, detected, "detected", tuple(rejected))
    return DecodedBody(body.decode("utf-8", errors="replace"), "utf-8", "fallback", tuple(rejected))


def _with_charset(content_type_header: str | None, charset: str) -> str:
    media_type = (content_type_header or "application/xml").split(";")[0].strip()
    return f"{media_type or 'application/xml'}; charset={charset}"


def utf8_for_feedparser(
    body: bytes, headers: dict[str, str] | None = None
) -> tuple[bytes, dict[str, str], DecodedBody]:
    """The body re-encoded as UTF-8, with Content-Type and XML declaration saying so.

    Returns (bytes, lower-cased headers, how it was decoded); feedparser then has nothing to guess.
    """
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    decoded = decode_body(body, lowered.get("content-type"))
    utf8 = decoded.text.encode("utf-8")
    utf8 = _XML_ENCODING_ATTR.sub(rb'\1"utf-8"', utf8, count=1)
    lowered["content-type"] = _with_charset(lowered.get("content-type"), "utf-8")
    return utf8, lowered, decoded
