"""Charset detection: labels are believed only when the bytes agree with them."""

from __future__ import annotations

import codecs

import feedparser
import pytest

from ingest.feeds.feed_parse import parse_feed
from ingest.fetch.body_decoding import (
    codec_name,
    decode_body,
    header_charset,
    implausible_as_latin,
    meta_charset,
    utf8_for_feedparser,
    xml_declared_encoding,
)
from tests.conftest import CORPORA

RUSSIAN = (
    "Губернатор посетил торжественное открытие учебного заведения. "
    "Дети пришли на первый урок в новое здание с бассейном и библиотекой."
)
FRENCH = "Le conseil municipal a voté à l'unanimité la rénovation de l'école élémentaire."


def rss(text: str, declared: str | None) -> str:
    declaration = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    return (
        f'{declaration}<rss version="2.0"><channel><title>{text[:20]}</title>'
        f"<item><title>{text}</title><link>http://example.org/1</link></item></channel></rss>"
    )


def test_labels_are_read_from_header_xml_declaration_and_meta() -> None:
    assert header_charset('text/html; charset="Windows-1251"') == "Windows-1251"
    assert header_charset("application/rss+xml") is None
    assert xml_declared_encoding(b"  <?xml version='1.0' encoding='koi8-r'?><rss/>") == "koi8-r"
    assert xml_declared_encoding(b"<rss/>") is None
    assert meta_charset(b'<html><head><meta charset="utf-8">') == "utf-8"
    assert (
        meta_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=gb2312">')
        == "gb2312"
    )


def test_codec_names_follow_browsers() -> None:
    assert codec_name("ISO-8859-1") == "cp1252"
    assert codec_name("us-ascii") == "cp1252"
    assert codec_name("Windows-1251") == "cp1251"
    assert codec_name("no-such-charset") is None


def test_honest_labels_win_in_order() -> None:
    body = rss(RUSSIAN, "windows-1251").encode("cp1251")
    decoded = decode_body(body, "application/rss+xml")
    assert (decoded.encoding, decoded.source, decoded.rejected_labels) == (
        "cp1251",
        "xml_declaration",
        (),
    )
    assert RUSSIAN in decoded.text
    header_first = decode_body(rss(RUSSIAN, "utf-8").encode("koi8-r"), "text/xml; charset=koi8-r")
    assert (header_first.encoding, header_first.source) == ("koi8-r", "header")
    assert RUSSIAN in header_first.text


def test_bom_beats_every_label() -> None:
    body = codecs.BOM_UTF16_LE + rss(RUSSIAN, "windows-1251").encode("utf-16-le")
    decoded = decode_body(body, "text/xml; charset=iso-8859-1")
    assert (decoded.encoding, decoded.source) == ("utf-16-le", "bom")
    assert RUSSIAN in decoded.text


def test_windows_1251_labelled_utf8_everywhere_is_detected() -> None:
    body = rss(RUSSIAN, "utf-8").encode("cp1251")
    decoded = decode_body(body, "application/rss+xml; charset=UTF-8")
    assert (decoded.encoding, decoded.source) == ("cp1251", "detected")
    assert decoded.rejected_labels == ("UTF-8",)
    assert RUSSIAN in decoded.text


def test_windows_1251_labelled_latin1_is_recognised_as_mojibake() -> None:
    body = rss(RUSSIAN, "iso-8859-1").encode("cp1251")
    decoded = decode_body(body, "text/xml; charset=ISO-8859-1")
    assert decoded.encoding == "cp1251"
    assert RUSSIAN in decoded.text


def test_real_latin1_text_keeps_its_label() -> None:
    body = f"<html><body><p>{FRENCH}</p></body></html>".encode("cp1252")
    decoded = decode_body(body, "text/html; charset=iso-8859-1")
    assert (decoded.encoding, decoded.source) == ("cp1252", "header")
    assert FRENCH in decoded.text


def test_meta_label_in_utf16_means_utf8() -> None:
    body = f'<html><head><meta charset="utf-16"></head><body>{FRENCH}</body></html>'.encode()
    decoded = decode_body(body, "text/html")
    assert decoded.encoding == "utf-8"
    assert FRENCH in decoded.text


def test_unlabelled_utf8_and_unlabelled_legacy_bytes() -> None:
    assert decode_body(rss(RUSSIAN, None).encode("utf-8")).source == "utf8"
    legacy = decode_body(rss(RUSSIAN, None).encode("cp1251"))
    assert (legacy.encoding, legacy.source) == ("cp1251", "detected")


def test_undecodable_garbage_still_gives_text() -> None:
    decoded = decode_body(bytes(range(256)) * 4, "text/html; charset=utf-8")
    assert isinstance(decoded.text, str)
    assert decoded.rejected_labels == ("utf-8",)


def test_mojibake_measure() -> None:
    assert implausible_as_latin(RUSSIAN.encode("cp1251").decode("cp1252"))
    assert not implausible_as_latin(FRENCH)
    assert not implausible_as_latin("Ñ")  # too short to judge


def test_feedparser_garbles_a_latin1_labelled_feed_and_utf8_for_feedparser_fixes_it() -> None:
    body = rss(RUSSIAN, "iso-8859-1").encode("cp1251")
    headers = {"Content-Type": "application/rss+xml; charset=iso-8859-1"}
    garbled = feedparser.parse(body, response_headers={"content-type": headers["Content-Type"]})
    assert garbled.entries[0].title != RUSSIAN
    fixed_body, fixed_headers, decoded = utf8_for_feedparser(body, headers)
    assert fixed_headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert fixed_body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert decoded.encoding == "cp1251"
    parsed = parse_feed(fixed_body, url="http://example.org/feed", headers=fixed_headers)
    assert parsed.entries[0].title == RUSSIAN


def test_real_world_windows_1251_feed_from_the_corpus() -> None:
    body = (CORPORA / "feeds/realworld/danmactough_node-feedparser/iconv.xml").read_bytes()
    decoded = decode_body(body, "text/xml; charset=utf-8")  # served with a lying header
    assert decoded.encoding == "cp1251"
    fixed_body, headers, _ = utf8_for_feedparser(body, {"content-type": "text/xml; charset=utf-8"})
    parsed = parse_feed(fixed_body, url="http://www.oren.ru/rss", headers=headers)
    assert parsed.entries
    titles = "".join(entry.title for entry in parsed.entries)
    assert not any("\u00c0" <= ch <= "\u00ff" for ch in titles)  # no Latin-1 mojibake
    assert sum("а" <= ch.lower() <= "я" for ch in titles) > 200


@pytest.mark.parametrize("encoding", ["utf-8", "cp1251", "koi8-r", "cp1252"])
def test_round_trip_with_honest_header(encoding: str) -> None:
    text = FRENCH if encoding == "cp1252" else RUSSIAN
    decoded = decode_body(rss(text, None).encode(encoding), f"text/xml; charset={encoding}")
    assert text in decoded.text


def test_xml_in_utf16_without_bom_is_recognised_by_its_first_bytes() -> None:
    text = (
        '<?xml version="1.0" encoding="utf-16"?>'
        "<rss><channel><title>Ünïcode</title></channel></rss>"
    )
    for codec in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        decoded = decode_body(text.encode(codec), None)
        assert decoded.text == text, codec
        assert decoded.encoding == codec
