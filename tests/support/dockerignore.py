""".dockerignore rules as Docker applies them, to prove what a build context sends.

A port of moby/patternmatcher (the matcher BuildKit and the classic builder use):
`ignorefile.ReadAll` for reading the file and `MatchesOrParentMatches` with `Pattern.compile`
for matching. Semantics worth knowing, all kept here: patterns apply in order and the last one
that matches decides; a pattern also matches every path below a directory it matches; `*` and
`?` never cross `/`; `**` crosses any number of directories; `!` re-includes. Read from
https://github.com/moby/patternmatcher (patternmatcher.go, ignorefile/ignorefile.go).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

_ESCAPE = set(".+()|{}$")


@dataclass(frozen=True)
class Pattern:
    text: str  # cleaned, without the leading "!"
    exclusion: bool  # a "!" pattern: re-includes what it matches

    def _compile(self) -> tuple[str, str | re.Pattern[str]]:
        """(kind, matcher): exact, prefix, suffix or regexp, as Pattern.compile decides."""
        regex = "^"
        kind = "exact"
        chars = self.text
        i = 0
        position = 0
        while i < len(chars):
            ch = chars[i]
            i += 1
            if ch == "*":
                if i < len(chars) and chars[i] == "*":
                    i += 1
                    if i < len(chars) and chars[i] == "/":
                        i += 1
                    if i >= len(chars):
                        if kind == "exact":
                            kind = "prefix"
                        else:
                            regex += ".*"
                            kind = "regexp"
                    else:
                        regex += "(.*/)?"
                        kind = "regexp"
                    if position == 0:
                        kind = "suffix"
                else:
                    regex += "[^/]*"
                    kind = "regexp"
            elif ch == "?":
                regex += "[^/]"
                kind = "regexp"
            elif ch in _ESCAPE:
                regex += "\\" + ch
            elif ch == "\\":
                if i < len(chars):
                    regex += "\\" + chars[i]
                    i += 1
                    kind = "regexp"
                else:
                    regex += "\\\\"
            elif ch in "[]":
                regex += ch
                kind = "regexp"
            else:
                regex += ch
            position += 1
        if kind == "regexp":
            return kind, re.compile(regex + "$")
        return kind, self.text

    def match(self, path: str) -> bool:
        kind, matcher = self._compile()
        if kind == "exact":
            return path == self.text
        if kind == "prefix":
            return path.startswith(self.text[:-2])
        if kind == "suffix":
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        assert isinstance(matcher, re.Pattern)
        return matcher.match(path) is not None


def parse(text: str) -> list[Pattern]:
    """ignorefile.ReadAll: comments, blank lines, `!`, Clean, leading `/` dropped."""
    patterns = []
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        line = raw.strip()
        if not line:
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        line = posixpath.normpath(line)
        if len(line) > 1 and line.startswith("/"):
            line = line[1:]
        patterns.append(Pattern(line, exclusion))
    return patterns


def is_excluded(path: str, patterns: list[Pattern]) -> bool:
    """MatchesOrParentMatches: True when `path` (slash-separated, relative to the context
    root) is left out of the build context."""
    path = posixpath.normpath(path)
    matched = False
    parent = posixpath.dirname(path) or "."
    parent_dirs = parent.split("/")
    for pattern in patterns:
        if pattern.exclusion != matched:
            continue
        hit = pattern.match(path)
        if not hit and parent != ".":
            hit = any(
                pattern.match("/".join(parent_dirs[: i + 1])) for i in range(len(parent_dirs))
            )
        if hit:
            matched = not pattern.exclusion
    return matched
