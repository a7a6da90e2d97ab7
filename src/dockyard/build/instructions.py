"""What each Dockerfile instruction says: stages and typed, still unexpanded, steps.

``stages(dockerfile)`` checks every instruction's shape (argument counts, allowed flags,
the exec form where it is required) and groups them: the ARGs before the first FROM,
then one ``Stage`` per FROM. Values keep their quotes and ``$`` references; the builder
expands them with the stage's environment when it reaches the step (``expansion.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .dockerfile import Dockerfile, DockerfileError, Heredoc, Instruction, error, json_array, parse

COMMANDS = frozenset(
    {
        "from",
        "run",
        "cmd",
        "entrypoint",
        "env",
        "arg",
        "label",
        "expose",
        "volume",
        "user",
        "workdir",
        "shell",
        "stopsignal",
        "healthcheck",
        "onbuild",
        "copy",
        "add",
        "maintainer",
    }
)
FLAGS: dict[str, frozenset[str]] = {
    "from": frozenset({"platform"}),
    "run": frozenset({"network", "mount", "security"}),
    "copy": frozenset({"from", "chown", "chmod", "link", "parents", "exclude"}),
    "add": frozenset({"chown", "chmod", "link", "checksum", "keep-git-dir", "exclude"}),
    "healthcheck": frozenset({"interval", "timeout", "start-period", "start-interval", "retries"}),
}
NOT_IN_ONBUILD = frozenset({"onbuild", "from", "maintainer"})


@dataclass(frozen=True)
class Step:
    """One instruction of a stage, checked, with its arguments split as Docker does."""

    node: Instruction
    args: tuple[str, ...]  # words (JSON array items for the exec form), unexpanded
    exec_form: bool = False
    pairs: tuple[tuple[str, str | None], ...] = ()  # ENV, LABEL, ARG: key, raw value
    onbuild: Step | None = None

    @property
    def command(self) -> str:
        return self.node.command

    @property
    def heredocs(self) -> tuple[Heredoc, ...]:
        return self.node.heredocs

    def flag(self, name: str) -> str | None:
        return self.node.flag(name)

    def text(self) -> str:
        """The instruction as written (continuations joined): ``Step n/m : <text>``."""
        return self.node.original


@dataclass
class Stage:
    index: int
    base: str  # unexpanded image reference, ``scratch`` or an earlier stage's name
    name: str  # lower case, "" when unnamed
    platform: str | None
    node: Instruction
    steps: list[Step] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    global_args: tuple[Step, ...]
    stages: tuple[Stage, ...]


def split_words(rest: str, escape: str) -> list[str]:
    """Words at unquoted blanks; quotes and escapes stay (Docker's ``parseWords``)."""
    words: list[str] = []
    word: list[str] = []
    quote = ""
    escaped = False
    for ch in rest:
        if escaped:
            word.append(ch)
            escaped = False
        elif ch == escape:
            word.append(ch)
            escaped = True
        elif quote:
            word.append(ch)
            if ch == quote:
                quote = ""
        elif ch in ("'", '"'):
            word.append(ch)
            quote = ch
        elif ch.isspace():
            if word:
                words.append("".join(word))
                word = []
        else:
            word.append(ch)
    if word:
        words.append("".join(word))
    return words


def bad(node: Instruction, filename: str, why: str) -> DockerfileError:
    return error(filename, node.line, node.original, why)


def _pairs(node: Instruction, escape: str, filename: str) -> tuple[tuple[str, str | None], ...]:
    """ENV/LABEL ``k=v ...`` or the legacy ``k v w`` (one pair, the rest is the value)."""
    words = split_words(node.rest, escape)
    if not words:
        raise bad(node, filename, f"{node.command.upper()} requires at least one argument")
    if "=" not in words[0]:
        key, _, value = node.rest.partition(" ")
        value = value.strip()
        if not value:
            raise bad(node, filename, f"{node.command.upper()} must have two arguments")
        return ((key, value),)
    out = []
    for w in words:
        key, eq, value = w.partition("=")
        if not eq:
            raise bad(
                node,
                filename,
                f"syntax error - can't find = in {w!r}: must be of the form name=value",
            )
        if not key:
            raise bad(node, filename, f"{node.command.upper()} names can not be blank")
        out.append((key, value))
    return tuple(out)


def _step(node: Instruction, escape: str, filename: str) -> Step:
    cmd = node.command
    if cmd not in COMMANDS:
        raise bad(node, filename, f"unknown instruction: {cmd.upper()}")
    allowed = FLAGS.get(cmd, frozenset())
    for name, _ in node.flags:
        if name not in allowed:
            raise bad(node, filename, f"unknown flag: --{name} for {cmd.upper()}")
    rest = node.rest
    need_args = cmd not in ("healthcheck",)
    if need_args and not rest and not node.heredocs:
        raise bad(node, filename, f"{cmd.upper()} requires at least one argument")
    if cmd in ("env", "label"):
        return Step(node, (), pairs=_pairs(node, escape, filename))
    if cmd == "arg":
        pairs = []
        for w in split_words(rest, escape):
            key, eq, value = w.partition("=")
            if not key:
                raise bad(node, filename, "ARG names can not be blank")
            pairs.append((key, value if eq else None))
        return Step(node, (), pairs=tuple(pairs))
    if cmd == "onbuild":
        word = rest.split(None, 1)[0].lower()
        if word in NOT_IN_ONBUILD:
            raise bad(node, filename, f"{word.upper()} isn't allowed as an ONBUILD trigger")
        inner_df = parse(rest, filename)
        inner_node = inner_df.instructions[0]
        inner = _step(
            Instruction(
                inner_node.command,
                inner_node.flags,
                inner_node.rest,
                inner_node.json_args,
                node.original,
                node.line,
                node.end_line,
                node.heredocs,
            ),
            escape,
            filename,
        )
        return Step(node, (rest,), onbuild=inner)
    if cmd in ("run", "cmd", "entrypoint", "shell"):
        if node.json_args is not None:
            return Step(node, node.json_args, exec_form=True)
        if cmd == "shell":
            raise bad(
                node,
                filename,
                'SHELL requires the arguments to be in JSON form, e.g. ["/bin/sh", "-c"]',
            )
        return Step(node, (rest,))
    if cmd in ("copy", "add", "volume"):
        args = node.json_args if node.json_args is not None else tuple(split_words(rest, escape))
        if cmd != "volume" and len(args) < 2 and not node.heredocs:
            raise bad(
                node,
                filename,
                f"{cmd.upper()} requires at least two arguments, but only one was "
                "provided. Destination could not be determined",
            )
        return Step(node, tuple(args), exec_form=node.json_args is not None)
    if cmd == "healthcheck":
        words = rest.split(None, 1)
        kind = words[0].upper() if words else ""
        if kind == "NONE":
            if len(words) > 1 or node.flags:
                raise bad(node, filename, "HEALTHCHECK NONE takes no arguments")
            return Step(node, ("NONE",))
        if kind != "CMD":
            raise bad(node, filename, "HEALTHCHECK requires NONE or CMD followed by a command")
        command = words[1] if len(words) > 1 else ""
        if not command:
            raise bad(node, filename, "missing command after HEALTHCHECK CMD")
        array = json_array(command)
        if array is not None:
            return Step(node, ("CMD", *array), exec_form=True)
        return Step(node, ("CMD-SHELL", command))
    if cmd in ("user", "workdir", "stopsignal", "maintainer"):
        return Step(node, (rest,))
    # from, expose
    return Step(node, tuple(split_words(rest, escape)))


def stages(dockerfile: Dockerfile) -> Plan:
    filename = dockerfile.filename
    global_args: list[Step] = []
    out: list[Stage] = []
    names: set[str] = set()
    for node in dockerfile.instructions:
        step = _step(node, dockerfile.escape, filename)
        if node.command == "from":
            args = step.args
            if len(args) not in (1, 3) or (len(args) == 3 and args[1].lower() != "as"):
                raise bad(
                    node,
                    filename,
                    "FROM requires either one or three arguments: FROM <image> [AS <name>]",
                )
            name = args[2].lower() if len(args) == 3 else ""
            if name:
                if not re.fullmatch(r"[a-z][a-z0-9-_.]*", name):
                    raise bad(
                        node,
                        filename,
                        f"invalid name for build stage: {args[2]!r}, name can't start "
                        "with a number or contain symbols",
                    )
                if name in names:
                    raise bad(node, filename, f"duplicate name {args[2]!r}")
                names.add(name)
            out.append(Stage(len(out), args[0], name, node.flag("platform"), node))
        elif not out:
            if node.command != "arg":
                raise bad(
                    node,
                    filename,
                    "no build stage in current context: the first instruction must "
                    "be FROM (only ARG may come before it)",
                )
            global_args.append(step)
        else:
            out[-1].steps.append(step)
    if not out:
        raise DockerfileError(f"{filename}: the Dockerfile has no FROM instruction")
    return Plan(tuple(global_args), tuple(out))


__all__ = ["DockerfileError", "Plan", "Stage", "Step", "split_words", "stages"]
