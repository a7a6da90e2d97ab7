"""What the config-only instructions do to a stage's image config, and how history
records them.

``StageState`` is one stage's running state: the image config (``config`` holds
``Cmd``, ``Env``, ...), the build args in scope and the SHELL. ``apply(state, step)``
expands the step's words with the stage's variables and changes the config as Docker's
legacy builder does; ``history_text`` is the ``created_by`` of the step's history
entry (``/bin/sh -c #(nop)  CMD ["sh"]``, as ``docker history`` shows).
"""

from __future__ import annotations

import copy
import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.images.instructions import Change, apply_change, expose_ports

from .expansion import expand, expand_words
from .instructions import Step

DEFAULT_SHELL = ("/bin/sh", "-c")
PROXY_ARGS = (
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
    "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
)  # fmt: skip
HEALTH_DURATIONS = {
    "interval": "Interval",
    "timeout": "Timeout",
    "start-period": "StartPeriod",
    "start-interval": "StartInterval",
}


@dataclass
class StageState:
    image: dict[str, Any]  # the whole image config (config, rootfs, history, ...)
    escape: str = "\\"
    args: dict[str, str] = field(default_factory=dict)  # build args in scope, with values
    build_args: dict[str, str] = field(default_factory=dict)  # --build-arg, all of them
    cmd_set: bool = False  # a CMD in this stage (ENTRYPOINT then keeps it)

    @property
    def config(self) -> dict[str, Any]:
        cfg = self.image.setdefault("config", {})
        assert isinstance(cfg, dict)
        return cfg

    def env(self) -> dict[str, str]:
        """The variables for substitution: build args, overridden by the image's ENV."""
        out = dict(self.args)
        for item in self.config.get("Env") or []:
            key, _, value = item.partition("=")
            out[key] = value
        return out

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    def word(self, text: str) -> str:
        return expand(text, self.env(), self.escape)

    def words(self, text: str) -> list[str]:
        return expand_words(text, self.env(), self.escape)

    def declare_arg(self, name: str, default: str | None, global_args: dict[str, str]) -> None:
        """``ARG name[=default]``: the --build-arg value wins, then the default, then the
        value of a global ARG of that name."""
        if name in self.build_args:
            self.args[name] = self.build_args[name]
        elif default is not None:
            self.args[name] = self.word(default)
        elif name in global_args:
            self.args[name] = global_args[name]

    def run_env(self) -> list[str]:
        """RUN's environment: the image's ENV plus the build args in scope (and the
        predefined proxy args when given), the image's ENV winning."""
        env = dict(self.args)
        for name in PROXY_ARGS:
            if name in self.build_args:
                env.setdefault(name, self.build_args[name])
        for item in self.config.get("Env") or []:
            key, _, value = item.partition("=")
            env[key] = value
        return [f"{k}={v}" for k, v in env.items()]


def _command(state: StageState, step: Step) -> list[str]:
    if step.exec_form:
        return list(step.args)
    return [*state.shell, step.args[0]]


def _duration_ns(text: str, flag: str) -> int:
    units = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
    total = 0.0
    number = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = next((u for u in ("ns", "us", "ms", "s", "m", "h") if text.startswith(u, i)), "")
        if not unit or not number:
            raise InvalidArgument(f"HEALTHCHECK --{flag}={text}: not a duration like 30s or 1m")
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        raise InvalidArgument(f"HEALTHCHECK --{flag}={text}: missing a unit (s, m, h)")
    return int(total)


def _healthcheck(state: StageState, step: Step) -> dict[str, Any]:
    if step.args[0] == "NONE":
        return {"Test": ["NONE"]}
    test = list(step.args)
    health: dict[str, Any] = {"Test": test}
    for flag, key in HEALTH_DURATIONS.items():
        value = step.flag(flag)
        if value is not None:
            ns = _duration_ns(value, flag)
            if ns and ns < 1_000_000:
                raise InvalidArgument(f"HEALTHCHECK --{flag} cannot be less than 1ms")
            health[key] = ns
    retries = step.flag("retries")
    if retries is not None:
        if not retries.isdigit() or int(retries) < 1:
            raise InvalidArgument("HEALTHCHECK --retries must be at least 1")
        health["Retries"] = int(retries)
    return health


def apply(state: StageState, step: Step) -> str:
    """Apply a config-only step; answer its history text."""
    cmd = step.command
    config = state.config
    if cmd in ("env", "label"):
        env = state.env()  # one environment for the whole instruction, as Docker
        pairs = {
            expand(k, env, state.escape): expand(v or "", env, state.escape) for k, v in step.pairs
        }
        apply_change(config, Change(cmd.upper(), pairs))
        shown = " ".join(f"{k}={v}" for k, v in pairs.items())
        return f"{cmd.upper()} {shown}"
    if cmd in ("cmd", "entrypoint"):
        argv = _command(state, step)
        apply_change(config, Change(cmd.upper(), argv), cmd_set=state.cmd_set)
        state.cmd_set = state.cmd_set or cmd == "cmd"
        return f"{cmd.upper()} {_go_quoted(argv)}"
    if cmd == "expose":
        ports = expose_ports(" ".join(state.words(" ".join(step.args))))
        apply_change(config, Change("EXPOSE", ports))
        return "EXPOSE " + " ".join(f"map[{p}:{{}}]" for p in ports)
    if cmd == "volume":
        paths = (
            [state.word(a) for a in step.args] if step.exec_form else state.words(step.node.rest)
        )
        if not paths or any(not p for p in paths):
            raise InvalidArgument("VOLUME specified can not be an empty string")
        apply_change(config, Change("VOLUME", paths))
        return f"VOLUME {_go_quoted(paths)}"
    if cmd in ("user", "stopsignal"):
        value = state.word(step.args[0])
        apply_change(config, Change(cmd.upper(), value))
        return f"{cmd.upper()} {value}"
    if cmd == "workdir":
        value = state.word(step.args[0])
        base = config.get("WorkingDir") or "/"
        config["WorkingDir"] = posixpath.normpath(posixpath.join(base, value))
        return f"WORKDIR {value}"
    if cmd == "shell":
        config["Shell"] = list(step.args)
        return f"SHELL {_go_quoted(list(step.args))}"
    if cmd == "healthcheck":
        config["Healthcheck"] = _healthcheck(state, step)
        return f"HEALTHCHECK &{{{_go_quoted(config['Healthcheck']['Test'])} ...}}"
    if cmd == "onbuild":
        trigger = step.args[0]
        config["OnBuild"] = [*(config.get("OnBuild") or []), trigger]
        return f"ONBUILD {trigger}"
    if cmd == "maintainer":
        state.image["author"] = step.args[0]
        return f"MAINTAINER {step.args[0]}"
    raise InvalidArgument(f"{cmd.upper()} is not a config-only instruction")


def _go_quoted(items: list[str]) -> str:
    """A string slice as Go's ``%q`` prints it: ``["a" "b c"]``."""
    return "[" + " ".join(json.dumps(i) for i in items) + "]"


def nop(text: str) -> str:
    return f"/bin/sh -c #(nop)  {text}"


def fresh(image: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of an image config to build the next step's on."""
    return copy.deepcopy(image)
