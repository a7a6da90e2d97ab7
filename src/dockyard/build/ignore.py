""".dockerignore: which paths of the build context a build leaves out.

The rules are Docker's (``moby/patternmatcher``): one pattern per line, ``#`` lines
are comments, blank lines skipped; a pattern is cleaned like a path and a leading
``/`` dropped; ``*`` matches within one path segment, ``?`` one character, ``[...]``
a class, ``**`` any number of segments (also none); ``!`` makes an exception. The
last pattern that matches decides, and a pattern that matches a parent directory
matches everything under it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.errors import InvalidArgument


@dataclass(frozen=True)
class Pattern:
    text: str
    regex: re.Pattern[str]
    exclusion: bool


def _compile(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                out.append(".*" if i >= n else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            if i < n:
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append(re.escape("\\"))
        elif ch == "[":
            end = pattern.find("]", i + 1)  # a "]" right after "[" belongs to the class
            if end < 0:
                raise InvalidArgument(f"invalid .dockerignore pattern {pattern!r}: missing ']'")
            body = pattern[i:end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
        else:
            out.append(re.escape(ch))
    out.append("$")
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error as e:
        raise InvalidArgument(f"invalid .dockerignore pattern {pattern!r}: {e}") from e


def parse(text: str) -> list[Pattern]:
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        if not line:
            continue
        line = posixpath.normpath(line)
        if len(line) > 1 and line.startswith("/"):
            line = line.lstrip("/") or "/"
        patterns.append(Pattern(line, _compile(line), exclusion))
    return patterns


class Matcher:
    """Answers whether a context path (relative, ``/``-separated) is ignored."""

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        self.patterns = list(patterns)

    @classmethod
    def from_text(cls, text: str) -> Matcher:
        return cls(parse(text))

    def ignored(self, path: str) -> bool:
        path = posixpath.normpath(path.lstrip("/")) if path.strip("/") else "."
        parent = posixpath.dirname(path)
        parents = parent.split("/") if parent else []
        matched = False
        for p in self.patterns:
            if p.exclusion != matched:
                continue  # only a pattern that could change the answer is tried
            hit = bool(p.regex.match(path))
            if not hit and parents:
                hit = any(p.regex.match("/".join(parents[: i + 1])) for i in range(len(parents)))
            if hit:
                matched = not p.exclusion
        return matched

    def __bool__(self) -> bool:
        return bool(self.patterns)
