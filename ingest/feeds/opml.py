"""OPML in and out of the feed registry (pure: bytes in, feeds out; no file or network I/O).

Ops move feed lists between readers (Miniflux, Feedly, Inoreader, NetNewsWire) as OPML, and
real exports are untidy: folders nested in folders, feeds with no title, the same feed in two
folders, `feed://` or `file://` URLs, HTML entities XML does not define, a byte-order mark.
`parse_opml` keeps every usable feed, turns folders into tags, and returns every outline it
could not use with the reason, so an import never drops anything silently.

Safety: a feed list comes from outside, and XML can make a parser read local files or fetch
URLs (external entities, XXE) or expand entities exponentially (billion laughs). OPML never
needs a DTD, so a document with a DOCTYPE is refused before lxml sees it, and lxml runs with
entity resolution, DTD loading and network access off as a second wall.

Export writes OPML 2.0 that other readers import (one folder per feed's first tag, tags also
in the standard `category` attribute) and that newswatch reads back losslessly (exact tags,
region and the enabled flag in attributes of our own namespace).
"""

from __future__ import annotations

import codecs
import html.entities
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from lxml import etree
from pydantic import ValidationError

from ingest.feeds.feeds_config import FeedConfig

NEWSWATCH_NS = "https://github.com/newswatch/newswatch/ns/opml"
MAX_NAME_CHARS = 80

_XML_DECLARATION = re.compile(rb"^<\?xml[^>]*\?>", re.DOTALL)
_DECLARED_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")
_DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)
_NAMED_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]{1,31});")
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_LANGUAGE = re.compile(r"^([a-z]{2,3})(?:[-_][a-z0-9]+)*$")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# `feed:` is the pseudo-scheme readers register for subscribe links; it means plain http(s).
_FEED_SCHEME = re.compile(r"^feed:(?://)?", re.IGNORECASE)


class OpmlError(ValueError):
    """The document as a whole cannot be read as OPML; `line` points at the problem if known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"OPML line {line}: {message}" if line is not None else f"OPML: {message}")


@dataclass(frozen=True)
class RejectedOutline:
    """One outline that did not become a feed, and why."""

    reason: str
    line: int | None = None
    path: tuple[str, ...] = ()  # the enclosing folders, outermost first
    title: str | None = None
    url: str | None = None

    def describe(self) -> str:
        where = f"line {self.line}" if self.line is not None else "?"
        folder = f" [{' / '.join(self.path)}]" if self.path else ""
        title = f" {self.title!r}" if self.title else ""
        url = f" <{self.url}>" if self.url else ""
        return f"{where}{folder}{title}{url}: {self.reason}"


@dataclass
class OpmlImport:
    title: str | None
    feeds: list[FeedConfig] = field(default_factory=list)
    rejected: list[RejectedOutline] = field(default_factory=list)


# --- reading ---------------------------------------------------------------------------------


def _without_declaration(text: str) -> str:
    """lxml refuses a str that declares an encoding; newlines stay so line numbers hold."""
    return re.sub(r"^<\?xml[^>]*\?>", lambda m: "\n" * m.group(0).count("\n"), text)


def _decode(data: bytes | str) -> str:
    """Text of the document, decoded as its BOM or XML declaration says (UTF-8 if neither)."""
    if isinstance(data, str):
        return _without_declaration(data.removeprefix("\ufeff"))
    encoding = None
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding, data = name, data[len(bom) :]
            break
    declaration = _XML_DECLARATION.match(data)
    if encoding is None:
        declared = _DECLARED_ENCODING.search(declaration.group(0)) if declaration else None
        encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise OpmlError(f"unknown encoding {encoding!r} in the XML declaration", 1) from exc
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise OpmlError(
            f"not valid {encoding} (byte {exc.start}: {exc.reason}); re-save the file as UTF-8",
            line,
        ) from exc
    return _without_declaration(text)


def _html_entities_to_numeric(text: str) -> str:
    """`&eacute;` and friends: HTML names XML does not define, which exporters leave in titles."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in _XML_ENTITIES or name not in html.entities.name2codepoint:
            return match.group(0)
        return f"&#{html.entities.name2codepoint[name]};"

    return _NAMED_ENTITY.sub(replace, text)


