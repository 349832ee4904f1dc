"""Add feeds to and remove feeds from feeds.yaml without disturbing anything else in it.

feeds.yaml is the registry ops edit by hand: comments, grouping, order and quoting are theirs.
A load-and-dump round trip through PyYAML would drop every comment, so edits are made on the
text, at positions taken from PyYAML's node tree: a new feed is inserted after the last item of
the `feeds:` list, in the style of the items already there (one-line `{name: .., url: ..}` or
block mappings); a removed feed loses exactly the lines of its own item. Every edit is
validated before it is written: the edited text must load as a FeedsFile whose feeds are the
old ones plus or minus exactly the edited ones, or nothing is written.

Writes are atomic (temporary file, then rename) under an exclusive lock on a side file, so two
`newswatch feeds add` at once both land.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from ingest.common.yaml_config import parse_yaml_model
from ingest.feeds.feeds_config import FeedConfig, FeedsFile

DEFAULT_DASH_COLUMN = 2
DEFAULT_PATH = Path("feeds.yaml")  # the path named in errors of text-only edits


class FeedsFileEditError(Exception):
    """The edit cannot be made safely; the file is left as it was."""


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts  # the last entry is len(text)


def _last_content_line(node: yaml.Node) -> int:
    """Line of the last character that belongs to `node` (a block mapping's own end mark
    runs on past trailing comments to the next token)."""
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.value \
            and not node.flow_style:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    end = node.end_mark
    if end.column == 0 and end.line > node.start_mark.line:
        return int(end.line) - 1
    return int(end.line)


def _feeds_node(text: str) -> yaml.Node | None:
    """The value node of the top-level `feeds:` key; None when there is no such key."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise FeedsFileEditError(f"feeds file is not valid YAML: {exc}") from exc
    if root is None:
        return None
    if not isinstance(root, yaml.MappingNode):
        raise FeedsFileEditError("feeds file must be a mapping with a `feeds:` list")
    return next((value for key, value in root.value if key.value == "feeds"), None)


def _feed_data(feed: FeedConfig) -> dict[str, Any]:
    """name and url first (how people read the file), then what differs from the defaults."""
    data: dict[str, Any] = {"name": feed.name, "url": str(feed.url)}
    extra = feed.model_dump(mode="json", exclude_defaults=True, exclude={"name", "url"})
    return {**data, **extra}


def _render(feed: FeedConfig, *, dash_column: int, flow: bool, newline: str) -> str:
    data = _feed_data(feed)
    pad = " " * dash_column
    if flow:
        one_line = yaml.safe_dump(data, default_flow_style=True, width=1_000_000,
                                  allow_unicode=True, sort_keys=False).strip()
        return f"{pad}- {one_line}{newline}"
    block = yaml.safe_dump(data, default_flow_style=False, allow_unicode=True,
                           sort_keys=False).splitlines()
    lines = [f"{pad}- {block[0]}", *(f"{pad}  {line}" for line in block[1:])]
    return newline.join(lines) + newline


def _validated(text: str, expected: list[str], path: Path) -> str:
    try:
        parsed = parse_yaml_model(text, FeedsFile, path)
    except Exception as exc:  # ConfigError or worse: refuse the edit, never write it
        raise FeedsFileEditError(f"the edited file would not load: {exc}") from exc
    names = [f.name for f in parsed.feeds]
    if names != expected:
        raise FeedsFileEditError(
            f"the edit would change the feed list unexpectedly: {names} != {expected}")
    return text


def add_feeds_text(
    text: str, feeds: Sequence[FeedConfig], path: Path = DEFAULT_PATH
) -> str:
    """`text` with `feeds` appended to its `feeds:` list. Names must be new (checked).
    Raises ConfigError when `text` itself is not a valid feeds file."""
    if not feeds:
        return text
    node = _feeds_node(text)
    # A new file (or one without its `feeds:` list yet) has no feeds to keep; otherwise the
    # file must load as it is before it is edited.
    current = [] if node is None else [
        f.name for f in parse_yaml_model(text, FeedsFile, path).feeds]
    clash = sorted({f.name for f in feeds} & set(current))
    if clash:
        raise FeedsFileEditError(f"feed names already in the file: {', '.join(clash)}")
    newline = _newline(text)
    starts = _line_starts(text)
    if isinstance(node, yaml.SequenceNode) and node.value and node.flow_style:
        raise FeedsFileEditError(
            "`feeds:` is written as a one-line [...] list; write it as a block list "
            "(one `- {name: .., url: ..}` per line) to edit it with newswatch")
    if isinstance(node, yaml.SequenceNode) and node.value:
        last = node.value[-1]
        flow = bool(getattr(last, "flow_style", False)) or not isinstance(last, yaml.MappingNode)
        items = "".join(_render(f, dash_column=node.start_mark.column, flow=flow,
                                newline=newline) for f in feeds)
        at = starts[min(_last_content_line(last) + 1, len(starts) - 1)]
        head = text[:at]
        if head and not head.endswith(("\n", "\r")):
            head += newline
        edited = head + items + text[at:]
    else:
        items = "".join(_render(f, dash_column=DEFAULT_DASH_COLUMN, flow=True,
                                newline=newline) for f in feeds)
        if node is None:
            head = text if not text or text.endswith(("\n", "\r")) else text + newline
            edited = f"{head}feeds:{newline}{items}"
        elif isinstance(node, yaml.SequenceNode):  # `feeds: []` becomes a block list
            start, end = node.start_mark.index, node.end_mark.index
            rest = text[end:]
            line_end = rest.find("\n")
            tail = "" if line_end < 0 else rest[line_end + 1:]
            same_line = rest if line_end < 0 else rest[:line_end + 1]
            edited = (text[:start].rstrip(" ") + same_line.rstrip("\r\n") + newline + items
                      + tail)
        else:
            raise FeedsFileEditError("`feeds:` must be a list")
    return _validated(edited, current + [f.name for f in feeds], path)


def remove_feed_text(text: str, name: str, path: Path = DEFAULT_PATH) -> str:
    """`text` without the item of feed `name` (its own lines only)."""
    current = [f.name for f in parse_yaml_model(text, FeedsFile, path).feeds]
    if name not in current:
        raise FeedsFileEditError(f"no feed named {name!r} in the file")
    node = _feeds_node(text)
    if not isinstance(node, yaml.SequenceNode):
        raise FeedsFileEditError("`feeds:` must be a list")
    if node.flow_style:
        raise FeedsFileEditError(
            "`feeds:` is written as a one-line [...] list; write it as a block list to edit "
            "it with newswatch")
    item = next(i for i in node.value if isinstance(i, yaml.MappingNode)
                and any(k.value == "name" and v.value == name for k, v in i.value))
    starts = _line_starts(text)
    first = int(item.start_mark.line)
    dash_line = text[starts[first]:item.start_mark.index].strip()
    if dash_line != "-":  # the item's content starts on the line after a bare "-"
        first -= 1
    last = _last_content_line(item)
    edited = text[:starts[first]] + text[starts[min(last + 1, len(starts) - 1)]:]
    return _validated(edited, [n for n in current if n != name], path)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock_path = path.with_name(f".{path.name}.lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_atomic(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path) -> str:
    if not path.exists():
        return ""
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def add_feeds(path: Path, feeds: Sequence[FeedConfig]) -> None:
    """Append `feeds` to the feeds file at `path` (created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        _write_atomic(path, add_feeds_text(_read(path), feeds, path))


def remove_feed(path: Path, name: str) -> None:
    with _locked(path):
        _write_atomic(path, remove_feed_text(_read(path), name, path))
