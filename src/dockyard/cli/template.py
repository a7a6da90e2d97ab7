"""``--format``: Go's text/template as docker users write it, run on JSON-shaped data.

Everything docker's templates use: fields (``{{.A.B}}``), ``{{.}}``, variables
(``$``, ``$v := ...``, ``range $k, $v := ...``), ``if``/``else if``/``else``,
``range`` (lists and maps, with ``else``), ``with``, pipelines with ``|``, parentheses,
trimming (``{{-``/``-}}``), comments, Go's builtin functions (``and or not len index
slice eq ne lt le gt ge print printf println``) and docker's (``json join split title
lower upper pad truncate``), plus docker's ``table`` prefix and ``json`` shorthand.
Parsing is in ``templateparse.py``.

Missing fields behave as docker's do: inspect (``missing="error"``) fails with ``map has
no entry for key "X"``; a listing's row (``strict``) with ``can't evaluate field X``;
elsewhere a missing value prints ``<no value>``.
"""

from __future__ import annotations

from dockyard.cli.errors import CommandFailed
from dockyard.cli.templatefuncs import FUNCS as _FUNCS
from dockyard.cli.templatefuncs import (
    MISSING,
    ExecError,
    GoNames,
    Row,
    go_json,
    go_string,
    go_type,
    truth,
)
from dockyard.cli.templateparse import Action, Block, ParseError, Text, parse, position

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.templateparse import Command, Node, Operand, Pipe


class TemplateError(CommandFailed):
    pass


class Template:
    """A parsed ``--format`` value; ``table`` says whether it asks for a table."""

    def __init__(self, source: str, listing: bool = False, name: str = "") -> None:
        """``listing``: docker's formatter for ``ps``/``images``/...: a literal ``\\t`` or
        ``\\n`` in the flag value is a tab or a newline, and a broken template is "failed
        to parse template" (elsewhere: "template parsing error")."""
        fmt = source
        self.table = fmt.startswith("table")
        if self.table:
            fmt = fmt[len("table") :]
        if fmt.strip() == "json":
            fmt = "{{json .}}"
        fmt = fmt.strip(" ")
        if listing:
            fmt = fmt.replace("\\t", "\t").replace("\\n", "\n")
        self.source = fmt
        self.name = name
        try:
            self.nodes = parse(fmt, _FUNCS)
        except ParseError as e:
            if listing:
                raise TemplateError(f"failed to parse template: template: {e}") from None
            raise TemplateError(f"template parsing error: template: {name}{e}", 64) from None

    def render(
        self,
        data: Any,
        strict: bool = False,
        missing: str = "default",
        context: str = "",
        prefix: str = "",
    ) -> str:
        """The text for one object. ``strict``: a field that the object does not have is
        an error naming ``context`` (a listing's row); ``missing="error"``: a missing map
        key is one (inspect). ``prefix`` starts the message of an error (docker's
        "template parsing error: " for inspect, "failed to execute template: " for
        listings)."""
        run = _Run(self.source, data, "struct" if strict else missing, context, self.name)
        out: list[str] = []
        try:
            run.nodes(self.nodes, data, out)
        except _Located as e:
            raise TemplateError(f"{prefix}{e}") from None
        return "".join(out)


class _Located(Exception):
    pass