def _parse_xml(data: bytes | str) -> etree._Element:
    text = _decode(data)
    doctype = _DOCTYPE.search(text)
    if doctype is not None:
        line = text.count("\n", 0, doctype.start()) + 1
        raise OpmlError(
            "DOCTYPE declarations are refused: OPML needs none, and they can define entities "
            "that read local files or expand without bound",
            line,
        )
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(_html_entities_to_numeric(text), parser)
    except etree.XMLSyntaxError as exc:
        raise OpmlError(f"not well-formed XML: {exc.msg}", exc.lineno) from exc
    if root is None:
        raise OpmlError("the document is empty")
    return root


def _local(tag: object) -> str:
    return etree.QName(tag).localname.lower() if isinstance(tag, str) else ""


def _attributes(element: etree._Element) -> tuple[dict[str, str], dict[str, str]]:
    """Plain attributes, names lower-cased (exporters write xmlUrl, xmlurl, XMLURL), and ours."""
    plain: dict[str, str] = {}
    ours: dict[str, str] = {}
    for raw_name, value in element.attrib.items():
        name = etree.QName(raw_name)
        if name.namespace is None:
            plain.setdefault(name.localname.lower(), str(value))
        elif name.namespace == NEWSWATCH_NS:
            ours[name.localname] = str(value)
    return plain, ours


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    collapsed = " ".join(value.split())
    return collapsed or None


def _feed_url(raw: str) -> tuple[str | None, str | None]:
    """(url, None) for a usable http(s) URL, else (None, reason)."""
    url = raw.strip()
    if not url:
        return None, "empty xmlUrl"
    unwrapped = _FEED_SCHEME.sub("", url, count=1)
    if unwrapped != url:
        has_scheme = unwrapped.lower().startswith(("http://", "https://"))
        url = unwrapped if has_scheme else "http://" + unwrapped
    scheme = urlsplit(url).scheme.lower()
    if not scheme:
        return None, "xmlUrl is not an absolute URL"
    if scheme not in ("http", "https"):
        return None, f"unsupported URL scheme {scheme!r}: only http and https feeds are polled"
    return url, None


def _url_key(url: str) -> tuple[str, str]:
    """Two outlines name the same feed when host, port, path and query agree (scheme aside)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host, f"{parts.path or '/'}?{parts.query}"


def _name_chars(text: str) -> str:
    """Keep what FeedConfig's `[\\w.\\- ]` accepts (Unicode word characters), space the rest."""
    kept = []
    for char in text:
        category = unicodedata.category(char)
        ok = category[0] in "LM" or category in ("Nd", "Pc") or char in ".- \u200c\u200d"
        kept.append(char if ok else " ")
    name = " ".join("".join(kept).split())
    if len(name) > MAX_NAME_CHARS:
        name = name[:MAX_NAME_CHARS].rstrip()
    return name


def _host_of(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url.strip()).hostname
    return host.removeprefix("www.") if host else None


class _Names:
    """Hands out names unique among the feeds already registered and those imported so far."""

    def __init__(self, taken: Iterable[str]) -> None:
        self._taken = {name.casefold() for name in taken}

    def claim(self, *candidates: str | None) -> str:
        base = next((n for n in (_name_chars(c) for c in candidates if c) if n), "feed")
        name, number = base, 2
        while name.casefold() in self._taken:
            suffix = f" {number}"
            name = base[: MAX_NAME_CHARS - len(suffix)].rstrip() + suffix
            number += 1
        self._taken.add(name.casefold())
        return name


