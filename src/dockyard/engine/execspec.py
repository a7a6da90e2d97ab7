"""The OCI process of an exec: the container's process (config.json) with the exec's
overrides, as dockerd builds it.

``exec_process`` is pure apart from reading the container's rootfs for user names (the
same ``resolve_user`` as the container's own spec). The environment follows dockerd:
the container's, without a ``TERM`` it did not ask for unless the exec has a TTY, then the
exec's ``Env`` over it (a later value of a name replaces the earlier one, a bare name
unsets it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.images.users import resolve_user

from .specprocess import capabilities


def exec_process(
    base: Mapping[str, Any],
    container_config: Mapping[str, Any],
    exec_config: Mapping[str, Any],
    rootfs: Path,
) -> dict[str, Any]:
    """``base``: config.json's ``process``; ``exec_config``: the exec's create body."""
    args = command_of(exec_config)
    tty = bool(exec_config.get("Tty"))
    process = {k: v for k, v in base.items() if k not in ("consoleSize", "apparmorProfile")}
    process["args"] = args
    process["terminal"] = tty
    process["env"] = exec_env(base.get("env") or [], container_config, exec_config)
    if exec_config.get("WorkingDir"):
        process["cwd"] = str(exec_config["WorkingDir"])
    user = str(exec_config.get("User") or "")
    if user:
        uid, gid, extra = resolve_user(rootfs, user)
        process["user"] = {"uid": uid, "gid": gid, **({"additionalGids": extra} if extra else {})}
    uid = int((process.get("user") or {}).get("uid", 0))
    caps = dict(process.get("capabilities") or {})
    if exec_config.get("Privileged"):  # every capability the daemon holds, as a container's
        bounding = capabilities({"Privileged": True})
    else:
        bounding = list(caps.get("bounding") or [])
    process["capabilities"] = {
        "bounding": bounding,
        "effective": bounding if uid == 0 else [],
        "permitted": bounding if uid == 0 else [],
    }
    return process


def command_of(exec_config: Mapping[str, Any]) -> list[str]:
    cmd = exec_config.get("Cmd")
    if isinstance(cmd, str):
        cmd = [cmd] if cmd else []
    if not cmd or not isinstance(cmd, list) or not all(isinstance(a, str) for a in cmd):
        raise InvalidArgument("No exec command specified")
    return list(cmd)


def exec_env(
    base_env: Sequence[str], container_config: Mapping[str, Any], exec_config: Mapping[str, Any]
) -> list[str]:
    wanted = {str(e).partition("=")[0] for e in container_config.get("Env") or []}
    env: dict[str, str] = {}
    for e in base_env:
        name = e.partition("=")[0]
        if name == "TERM" and name not in wanted:
            continue  # the container's TTY put it there; the exec's TTY decides below
        env[name] = e
    if exec_config.get("Tty") and "TERM" not in env:
        env["TERM"] = "TERM=xterm"
    for e in exec_config.get("Env") or []:
        text = str(e)
        if "=" in text:
            env[text.partition("=")[0]] = text
        else:  # as dockerd: a bare name unsets the variable
            env.pop(text, None)
    return list(env.values())


def describe_command(exec_config: Mapping[str, Any]) -> str:
    """The command as Docker's events name it: ``exec_create: sh -c "exit 3"`` shows
    ``sh -c exit 3``."""
    return " ".join(command_of(exec_config))
