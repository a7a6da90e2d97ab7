"""``--format``: the part of Go's text/template that docker users write.

Supported: literal text, ``{{.Field}}`` and ``{{.A.B}}``, ``{{.}}``, string and number
literals, the functions ``json``, ``upper``, ``lower``, ``title``, ``join``, ``split``,
``truncate``, ``pad``, ``index``, ``println``, ``printf`` (``%s``/``%d``/``%v``), pipelines
with ``|``, ``{{-``/``-}}`` trimming, the ``table`` prefix and the ``json`` shorthand.
Control actions (``if``, ``range``, ``with``) are refused with a clear message.
"""

from __future__ import annotations

import json

from dockyard.cli.errors import CommandFailed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    Node = str | list[list[str]]  # literal text, or a pipeline of commands (token lists)


class TemplateError(CommandFailed):
    pass


class Template:
    """A parsed ``--format`` value; ``table`` says whether it asks for a table."""

    def __init__(self, source: str) -> None:
        fmt = source
        self.table = fmt.startswith("table")
        if self.table:
            fmt = fmt[len("table") :]
        if fmt.strip() == "json":
            fmt = "{{json .}}"
        fmt = fmt.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
        self.source = fmt
        self.nodes = _parse(fmt)

    def render(self, data: Any, strict: bool = False) -> str:
        """The text for one object; ``strict``: a missing field is an error (a row)."""
        parts = []
        for node in self.nodes:
            if isinstance(node, str):
                parts.append(node)
            else:
                parts.append(go_string(_pipeline(node, data, strict)))
        return "".join(parts)


def go_string(value: Any) -> str:
    """How Go's template prints a value with ``%v``."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, list):
        return "[" + " ".join(go_string(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{go_string(value[k])}" for k in sorted(value))
        return f"map[{inner}]"
    return str(value)


def go_json(value: Any) -> str:
    """Go's ``json.Marshal``: compact, HTML characters escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _parse(fmt: str) -> list[Node]:
    nodes: list[Node] = []
    pos = 0
    while True:
        start = fmt.find("{{", pos)
        if start < 0:
            nodes.append(fmt[pos:])
            break
        text = fmt[pos:start]
        inner_start = start + 2
        if fmt.startswith("-", inner_start) and fmt[inner_start + 1 : inner_start + 2] in " \t\n":
            text = text.rstrip()
            inner_start += 1
        end = fmt.find("}}", inner_start)
        if end < 0:
            raise TemplateError(f"template parsing error: unclosed action in {fmt!r}")
        inner = fmt[inner_start:end]
        pos = end + 2
        if inner.endswith("-") and inner[-2:-1] in (" ", "\t", "\n"):
            inner = inner[:-1]
            rest = fmt[pos:]
            pos += len(rest) - len(rest.lstrip())
        nodes.append(text)
        nodes.append(_parse_pipeline(inner.strip()))
    return [n for n in nodes if n != ""]


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in " \t\n":
            i += 1
        elif ch in '"`':
            end = text.find(ch, i + 1)
            while ch == '"' and end > 0 and text[end - 1] == "\\":
                end = text.find(ch, end + 1)
            if end < 0:
                raise TemplateError(f"template parsing error: unterminated string in {text!r}")
            tokens.append(text[i : end + 1])
            i = end + 1
        elif ch == "|":
            tokens.append("|")
            i += 1
        else:
            j = i
            while j < len(text) and text[j] not in " \t\n|":
                j += 1
            tokens.append(text[i:j])
            i = j
    return tokens


_CONTROL = ("if", "else", "end", "range", "with", "define", "template", "block", "break")


def _parse_pipeline(inner: str) -> list[list[str]]:
    tokens = _tokens(inner)
    if not tokens:
        raise TemplateError("template parsing error: missing value for command")
    if tokens[0] in _CONTROL or tokens[0].startswith("$"):
        raise TemplateError(
            f"template: {{{{{tokens[0]}}}}} is not supported by dockyard --format yet; "
            "use fields ({{.Name}}), json and functions like upper, join, index"
        )
    commands: list[list[str]] = [[]]
    for tok in tokens:
        if tok == "|":
            commands.append([])
        else:
            commands[-1].append(tok)
    if any(not c for c in commands):
        raise TemplateError(f"template parsing error: empty command in {{{{{inner}}}}}")
    return commands


def _pipeline(commands: list[list[str]], data: Any, strict: bool) -> Any:
    value: Any = None
    for n, command in enumerate(commands):
        extra = [value] if n else []
        head = command[0]
        if head in _FUNCS:
            args = [_term(tok, data, strict) for tok in command[1:]] + extra
            try:
                value = _FUNCS[head](*args)
            except TypeError:
                raise TemplateError(
                    f"template: wrong number of args for {head}: got {len(args)}"
                ) from None
        elif len(command) == 1 and not extra:
            value = _term(head, data, strict)
        else:
            raise TemplateError(f"template: {head!r} is not a function")
    return value


def _term(token: str, data: Any, strict: bool) -> Any:
    if token == ".":
        return data
    if token.startswith("."):
        value = data
        for name in token[1:].split("."):
            if isinstance(value, dict) and name in value:
                value = value[name]
            elif strict and value is data:
                raise TemplateError(
                    f'template: executing "" at <{token}>: can\'t evaluate field {name}'
                )
            else:
                return None
        return value
    if token[0] == '"':
        return json.loads(token)
    if token[0] == "`":
        return token[1:-1]
    if token in ("true", "false"):
        return token == "true"
    if token == "nil":
        return None
    try:
        return int(token)
    except ValueError:
        pass
    raise TemplateError(f'template: function "{token}" not defined')


def _printf(fmt: str, *args: Any) -> str:
    out: list[str] = []
    it = iter(args)
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            verb = fmt[i + 1]
            i += 2
            if verb == "%":
                out.append("%")
            else:
                arg = next(it, None)
                out.append(go_json(arg) if verb == "q" else go_string(arg))
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
            value = value[key]
        else:
            return None
    return value


_FUNCS: Mapping[str, Any] = {
    "json": go_json,
    "upper": lambda s: go_string(s).upper(),
    "lower": lambda s: go_string(s).lower(),
    "title": lambda s: go_string(s).title(),
    "join": lambda items, sep: sep.join(go_string(i) for i in (items or [])),
    "split": lambda s, sep: go_string(s).split(sep),
    "truncate": lambda s, n: go_string(s)[:n],
    "pad": lambda s, left, right: " " * left + go_string(s) + " " * right,
    "index": _index,
    "println": lambda *a: " ".join(go_string(x) for x in a) + "\n",
    "print": lambda *a: "".join(go_string(x) for x in a),
    "printf": _printf,
    "len": lambda v: len(v) if v is not None else 0,
}
