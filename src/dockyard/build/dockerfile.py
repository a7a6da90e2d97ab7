"""The Dockerfile's syntax: directives, comments, continuations, heredocs, instructions.

``parse(text, filename)`` turns a Dockerfile into ``Instruction`` nodes without
interpreting them: the command (lower case), its ``--flags``, the rest of the line as
written, whether that rest is a JSON array (exec form) and any heredocs. What each
instruction means is ``instructions.py``'s business; variables are expanded later, at
build time, with the environment of the stage (``expansion.py``).

The rules follow Docker's parser: parser directives (``# escape=`` and ``# syntax=``)
only at the very top; a line whose first non-blank character is ``#`` is a comment, also
inside a continued instruction; the escape character at the end of a line (trailing
blanks allowed) continues the instruction on the next line, joined without a separator;
empty lines inside a continuation are skipped. Every error names the file and the line
and shows the offending text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from dockyard.errors import InvalidArgument

from .expansion import DEFAULT_ESCAPE

DIRECTIVE = re.compile(r"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.*?)[ \t]*$")
KNOWN_DIRECTIVES = ("escape", "syntax", "check")
HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
HEREDOC_COMMANDS = ("run", "copy", "add")
FLAG = re.compile(r"^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(.*))?$")


@dataclass(frozen=True)
class Heredoc:
    name: str
    content: str
    expand: bool  # an unquoted name: the content is subject to substitution
    chomp: bool  # ``<<-``: leading tabs were stripped


@dataclass(frozen=True)
class Instruction:
    command: str  # lower case: "from", "run", ...
    flags: tuple[tuple[str, str | None], ...]  # ("from", "build") for --from=build
    rest: str  # everything after the flags, as written (continuations joined)
    json_args: tuple[str, ...] | None  # the exec form's array, when rest is one
    original: str  # the instruction as written, continuations joined (for messages)
    line: int  # 1-based line of the instruction's first line
    end_line: int
    heredocs: tuple[Heredoc, ...] = ()

    def flag(self, name: str) -> str | None:
        return next((v for k, v in self.flags if k == name), None)


@dataclass(frozen=True)
class Dockerfile:
    filename: str
    escape: str
    instructions: tuple[Instruction, ...]
    warnings: tuple[str, ...] = field(default=())


class DockerfileError(InvalidArgument):
    """A syntax error; the message has ``file:line`` and the text."""


def error(filename: str, line: int, text: str, why: str) -> DockerfileError:
    return DockerfileError(f"{filename}:{line}: {why}: {text.strip()!r}")


def _directives(lines: list[str], filename: str) -> tuple[dict[str, str], int]:
    found: dict[str, str] = {}
    index = 0
    for index, raw in enumerate(lines):
        m = DIRECTIVE.match(raw.strip() if raw.strip().startswith("#") else raw)
        if not m:
            break
        name, value = m.group(1).lower(), m.group(2)
        if name not in KNOWN_DIRECTIVES:
            break  # an unknown directive is a comment and ends the directives
        if name in found:
            raise error(filename, index + 1, raw, f"only one {name} parser directive can be used")
        found[name] = value
    else:
        index = len(lines)
    escape = found.get("escape", DEFAULT_ESCAPE)
    if escape not in ("\\", "`"):
        raise error(filename, 1, f"escape={escape}", "invalid escape token: use \\ or `")
    return found, index


def parse(text: str, filename: str = "Dockerfile") -> Dockerfile:
    text = text.removeprefix("\ufeff")
    lines = text.replace("\r\n", "\n").split("\n")
    directives, i = _directives(lines, filename)
    escape = directives.get("escape", DEFAULT_ESCAPE)
    warnings = []
    if "syntax" in directives:
        warnings.append(
            f"{filename}: the syntax directive ({directives['syntax']}) is ignored: "
            "Dockyard has one built-in Dockerfile frontend"
        )
    continuation = re.compile(re.escape(escape) + r"[ \t]*$")
    out: list[Instruction] = []
    while i < len(lines):
        raw = lines[i]
        start = i
        stripped = raw.strip()
        i += 1
        if not stripped or stripped.startswith("#"):
            continue
        joined = raw.lstrip()
        while continuation.search(joined):
            joined = continuation.sub("", joined)
            while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                if not lines[i].strip():
                    warnings.append(f"{filename}:{i + 1}: empty continuation line")
                i += 1
            if i >= len(lines):
                break
            joined += lines[i]
            i += 1
        node, i = _instruction(joined, raw, start + 1, i, lines, filename)
        out.append(node)
    return Dockerfile(filename, escape, tuple(out), tuple(warnings))


def _instruction(
    joined: str, first: str, line: int, i: int, lines: list[str], filename: str
) -> tuple[Instruction, int]:
    word, _, rest = joined.strip().partition(" ")
    if "\t" in word:
        word, _, more = word.partition("\t")
        rest = more + " " + rest
    command = word.lower()
    rest = rest.strip()
    flags: list[tuple[str, str | None]] = []
    while rest.startswith("--"):
        token, _, remainder = rest.partition(" ")
        if token == "--":
            rest = remainder.strip()
            break
        m = FLAG.match(token)
        if not m:
            raise error(filename, line, first, f"invalid flag {token!r}")
        flags.append((m.group(1).lower(), m.group(2)))
        rest = remainder.strip()
    heredocs: list[Heredoc] = []
    if command in HEREDOC_COMMANDS:
        for m in HEREDOC.finditer(rest):
            chomp, quote, name = m.group(1) == "-", m.group(2), m.group(3)
            body: list[str] = []
            while True:
                if i >= len(lines):
                    raise error(filename, line, first, f"unterminated heredoc {name!r}")
                text = lines[i]
                i += 1
                check = text.lstrip("\t") if chomp else text
                if check == name:
                    break
                body.append(check if chomp else text)
            content = "\n".join(body) + ("\n" if body else "")
            heredocs.append(Heredoc(name, content, expand=not quote, chomp=chomp))
    json_args = json_array(rest)
    return (
        Instruction(
            command=command,
            flags=tuple(flags),
            rest=rest,
            json_args=json_args,
            original=joined.strip(),
            line=line,
            end_line=i,
            heredocs=tuple(heredocs),
        ),
        i,
    )


def json_array(rest: str) -> tuple[str, ...] | None:
    """The exec form: a JSON array of strings; anything else is the shell form."""
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return tuple(value)