def _tags(path: tuple[str, ...], plain: dict[str, str], ours: dict[str, str]) -> list[str]:
    exact = ours.get("tags")
    if exact is not None:
        try:
            decoded = json.loads(exact)
        except json.JSONDecodeError:
            decoded = None
        if isinstance(decoded, list) and all(isinstance(t, str) for t in decoded):
            return decoded
    tags = list(path)
    for item in plain.get("category", "").split(","):
        tag = _clean(item.strip().strip("/"))
        if tag:
            tags.append(tag)
    return list(dict.fromkeys(tags))


def _language(value: str | None) -> str | None:
    match = _LANGUAGE.match((value or "").strip().lower())
    return match.group(1) if match else None


@dataclass
class _Walk:
    names: _Names
    by_key: dict[tuple[str, str], int]  # url key -> index in feeds, or -1 for a registered one
    registered: dict[tuple[str, str], str]
    result: OpmlImport

    def reject(self, element: etree._Element, path: tuple[str, ...], reason: str) -> None:
        plain, _ = _attributes(element)
        title = _clean(plain.get("title")) or _clean(plain.get("text"))
        url = plain.get("xmlurl") or plain.get("url") or plain.get("htmlurl")
        self.result.rejected.append(
            RejectedOutline(reason, element.sourceline, path, title, url.strip() if url else None)
        )

    def outlines(self, parent: etree._Element, path: tuple[str, ...], commented: bool) -> None:
        for child in parent:
            if _local(child.tag) == "outline":
                self.outline(child, path, commented)

    def outline(self, element: etree._Element, path: tuple[str, ...], commented: bool) -> None:
        plain, ours = _attributes(element)
        label = _clean(plain.get("title")) or _clean(plain.get("text"))
        has_children = any(_local(c.tag) == "outline" for c in element)
        if commented or plain.get("iscomment", "").strip().lower() == "true":
            self.reject(element, path, "commented out (isComment)")
            self.outlines(element, (*path, label or "?"), commented=True)
            return
        raw_url = plain.get("xmlurl")
        if raw_url is None:
            kind = plain.get("type", "").strip().lower()
            if has_children:
                self.outlines(element, (*path, label) if label else path, commented=False)
            elif kind == "include":
                self.reject(element, path, "include outline: other OPML files are not fetched")
            elif kind == "link":
                self.reject(element, path, "link outline: a web page, not a feed")
            elif kind in ("rss", "atom"):
                self.reject(element, path, f"type={kind} outline without an xmlUrl")
            else:
                self.reject(element, path, "no xmlUrl: an empty folder or a plain note")
            return
        self.feed(element, path, plain, ours, label, raw_url)
        if has_children:
            self.outlines(element, (*path, label) if label else path, commented=False)

    def feed(
        self,
        element: etree._Element,
        path: tuple[str, ...],
        plain: dict[str, str],
        ours: dict[str, str],
        label: str | None,
        raw_url: str,
    ) -> None:
        url, problem = _feed_url(raw_url)
        if url is None:
            self.reject(element, path, problem or "unusable xmlUrl")
            return
        key = _url_key(url)
        tags = _tags(path, plain, ours)
        if key in self.registered:
            self.reject(element, path, f"already registered as feed {self.registered[key]!r}")
            return
        if key in self.by_key:
            kept = self.result.feeds[self.by_key[key]]
            merged = list(dict.fromkeys([*kept.tags, *tags]))
            self.result.feeds[self.by_key[key]] = kept.model_copy(update={"tags": merged})
            self.reject(element, path, f"duplicate of feed {kept.name!r} (its folders became tags)")
            return
        name = self.names.claim(label, _host_of(plain.get("htmlurl")), _host_of(url))
        try:
            feed = FeedConfig(
                name=name,
                url=url,  # type: ignore[arg-type]  # pydantic validates str into HttpUrl
                language=_language(plain.get("language")),
                region=_clean(ours.get("region")),
                enabled=ours.get("enabled", "true").strip().lower() != "false",
                tags=tags,
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            self.reject(element, path, f"invalid feed: {problems}")
            return
        self.by_key[key] = len(self.result.feeds)
        self.result.feeds.append(feed)


def parse_opml(data: bytes | str, *, existing: Iterable[FeedConfig] = ()) -> OpmlImport:
    """Feeds from an OPML document, plus every outline that did not become one, with the reason.

    `existing` are the feeds already registered: imported names never collide with theirs, and
    a feed already registered under another name is reported instead of imported twice.
    Raises OpmlError when the document as a whole is unusable (malformed, not OPML, a DTD).
    """
    root = _parse_xml(data)
    if _local(root.tag) != "opml":
        raise OpmlError(f"not an OPML document: the root element is <{root.tag}>", root.sourceline)
    head = next((c for c in root if _local(c.tag) == "head"), None)
    body = next((c for c in root if _local(c.tag) == "body"), None)
    if body is None:
        raise OpmlError("the document has no <body>", root.sourceline)
    title_element = (
        next((c for c in head if _local(c.tag) == "title"), None) if head is not None else None
    )
    title = _clean(title_element.text) if title_element is not None else None
    registered_feeds = list(existing)
    walk = _Walk(
        names=_Names(f.name for f in registered_feeds),
        by_key={},
        registered={_url_key(str(f.url)): f.name for f in registered_feeds},
        result=OpmlImport(title=title),
    )
    walk.outlines(body, (), commented=False)
    return walk.result


# --- writing ---------------------------------------------------------------------------------


def _folders(feeds: Iterable[FeedConfig]) -> Iterator[tuple[str | None, list[FeedConfig]]]:
    """Feeds grouped by their first tag (None: untagged), groups in first-seen order.

    Readers show folders, not an order, so a feed list that interleaves tags comes back
    grouped; a list already grouped (as every reader exports it) keeps its order exactly.
    """
    groups: dict[str | None, list[FeedConfig]] = {}
    for feed in feeds:
        groups.setdefault(feed.tags[0] if feed.tags else None, []).append(feed)
    yield from groups.items()


def _feed_outline(parent: etree._Element, feed: FeedConfig) -> None:
    attributes = {"type": "rss", "text": feed.name, "title": feed.name, "xmlUrl": str(feed.url)}
    if feed.language:
        attributes["language"] = feed.language
    if feed.tags:
        attributes["category"] = ",".join(tag.replace(",", " ") for tag in feed.tags)
        attributes[f"{{{NEWSWATCH_NS}}}tags"] = json.dumps(feed.tags, ensure_ascii=False)
    if feed.region:
        attributes[f"{{{NEWSWATCH_NS}}}region"] = feed.region
    if not feed.enabled:
        attributes[f"{{{NEWSWATCH_NS}}}enabled"] = "false"
    try:
        etree.SubElement(parent, "outline", attributes)
    except ValueError as exc:  # a tag or region holding characters XML cannot carry
        raise OpmlError(f"feed {feed.name!r} cannot be written as XML: {exc}") from exc


def feeds_to_opml(
    feeds: Iterable[FeedConfig], *, title: str = "newswatch feeds", created: datetime | None = None
) -> bytes:
    """OPML 2.0 (UTF-8) for `feeds`; `created` becomes `dateCreated` (aware datetimes only)."""
    root = etree.Element("opml", {"version": "2.0"}, nsmap={"newswatch": NEWSWATCH_NS})
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    if created is not None:
        if created.tzinfo is None:
            raise ValueError("dateCreated needs a timezone-aware datetime")
        etree.SubElement(head, "dateCreated").text = format_datetime(created)
    body = etree.SubElement(root, "body")
    for folder, members in _folders(feeds):
        parent = body
        if folder is not None:
            parent = etree.SubElement(body, "outline", {"text": folder, "title": folder})
        for feed in members:
            _feed_outline(parent, feed)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