class _Run:
    """One execution: the root value, the variables in scope and the missing-key mode."""

    def __init__(self, source: str, root: Any, missing: str, context: str, name: str) -> None:
        self.source = source
        self.name = name
        self.missing = missing
        self.context = context
        self.vars: list[tuple[str, Any]] = [("$", root)]

    def nodes(self, nodes: list[Node], dot: Any, out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, Text):
                out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipe(node.pipe, dot)
                if not node.pipe.decl:
                    out.append(go_string(value))
            else:
                self.block(node, dot, out)

    def block(self, node: Block, dot: Any, out: list[str]) -> None:
        mark = len(self.vars)
        try:
            if node.kind == "range":
                self.range(node, dot, out)
                return
            value = self.pipe(node.pipe, dot)
            if truth(value):
                self.nodes(node.body, value if node.kind == "with" else dot, out)
            else:
                self.nodes(node.orelse, dot, out)
        finally:
            del self.vars[mark:]

    def range(self, node: Block, dot: Any, out: list[str]) -> None:
        decl = node.pipe.decl  # bound per element, not to the whole value
        value = self.pipe(node.pipe, dot, bind=False)
        if isinstance(value, dict):
            items: list[tuple[Any, Any]] = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [(i, i) for i in range(value)]
        elif value is None or value is MISSING:
            items = []
        else:
            raise self._fail(node.pipe.commands[0], f"range can't iterate over {go_string(value)}")
        if not items:
            self.nodes(node.orelse, dot, out)
            return
        mark = len(self.vars)
        for key, elem in items:
            del self.vars[mark:]
            if len(decl) == 1:
                self.vars.append((decl[0], elem))
            elif len(decl) == 2:
                self.vars += [(decl[0], key), (decl[1], elem)]
            self.nodes(node.body, elem, out)

    def pipe(self, pipe: Pipe, dot: Any, bind: bool = True) -> Any:
        value: Any = MISSING
        for n, command in enumerate(pipe.commands):
            value = self.command(command, dot, [value] if n else [])
        for name in pipe.decl if bind else ():
            if pipe.assign:
                for i in range(len(self.vars) - 1, -1, -1):
                    if self.vars[i][0] == name:
                        self.vars[i] = (name, value)
                        break
                else:
                    raise self._fail(pipe.commands[0], f"undefined variable: {name}")
            else:
                self.vars.append((name, value))
        return value

    def command(self, command: Command, dot: Any, piped: list[Any]) -> Any:
        head = command.args[0]
        if head.kind == "ident":
            func = _FUNCS.get(head.value)
            if func is None:
                raise self._fail(command, f'function "{head.value}" not defined')
            args = [self.operand(a, dot, command) for a in command.args[1:]] + piped
            try:
                return func(*args)
            except ExecError as e:
                raise self._fail(command, f"error calling {head.value}: {e}") from None
            except (TypeError, ValueError, AttributeError, KeyError) as e:
                raise self._fail(command, f"error calling {head.value}: {e}") from None
        if len(command.args) > 1 or piped:
            raise self._fail(command, f"can't give argument to non-function {command.text}")
        return self.operand(head, dot, command)

    def operand(self, op: Operand, dot: Any, command: Command) -> Any:
        if op.kind == "literal":
            return op.value
        if op.kind == "ident":
            return self.command(_single(op, command), dot, [])
        if op.kind == "dot":
            return dot
        if op.kind == "var":
            for name, value in reversed(self.vars):
                if name == op.value:
                    return self.fields(value, op.chain, command, op.value)
            raise self._fail(command, f"undefined variable: {op.value}")
        if op.kind == "pipe":
            return self.fields(self.pipe(op.value, dot), op.chain, command, "")
        return self.fields(dot, op.chain, command, "")

    def fields(self, value: Any, chain: tuple[str, ...], command: Command, base: str) -> Any:
        for name in chain:
            if isinstance(value, dict):
                if isinstance(value, GoNames) and name not in value:
                    name = value.go_names.get(name, name)
                if name in value:
                    value = value[name]
                    continue
                if self.missing == "struct":
                    where = f" in type {self.context}" if self.context else ""
                    raise self._fail(command, f"can't evaluate field {name}{where}")
                if self.missing == "error":
                    raise self._fail(command, f'map has no entry for key "{name}"')
                value = MISSING
            elif value is None or value is MISSING:
                raise self._fail(command, f"nil pointer evaluating interface {{}}.{name}")
            else:
                raise self._fail(command, f"can't evaluate field {name} in type {go_type(value)}")
        return value

    def _fail(self, command: Command, message: str) -> _Located:
        at = position(self.source, command.pos)
        name = self.name
        return _Located(f'template: {name}:{at}: executing "{name}" at <{command.text}>: {message}')


def _single(op: Operand, command: Command) -> Command:
    from dockyard.cli.templateparse import Command as Cmd

    return Cmd([op], command.pos, op.value)


__all__ = ["MISSING", "GoNames", "Row", "Template", "TemplateError", "go_json", "go_string"]
