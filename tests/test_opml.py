"""OPML import/export: a reader-exported file, round trips, hostile XML and broken input."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from ingest.feeds.feeds_config import FeedConfig, FeedsFile
from ingest.feeds.opml import NEWSWATCH_NS, OpmlError, feeds_to_opml, parse_opml
from tests.support.http_fixture_server import FixtureServer, Route

FIXTURE = Path(__file__).parent / "fixtures" / "opml" / "reader-export.opml"


@pytest.fixture(scope="module")
def exported() -> bytes:
    return FIXTURE.read_bytes()


def _by_name(feeds: list[FeedConfig]) -> dict[str, FeedConfig]:
    return {feed.name: feed for feed in feeds}


def _opml(body: str, head: str = "<head><title>t</title></head>") -> bytes:
    declaration = '<?xml version="1.0" encoding="UTF-8"?>'
    return f'{declaration}<opml version="2.0">{head}<body>{body}</body></opml>'.encode()


# --- a real-world-shaped export --------------------------------------------------------------


def test_reader_export_starts_with_a_bom_and_still_parses(exported: bytes) -> None:
    assert exported.startswith(b"\xef\xbb\xbf")
    result = parse_opml(exported)
    assert result.title == "Region desk subscriptions in Inoreader"
    assert len(result.feeds) == 20


def test_nested_folders_become_tags(exported: bytes) -> None:
    feeds = _by_name(parse_opml(exported).feeds)
    assert feeds["Syria Direct"].tags == ["Middle East", "Syria"]
    assert feeds["BBC فارسی"].tags == ["Middle East", "Iran"]
    assert feeds["Meduza"].tags == ["Russia"]
    # The OPML 2.0 `category` attribute adds tags; a leading slash marks a path, not a tag.
    assert feeds["Al Jazeera"].tags == ["Wires", "News/Wires", "middle-east"]


def test_titles_are_read_through_entities_and_made_into_valid_names(exported: bytes) -> None:
    feeds = _by_name(parse_opml(exported).feeds)
    assert "BBC Türkçe" in feeds  # HTML entities &uuml; &ccedil; that XML does not define
    assert "Enab Baladi English" in feeds  # &#8212; (em dash) is not allowed in a name
    assert "Al-Monitor Syria Politics" in feeds  # ':' and '|' dropped
    assert "Haaretz News" in feeds
    assert "خبرگزاری\u200cها" in feeds  # Persian zero-width non-joiner kept
    assert "Новая газета Европа" in feeds
    FeedsFile(feeds=list(feeds.values()))  # every name valid and unique as feeds.yaml needs


def test_missing_titles_fall_back_to_text_then_the_site_host(exported: bytes) -> None:
    feeds = _by_name(parse_opml(exported).feeds)
    assert (
        str(feeds["Syria Direct"].url) == "https://syriadirect.org/feed/"
    )  # text only, URL trimmed
    assert str(feeds["syriahr.com"].url) == "https://www.syriahr.com/en/feed/"  # htmlUrl host
    assert str(feeds["rss.dw.com"].url) == "https://rss.dw.com/rdf/rss-en-all"  # xmlUrl host


def test_same_title_twice_gets_a_numbered_name(exported: bytes) -> None:
    feeds = _by_name(parse_opml(exported).feeds)
    assert "world" not in str(feeds["Reuters World"].url)
    assert "best-topics=world" in str(feeds["Reuters World 2"].url)


def test_attribute_spelling_entities_in_urls_feed_scheme_and_language(exported: bytes) -> None:
    feeds = _by_name(parse_opml(exported).feeds)
    assert str(feeds["Al-Monitor Syria Politics"].url) == (
        "https://www.al-monitor.com/rss/syria.xml?utm_source=reader&format=rss2"
    )  # lower-case xmlurl attribute, &amp; decoded, query kept as the publisher wrote it
    assert str(feeds["Hürriyet Daily News"].url) == "http://www.hurriyetdailynews.com/rss"
    assert feeds["Daily Sabah"].language == "en"  # en-US
    assert feeds["خبرگزاری\u200cها"].language == "fa"  # fa-IR
    assert feeds["Meduza"].language is None


def test_a_feed_in_two_folders_is_kept_once_with_both_folders_as_tags(exported: bytes) -> None:
    result = parse_opml(exported)
    enab = [f for f in result.feeds if "english.enabbaladi.net" in str(f.url)]
    assert len(enab) == 1
    assert enab[0].tags == ["Middle East", "Syria", "Wires"]
    duplicate = [r for r in result.rejected if r.url == "http://english.enabbaladi.net/feed/"]
    assert len(duplicate) == 1
    assert "duplicate of feed 'Enab Baladi English'" in duplicate[0].reason
    assert duplicate[0].path == ("Wires",)
    assert duplicate[0].line == 41


def test_unusable_outlines_are_reported_with_line_folder_and_reason(exported: bytes) -> None:
    rejected = {r.url or r.title: r for r in parse_opml(exported).rejected}
    assert "unsupported URL scheme 'file'" in rejected["file:///home/desk/feeds/local.xml"].reason
    assert (
        "unsupported URL scheme 'itpc'" in rejected["itpc://podcasts.example.org/feed.xml"].reason
    )
    assert "unsupported URL scheme 'javascript'" in rejected["javascript:alert(1)"].reason
    assert "not an absolute URL" in rejected["/rss.xml"].reason
    assert rejected["Broken"].reason == "empty xmlUrl"
    assert "link outline" in rejected["https://syria.liveuamap.com/"].reason
    assert "commented out" in rejected["https://www.kavkaz-uzel.eu/rss"].reason
    assert "empty folder" in rejected["Empty folder"].reason
    local = rejected["file:///home/desk/feeds/local.xml"]
    assert local.path == ("Imported from old reader",)
    assert local.describe().startswith("line 49 [Imported from old reader] 'Local file'")


def test_every_leaf_outline_is_either_a_feed_or_a_rejection(exported: bytes) -> None:
    # Every leaf in the fixture is written self-closing; folders are not.
    leaves = re.findall(r"<outline\b[^>]*/>", exported.decode("utf-8-sig"))
    result = parse_opml(exported)
    assert len(result.feeds) + len(result.rejected) == len(leaves)


# --- registry-aware import ---------------------------------------------------------------------


def test_import_avoids_registered_names_and_reports_registered_urls(exported: bytes) -> None:
    registered = [
        FeedConfig(name="meduza", url="https://example.org/other.xml"),  # type: ignore[arg-type]
        FeedConfig(name="tass-en", url="https://TASS.com/rss/v2.xml"),  # type: ignore[arg-type]
    ]
    result = parse_opml(exported, existing=registered)
    names = {f.name for f in result.feeds}
    assert "Meduza 2" in names and "Meduza" not in names  # names compare case-insensitively
    assert not any("tass.com" in str(f.url) for f in result.feeds)
    tass = next(r for r in result.rejected if r.title == "TASS")
    assert tass.reason == "already registered as feed 'tass-en'"
    FeedsFile(feeds=[*registered, *result.feeds])


# --- export and round trip ---------------------------------------------------------------------


def test_round_trip_of_the_reader_export_is_lossless(exported: bytes) -> None:
    feeds = parse_opml(exported).feeds
    again = parse_opml(feeds_to_opml(feeds))
    assert again.feeds == feeds
    assert again.rejected == []


def test_round_trip_keeps_region_enabled_language_and_awkward_tags() -> None:
    feeds = [
        FeedConfig(
            name="Idlib desk",
            url="https://example.org/a?x=1&y=2",  # type: ignore[arg-type]
            language="ar",
            region="idlib",
            enabled=False,
            tags=["syria, north-west", "إدلب", 'quote"d <tag>'],
        ),
        FeedConfig(name="Untagged", url="http://example.net/feed"),  # type: ignore[arg-type]
    ]
    created = datetime(2025, 3, 4, 9, 12, 44, tzinfo=UTC)
    document = feeds_to_opml(feeds, title="desk export", created=created)
    result = parse_opml(document)
    assert result.feeds == feeds
    assert result.title == "desk export"
    other = FeedConfig(name="U2", url="http://example.net/other")  # type: ignore[arg-type]
    interleaved = [feeds[1], feeds[0], other]
    # Folders, not positions, survive in OPML: feeds come back grouped by first tag.
    assert parse_opml(feeds_to_opml(interleaved)).feeds == [feeds[1], other, feeds[0]]
    assert b"<dateCreated>Tue, 04 Mar 2025 09:12:44 +0000</dateCreated>" in document


def test_export_is_plain_opml_2_that_other_readers_understand() -> None:
    feeds = [
        FeedConfig(name="A", url="https://a.example/rss", tags=["Syria", "wires"]),  # type: ignore[arg-type]
        FeedConfig(name="B", url="https://b.example/rss"),  # type: ignore[arg-type]
    ]
    root = etree.fromstring(feeds_to_opml(feeds))
    assert root.get("version") == "2.0"
    folder = root.find("body/outline[@text='Syria']")
    assert folder is not None and folder.get("xmlUrl") is None
    feed_a = folder.find("outline")
    assert feed_a is not None
    assert (feed_a.get("type"), feed_a.get("text"), feed_a.get("xmlUrl")) == (
        "rss",
        "A",
        "https://a.example/rss",
    )
    assert feed_a.get("category") == "Syria,wires"
    # A reader that drops our namespace still gets the folder and category tags back.
    for element in root.iter("outline"):
        for name in [n for n in element.attrib if n.startswith(f"{{{NEWSWATCH_NS}}}")]:
            del element.attrib[name]
    foreign = parse_opml(etree.tostring(root))
    assert _by_name(foreign.feeds)["A"].tags == ["Syria", "wires"]
    assert _by_name(foreign.feeds)["B"].tags == []


def test_export_refuses_a_naive_creation_date() -> None:
    with pytest.raises(ValueError, match="timezone"):
        feeds_to_opml([], created=datetime(2025, 1, 1))


# --- hostile XML -------------------------------------------------------------------------------


def test_external_entity_is_refused_and_the_file_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    document = (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE opml [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        '<opml version="2.0"><head><title>&xxe;</title></head><body>'
        '<outline text="&xxe;" xmlUrl="https://example.org/&xxe;"/></body></opml>'
    ).encode()
    with pytest.raises(OpmlError) as caught:
        parse_opml(document)
    assert "DOCTYPE" in str(caught.value)
    assert caught.value.line == 2
    assert "TOP-SECRET" not in str(caught.value)


def test_external_dtd_is_refused_without_any_network_request(fixture_server: FixtureServer) -> None:
    fixture_server.routes["/evil.dtd"] = Route(body=b'<!ENTITY title "from the network">')
    document = (
        '<?xml version="1.0"?>'
        f'<!DOCTYPE opml SYSTEM "{fixture_server.url("/evil.dtd")}">'
        '<opml><body><outline text="&title;" xmlUrl="https://example.org/rss"/></body></opml>'
    )
    with pytest.raises(OpmlError, match="DOCTYPE"):
        parse_opml(document)
    assert fixture_server.requests == []


def test_billion_laughs_is_refused() -> None:
    lol = "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    document = (
        f'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY lol0 "lol">{lol}]>'
        '<opml><body><outline text="&lol9;" xmlUrl="https://e.org/r"/></body></opml>'
    )
    with pytest.raises(OpmlError, match="DOCTYPE"):
        parse_opml(document)


def test_doctype_hidden_in_utf16_is_still_refused() -> None:
    document = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<!DOCTYPE opml [<!ENTITY x "y">]><opml><body/></opml>'
    )
    with pytest.raises(OpmlError, match="DOCTYPE"):
        parse_opml(document.encode("utf-16"))


# --- encodings and input types -----------------------------------------------------------------


def test_declared_single_byte_encoding_is_honoured() -> None:
    body = '<outline text="Новости" xmlUrl="https://example.ru/rss"/>'
    document = (
        '<?xml version="1.0" encoding="windows-1251"?>'
        f"<opml><head><title>Ленты</title></head><body>{body}</body></opml>"
    ).encode("cp1251")
    result = parse_opml(document)
    assert result.title == "Ленты"
    assert [f.name for f in result.feeds] == ["Новости"]


def test_text_input_with_a_declaration_and_bom_is_accepted() -> None:
    document = (
        '\ufeff<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        '<opml><body><outline text="Café" xmlUrl="https://c.example/rss"/></body></opml>'
    )
    result = parse_opml(document)
    assert [f.name for f in result.feeds] == ["Café"]


def test_utf16_with_bom_is_decoded() -> None:
    document = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<opml><body><outline text="سوريا" xmlUrl="https://s.example/rss"/></body></opml>'
    )
    assert [f.name for f in parse_opml(document.encode("utf-16")).feeds] == ["سوريا"]


# --- malformed input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "message", "line"),
    [
        (
            b"<opml><body>\n<outline text='a' xmlUrl='https://a/r'>\n</body></opml>",
            "not well-formed",
            3,
        ),
        (b"<html><body><p>Not a feed list</p></body></html>", "root element is <html>", 1),
        (b"<opml version='2.0'>\n<head/></opml>", "no <body>", 1),
        (b"", "not well-formed", None),
        (
            b"<opml><body>\n\n<outline text='&nosuchentity;' xmlUrl='https://a/r'/></body></opml>",
            "nosuchentity",
            3,
        ),
        (
            b"<?xml version='1.0' encoding='no-such-codec'?><opml/>",
            "unknown encoding 'no-such-codec'",
            1,
        ),
        (
            b"<opml><body>\n<outline text='caf\xe9' xmlUrl='https://a/r'/></body></opml>",
            "not valid utf-8",
            2,
        ),
    ],
)
def test_malformed_input_gives_a_clear_error(
    document: bytes, message: str, line: int | None
) -> None:
    with pytest.raises(OpmlError) as caught:
        parse_opml(document)
    assert message in str(caught.value)
    if line is not None:
        assert caught.value.line == line
        assert str(caught.value).startswith(f"OPML line {line}: ")


# --- names and odd outlines ---------------------------------------------------------------------


def test_names_are_bounded_and_never_empty() -> None:
    body = (
        f'<outline text="{"Very long title " * 20}" xmlUrl="https://long.example/rss"/>'
        '<outline text="★★★ ~~~" xmlUrl="https://www.stars.example/rss"/>'
        '<outline text="x²" xmlUrl="https://sq.example/rss"/>'
    )
    feeds = parse_opml(_opml(body)).feeds
    assert len(feeds[0].name) <= 80 and feeds[0].name.startswith("Very long title")
    assert feeds[1].name == "stars.example"
    assert feeds[2].name == "x"


def test_children_of_a_commented_outline_are_reported_not_imported() -> None:
    body = (
        '<outline text="Old" isComment="true">'
        '<outline text="Inner" xmlUrl="https://inner.example/rss"/></outline>'
        '<outline type="include" text="More" url="https://other.example/list.opml"/>'
    )
    result = parse_opml(_opml(body))
    assert result.feeds == []
    reasons = {r.title: r.reason for r in result.rejected}
    assert reasons["Inner"] == "commented out (isComment)"
    assert "not fetched" in reasons["More"]
    inner = next(r for r in result.rejected if r.title == "Inner")
    assert inner.path == ("Old",)


def test_an_empty_body_imports_nothing_without_error() -> None:
    result = parse_opml(_opml(""))
    assert (result.feeds, result.rejected) == ([], [])
