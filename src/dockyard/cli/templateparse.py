"""The parser of ``--format`` templates: Go's text/template syntax as a tree of nodes.

Lexes ``{{ ... }}`` actions (with ``{{-``/``-}}`` trimming and ``{{/* comments */}}``)
and builds ``Text``, ``Action``, ``If``/``Range``/``With`` (with ``else`` and
``else if``) nodes; an action holds a ``Pipe``: optional variable declarations
(``$v :=``, ``$k, $v :=``) and commands joined by ``|``. Operands are fields
(``.A.B``), variables (``$x.A``), literals, function names and ``(sub pipelines)``.
Positions are kept so that errors name ``line:column`` as Go's do. Execution is in
``template.py``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Container
    from typing import Any


class ParseError(Exception):
    """A template that is not valid; the message is Go's wording after ``template: ``."""


class Operand:
    """One term of a command: ``kind`` is field, var, dot, ident, literal or pipe."""

    __slots__ = ("chain", "kind", "value")

    def __init__(self, kind: str, value: Any = None, chain: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.value = value  # var name, function name, literal value or a Pipe
        self.chain = chain  # field names applied after the operand (.A.B)


class Command:
    __slots__ = ("args", "pos", "text")

    def __init__(self, args: list[Operand], pos: int, text: str) -> None:
        self.args = args
        self.pos = pos  # offset of the command (or the last field name) in the source
        self.text = text


class Pipe:
    __slots__ = ("assign", "commands", "decl")

    def __init__(self, decl: list[str], commands: list[Command], assign: bool = False) -> None:
        self.decl = decl
        self.commands = commands
        self.assign = assign  # ``$x = ...`` (assignment, not declaration)


class Text:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class Action:
    __slots__ = ("pipe",)

    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe


class Block:
    """``if``, ``range`` or ``with``: the pipe, its body and the ``else`` part."""

    __slots__ = ("body", "chained", "kind", "orelse", "pipe")

    def __init__(self, kind: str, pipe: Pipe, chained: bool = False) -> None:
        self.kind = kind
        self.chained = chained  # opened by ``else if``: closed by its parent's ``end``
        self.pipe = pipe
        self.body: list[Node] = []
        self.orelse: list[Node] = []


Node = Text | Action | Block


def parse(source: str, functions: Container[str]) -> list[Node]:
    """The node tree of ``source``; ParseError for a broken template (one that calls a
    function not in ``functions`` too, as Go's parser checks that)."""
    items = _split(source, functions)
    root: list[Node] = []
    stack: list[tuple[Block, bool]] = []  # open blocks; True once in their else part

    def target() -> list[Node]:
        if not stack:
            return root
        block, in_else = stack[-1]
        return block.orelse if in_else else block.body

    for item in items:
        if isinstance(item, str):
            if item:
                target().append(Text(item))
            continue
        offset, tokens = item
        head = tokens[0][1] if tokens else ""
        if head in ("if", "range", "with"):
            block = Block(head, _pipe(source, tokens[1:], offset))
            target().append(block)
            stack.append((block, False))
        elif head == "else":
            if not stack or stack[-1][1]:
                raise ParseError(f":{_line(source, offset)}: unexpected {{{{else}}}}")
            block = stack[-1][0]
            stack[-1] = (block, True)
            if len(tokens) > 1 and tokens[1][1] in ("if", "with"):
                # ``else if`` is an ``if`` nested in the else part, ended by the same end
                inner = Block(tokens[1][1], _pipe(source, tokens[2:], offset), chained=True)
                block.orelse.append(inner)
                stack.append((inner, False))
        elif head == "end":
            if not stack:
                raise ParseError(f":{_line(source, offset)}: unexpected {{{{end}}}}")
            # close the block and every ``else if`` chained to it
            while stack:
                block, _ = stack.pop()
                if not block.chained:
                    break
        elif head in ("define", "template", "block", "break", "continue"):
            raise ParseError(f":{_line(source, offset)}: {{{{{head}}}}} is not supported")
        else:
            target().append(Action(_pipe(source, tokens, offset)))
    if stack:
        raise ParseError(f":{_line(source, len(source))}: unexpected EOF")
    return root


def _line(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def position(source: str, offset: int) -> str:
    """Go's ``line:col`` of an offset (the column counts from 0, as Go's do)."""
    line_start = source.rfind("\n", 0, offset) + 1
    return f"{_line(source, offset)}:{offset - line_start}"


Token = tuple[int, str]  # offset in the source, text


def _split(source: str, functions: Container[str]) -> list[str | tuple[int, list[Token]]]:
    """Text and actions; an action is its start offset and its tokens."""
    items: list[str | tuple[int, list[Token]]] = []
    pos = 0
    trim_next = False
    while True:
        start = source.find("{{", pos)
        text = source[pos:] if start < 0 else source[pos:start]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if start < 0:
            items.append(text)
            return items
        inner = start + 2
        if source.startswith("-", inner) and source[inner + 1 : inner + 2] in (
            " ",
            "\t",
            "\r",
            "\n",
        ):
            text = text.rstrip(" \t\r\n")
            inner += 1
        items.append(text)
        if source.startswith("/*", _skip_space(source, inner)):
            end = source.find("*/", inner)
            close = source.find("}}", end + 2) if end >= 0 else -1
            if close < 0:
                raise ParseError(f":{_line(source, start)}: unclosed comment")
            trim_next = source[end + 2 : close].strip() == "-"
            pos = close + 2
            continue
        tokens, end = _lex(source, inner, start)
        for at, word in tokens:
            if word.isidentifier() and word not in _WORDS and word not in functions:
                raise ParseError(f':{_line(source, at)}: function "{word}" not defined')
        trim_next = end > 0 and source[end - 1] == "-" and source[end - 2 : end - 1] in " \t\r\n"
        if not tokens:
            raise ParseError(f":{_line(source, start)}: missing value for command")
        items.append((start, tokens))
        pos = end + 2


def _skip_space(source: str, i: int) -> int:
    while i < len(source) and source[i] in " \t\r\n":
        i += 1
    return i


_PUNCT = ("|", "(", ")", ",", "=")
_WORDS = frozenset(
    ("if", "else", "end", "range", "with", "true", "false", "nil", "define", "template")
) | {"block", "break", "continue"}


def _lex(source: str, i: int, start: int) -> tuple[list[Token], int]:
    """The tokens of one action from ``i``; the offset of its ``}}``."""
    tokens: list[Token] = []
    n = len(source)
    while True:
        if i >= n:
            raise ParseError(f":{_line(source, start)}: unclosed action")
        ch = source[i]
        if source.startswith("}}", i):
            return tokens, i
        if source.startswith("-}}", i) and i > 0 and source[i - 1] in " \t\r\n":
            return tokens, i + 1
        if ch in " \t\r\n":
            i += 1
        elif ch in "\"'`":
            j = i + 1
            while j < n and source[j] != ch:
                j += 2 if source[j] == "\\" and ch != "`" else 1
            if j >= n:
                raise ParseError(f":{_line(source, start)}: unterminated quoted string")
            tokens.append((i, source[i : j + 1]))
            i = j + 1
        elif source.startswith(":=", i):
            tokens.append((i, ":="))
            i += 2
        elif ch in _PUNCT:
            tokens.append((i, ch))
            i += 1
        else:
            j = i
            while j < n and source[j] not in " \t\r\n|(),=\"'`" and not source.startswith("}}", j):
                if source.startswith(":=", j):
                    break
                j += 1
            if j == i:
                raise ParseError(f":{_line(source, start)}: unexpected {source[i]!r} in command")
            tokens.append((i, source[i:j]))
            i = j


def _pipe(source: str, tokens: list[Token], offset: int) -> Pipe:
    decl: list[str] = []
    assign = False
    # ``$a :=`` / ``$k, $v :=`` / ``$a =``
    for k, (_, text) in enumerate(tokens):
        if text in (":=", "="):
            names = [t for _, t in tokens[:k] if t != ","]
            if names and all(t.startswith("$") for t in names):
                decl, assign, tokens = names, text == "=", tokens[k + 1 :]
            break
    if not tokens:
        raise ParseError(f":{_line(source, offset)}: missing value for command")
    commands: list[Command] = []
    pos = 0
    while pos <= len(tokens):
        args, pos = _command(source, tokens, pos, offset)
        commands.append(args)
        if pos < len(tokens) and tokens[pos][1] == "|":
            pos += 1
            continue
        if pos < len(tokens):
            raise ParseError(f":{_line(source, offset)}: unexpected {tokens[pos][1]!r}")
        break
    return Pipe(decl, commands, assign)


def _command(source: str, tokens: list[Token], pos: int, offset: int) -> tuple[Command, int]:
    args: list[Operand] = []
    first = pos
    while pos < len(tokens) and tokens[pos][1] not in ("|", ")"):
        operand, pos = _operand(source, tokens, pos, offset)
        args.append(operand)
    if not args:
        raise ParseError(f":{_line(source, offset)}: missing value for command")
    at = tokens[first][0]
    if len(args) == 1 and args[0].kind in ("field", "var") and args[0].chain:
        # Go points at the last field name of a chain (".State.Nope" -> ".Nope")
        at = tokens[first][0] + len(tokens[first][1]) - len(args[0].chain[-1]) - 1
    end = tokens[pos - 1][0] + len(tokens[pos - 1][1])
    return Command(args, at, source[tokens[first][0] : end]), pos


def _operand(source: str, tokens: list[Token], pos: int, offset: int) -> tuple[Operand, int]:
    at, text = tokens[pos]
    pos += 1
    if text == "(":
        depth, end = 1, pos
        while end < len(tokens) and depth:
            depth += {"(": 1, ")": -1}.get(tokens[end][1], 0)
            end += 1
        if depth:
            raise ParseError(f":{_line(source, at)}: unclosed left paren")
        inner = _pipe(source, tokens[pos : end - 1], at)
        chain: tuple[str, ...] = ()
        if (
            end < len(tokens)
            and tokens[end][1].startswith(".")
            and tokens[end][0] == (tokens[end - 1][0] + 1)
        ):
            chain = tuple(tokens[end][1][1:].split("."))
            end += 1
        return Operand("pipe", inner, chain), end
    if text == ".":
        return Operand("dot"), pos
    if text.startswith("."):
        return Operand("field", None, tuple(text[1:].split("."))), pos
    if text.startswith("$"):
        name, _, rest = text.partition(".")
        return Operand("var", name, tuple(rest.split(".")) if rest else ()), pos
    if text[0] in "\"`'":
        return Operand("literal", _unquote(text, source, at)), pos
    if text in ("true", "false"):
        return Operand("literal", text == "true"), pos
    if text == "nil":
        return Operand("literal", None), pos
    if text[0].isdigit() or (text[0] in "+-." and len(text) > 1):
        return Operand("literal", _number(text, source, at)), pos
    if text.isidentifier():
        return Operand("ident", text), pos
    raise ParseError(f":{_line(source, at)}: unexpected {text!r} in command")


def _unquote(text: str, source: str, at: int) -> Any:
    if text[0] == "`":
        return text[1:-1]
    if text[0] == "'":
        inner = text[1:-1].encode().decode("unicode_escape")
        if len(inner) != 1:
            raise ParseError(f":{_line(source, at)}: malformed character constant: {text}")
        return ord(inner)
    from dockyard._internal.fastjson import loads

    try:
        return loads(text)
    except ValueError:
        raise ParseError(f":{_line(source, at)}: invalid syntax: {text}") from None


def _number(text: str, source: str, at: int) -> int | float:
    try:
        return int(text, 0)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ParseError(f":{_line(source, at)}: bad number syntax: {text!r}") from None
