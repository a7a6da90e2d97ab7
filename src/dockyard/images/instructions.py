"""``--change`` instructions (``docker import``/``commit``): Dockerfile syntax, parsed.

``parse_change("CMD [\"sh\"]")`` answers a ``Change``; ``apply_changes(config, texts)``
returns the image's runtime config (``Cmd``, ``Env``, ...) with them applied. Supported:
CMD, ENTRYPOINT (JSON or shell form), ENV, LABEL (``k=v`` pairs, or the legacy ``k v``
for ENV), WORKDIR (relative to the previous one), USER, EXPOSE (``80``, ``53/udp``,
``8000-8002``), VOLUME (JSON array or words), STOPSIGNAL. Errors name the instruction
and say what form is expected.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidArgument

SUPPORTED = (
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
)
SHELL = ["/bin/sh", "-c"]
_PORT = re.compile(r"^(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?$", re.IGNORECASE)
_KEY = re.compile(r"^[^=\s]+$")


@dataclass(frozen=True)
class Change:
    """One parsed instruction: its upper-case name and its value in image-config terms."""

    instruction: str
    value: Any

    def __str__(self) -> str:
        return f"{self.instruction} {json.dumps(self.value)}"


def _json_list(text: str) -> list[str] | None:
    """A JSON array of strings, or None when ``text`` is not in JSON form."""
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None  # Docker falls back to the shell form too
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return value


def _command(name: str, text: str) -> list[str]:
    as_json = _json_list(text)
    if as_json is not None:
        return as_json
    if not text:
        raise InvalidArgument(f'{name} needs a command: {name} ["executable", "arg"] or {name} cmd')
    return [*SHELL, text]


def _words(name: str, text: str) -> list[str]:
    try:
        return shlex.split(text, posix=True)
    except ValueError as e:
        raise InvalidArgument(f"{name}: cannot parse {text!r}: {e}") from e


def _pairs(name: str, text: str, *, legacy: bool) -> dict[str, str]:
    words = _words(name, text)
    if not words:
        raise InvalidArgument(f"{name} needs at least one key=value pair")
    if legacy and "=" not in words[0]:
        # ENV key value with spaces (the old form): everything after the key is the value
        key, _, value = text.strip().partition(" ")
        if not value.strip():
            raise InvalidArgument(f"{name} {key}: missing value; use {name} {key}=value")
        return {key: value.strip()}
    pairs: dict[str, str] = {}
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key or not _KEY.match(key):
            raise InvalidArgument(f"{name}: {word!r} is not key=value")
        pairs[key] = value
    return pairs


def expose_ports(text: str) -> list[str]:
    """EXPOSE words (``80``, ``53/udp``, ``8000-8002``) as ``<port>/<proto>`` keys."""
    ports: list[str] = []
    for word in _words("EXPOSE", text):
        match = _PORT.match(word)
        if match is None:
            raise InvalidArgument(
                f"EXPOSE: invalid port {word!r}: use <port>[/tcp|/udp|/sctp] or a range a-b"
            )
        low = int(match.group(1))
        high = int(match.group(2) or low)
        proto = (match.group(3) or "tcp").lower()
        if not 0 < low <= high <= 65535:
            raise InvalidArgument(f"EXPOSE: invalid port range {word!r}")
        ports.extend(f"{p}/{proto}" for p in range(low, high + 1))
    if not ports:
        raise InvalidArgument("EXPOSE needs at least one port")
    return ports


def parse_change(text: str) -> Change:
    """Parse one instruction in Dockerfile syntax."""
    stripped = text.strip()
    name, _, rest = stripped.partition(" ")
    if "\t" in name:
        name, _, more = name.partition("\t")
        rest = f"{more} {rest}"
    instruction = name.upper()
    rest = rest.strip()
    if instruction not in SUPPORTED:
        raise InvalidArgument(
            f"{name or '(empty)'} is not a valid change command: use one of {', '.join(SUPPORTED)}"
        )
    if instruction in ("CMD", "ENTRYPOINT"):
        return Change(instruction, _command(instruction, rest))
    if instruction in ("ENV", "LABEL"):
        return Change(instruction, _pairs(instruction, rest, legacy=instruction == "ENV"))
    if instruction == "EXPOSE":
        return Change(instruction, expose_ports(rest))
    if instruction == "VOLUME":
        volumes = _json_list(rest)
        if volumes is None:
            volumes = _words(instruction, rest)
        if not volumes or any(not v for v in volumes):
            raise InvalidArgument('VOLUME needs a path: VOLUME /data or VOLUME ["/data"]')
        return Change(instruction, volumes)
    if not rest:
        raise InvalidArgument(f"{instruction} needs a value")
    if instruction in ("USER", "WORKDIR", "STOPSIGNAL") and len(_words(instruction, rest)) != 1:
        raise InvalidArgument(f"{instruction} takes exactly one argument, got {rest!r}")
    return Change(instruction, _words(instruction, rest)[0])


def _set_env(env: list[str], key: str, value: str) -> list[str]:
    kept = [e for e in env if e.partition("=")[0] != key]
    return [*kept, f"{key}={value}"]


def apply_change(config: dict[str, Any], change: Change, *, cmd_set: bool = False) -> None:
    """Apply one parsed instruction to a runtime config dict, in place.

    As in a Dockerfile, ENTRYPOINT drops an inherited CMD unless ``cmd_set`` (a CMD came
    earlier in the same list).
    """
    kind, value = change.instruction, change.value
    if kind == "CMD":
        config["Cmd"] = value
    elif kind == "ENTRYPOINT":
        config["Entrypoint"] = value
        if not cmd_set:
            config.pop("Cmd", None)
    elif kind == "ENV":
        env = list(config.get("Env") or [])
        for key, val in value.items():
            env = _set_env(env, key, val)
        config["Env"] = env
    elif kind == "LABEL":
        config["Labels"] = {**(config.get("Labels") or {}), **value}
    elif kind == "EXPOSE":
        config["ExposedPorts"] = {**(config.get("ExposedPorts") or {}), **{p: {} for p in value}}
    elif kind == "VOLUME":
        config["Volumes"] = {**(config.get("Volumes") or {}), **{v: {} for v in value}}
    elif kind == "WORKDIR":
        base = config.get("WorkingDir") or "/"
        config["WorkingDir"] = posixpath.normpath(posixpath.join(base, value))
    elif kind == "USER":
        config["User"] = value
    elif kind == "STOPSIGNAL":
        config["StopSignal"] = value


def apply_changes(config: Mapping[str, Any], changes: Iterable[str | Change]) -> dict[str, Any]:
    """A copy of ``config`` with every change applied in order (all parsed first)."""
    parsed = [c if isinstance(c, Change) else parse_change(c) for c in changes]
    out = json.loads(json.dumps(dict(config)))
    cmd_set = False
    for change in parsed:
        apply_change(out, change, cmd_set=cmd_set)
        cmd_set = cmd_set or change.instruction == "CMD"
    return dict(out)
