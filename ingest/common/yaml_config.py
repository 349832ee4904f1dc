"""Load a YAML config file into a pydantic model, with errors that name file, line and field.

Ops edit feeds, topics and alert rules by hand; a message like "feeds.yaml:14: feeds[3].url:
Input should be a valid URL" lets them fix it without reading a traceback. PyYAML's composed
node tree keeps the line of every value; we map pydantic's error locations back onto it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Loc = tuple[str | int, ...]


class LocatedValueError(ValueError):
    """A validator's error that belongs to a place inside the value it validated.

    A model validator that finds, say, the second feed with a name already used raises this
    with `loc=(3, "name")` (relative to the field it validates), so the message names the
    duplicate's own line instead of the line of the whole list.
    """

    def __init__(self, loc: Loc, message: str) -> None:
        self.loc = loc
        super().__init__(message)


class ConfigError(Exception):
    """A config file that cannot be used; `problems` holds one line per error."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _node_lines(node: yaml.Node, loc: Loc, out: dict[Loc, int], twice: list[str]) -> None:
    """Line of every value by location; a key given twice in one mapping goes to `twice`
    (PyYAML keeps the last silently, so a pasted block would override a feed unseen)."""
    out[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        first: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int) and key != "<<":
                if key in first:
                    twice.append(f"{line}: {format_loc((*loc, key))}: key given twice "
                                 f"(first at line {first[key]})")
                    continue
                first[key] = line
            out[(*loc, key)] = line
            _node_lines(value_node, (*loc, key), out, twice)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _node_lines(item, (*loc, index), out, twice)


def _syntax_error_line(text: str, exc: yaml.YAMLError) -> tuple[int | None, str]:
    """The line to fix, which is not always where PyYAML noticed the problem.

    An unclosed quote or `{`/`[` is noticed lines later (at the end of the stream, or at the
    next item), and `- name a` without its colon only when the next line's `url:` appears;
    the construct that was left open started on the line to fix.
    """
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return None, ""
    line = int(mark.line) + 1
    context = getattr(exc, "context", None) or ""
    context_mark = getattr(exc, "context_mark", None)
    if context_mark is not None and any(
        opened in context for opened in ("quoted scalar", "flow mapping", "flow sequence")
    ):
        return int(context_mark.line) + 1, f" ({context} opened here, noticed at line {line})"
    if "mapping values are not allowed" in (getattr(exc, "problem", None) or ""):
        last = _last_scalar_before_error(text)
        if last is not None and last < line:
            return last, f" (the value starting here runs on to line {line}: a ':' missing?)"
    return line, ""


def _last_scalar_before_error(text: str) -> int | None:
    """Start line of the last plain scalar the (pure Python) scanner read before failing."""
    loader = yaml.SafeLoader(text)
    start: int | None = None
    try:
        while loader.check_token():
            token = loader.get_token()
            if isinstance(token, yaml.ScalarToken) and token.plain:
                start = int(token.start_mark.line) + 1
    except yaml.YAMLError:
        return start
    finally:
        loader.dispose()
    return None


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    for cut in range(len(loc), -1, -1):
        line = lines.get(loc[:cut])
        if line is not None:
            return line
    return None


def format_loc(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def parse_yaml_model(text: str, model: type[M], path: Path) -> M:
    """Validate YAML text against `model`; raise ConfigError naming path:line and field."""
    # One parse, with libyaml when present: the node tree gives the lines, and the same tree
    # is built into data (a 10,000-rule alerts file loads in ~1 s instead of ~8 s).
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data: Any = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        line, note = _syntax_error_line(text, exc)
        at = f":{line}" if line is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, [f"{path}{at}: invalid YAML: {problem}{note}"]) from exc
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    twice: list[str] = []
    if node is not None:
        _node_lines(node, (), lines, twice)
    if twice:
        raise ConfigError(path, [f"{path}:{problem}" for problem in twice])
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if isinstance(p, str | int))
            located = (error.get("ctx") or {}).get("error")
            if isinstance(located, LocatedValueError):
                loc = (*loc, *located.loc)
            line = _line_for(loc, lines)
            where = f"{path}:{line}" if line is not None else str(path)
            problems.append(f"{where}: {format_loc(loc)}: {error['msg']}")
        raise ConfigError(path, problems) from exc


def load_yaml_model(path: Path, model: type[M]) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(path, [f"{path}: file not found"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})"]) from exc
    return parse_yaml_model(text, model, path)
