"""The ``process`` part of a container's OCI spec: capabilities, security options, init,
rlimits, supplementary groups and the OOM score, from the create body as dockerd reads it.

Capabilities start from Docker's default set; ``CapAdd``/``CapDrop`` (names with or
without ``CAP_``, ``ALL``) change it, ``Privileged`` gives every capability the daemon
itself holds (a capability missing from the daemon's bounding set cannot be granted by
any runtime). ``Init`` runs the daemon's ``docker-init`` (tini) as pid 1: it is
bind-mounted read-only at ``/sbin/docker-init`` and the command follows ``--``.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument, NotFound, NotSupported
from dockyard.kernel.capnames import CAP_NAMES

DEFAULT_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)  # fmt: skip
ALL_CAPS = tuple(CAP_NAMES)
INIT_IN_CONTAINER = "/sbin/docker-init"  # where dockerd puts its init
# docker-init first (what dockerd ships), then a static tini: the container has no libc
# of the host, so a dynamically linked tini only runs in images that happen to fit it
INIT_CANDIDATES = ("docker-init", "tini-static", "tini")
RLIMIT_NAMES = (
    "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
    "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
)  # fmt: skip


@dataclass(frozen=True)
class SecurityOptions:
    """What ``SecurityOpt`` asks for that this engine acts on."""

    no_new_privileges: bool = False
    unconfined_paths: bool = False  # systempaths=unconfined: no masked/read-only paths


def _norm(cap: str) -> str:
    cap = cap.strip().upper()
    return cap if cap.startswith("CAP_") or cap == "ALL" else "CAP_" + cap


@functools.cache
def daemon_caps() -> frozenset[str]:
    """The capabilities in the daemon's own bounding set (all known ones if unreadable)."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return frozenset(ALL_CAPS)
    for line in text.splitlines():
        if line.startswith("CapBnd:"):
            bits = int(line.split()[1], 16)
            return frozenset(n for i, n in enumerate(ALL_CAPS) if bits >> i & 1)
    return frozenset(ALL_CAPS)


def capabilities(host_config: Mapping[str, Any]) -> list[str]:
    """The container's capability set (Docker's rules, see the module doc)."""
    held = daemon_caps()
    if host_config.get("Privileged"):
        return [c for c in ALL_CAPS if c in held]
    adds = [_norm(c) for c in host_config.get("CapAdd") or []]
    drops = [_norm(c) for c in host_config.get("CapDrop") or []]
    for c in [*adds, *drops]:
        if c != "ALL" and c not in ALL_CAPS:
            raise InvalidArgument(f'unknown capability: "{c}"')
    # dockerd's TweakCapabilities: ALL in adds is every capability but the dropped ones;
    # ALL in drops leaves only the added ones; else the defaults minus drops plus adds
    # (an add wins over a drop of the same capability)
    if "ALL" in adds:
        caps = [c for c in ALL_CAPS if c not in drops and c in held]
    elif "ALL" in drops:
        caps = [c for c in ALL_CAPS if c in adds]
    else:
        caps = [c for c in ALL_CAPS if (c in DEFAULT_CAPS and c not in drops) or c in adds]
    return caps


def security_options(opts: list[str] | None) -> SecurityOptions:
    """Parse ``SecurityOpt`` as dockerd does; options of a module this host lacks
    (SELinux labels, AppArmor or seccomp profiles) are refused unless they turn it off."""
    nnp = False
    unconfined = False
    for opt in opts or []:
        if opt == "no-new-privileges":
            nnp = True
            continue
        if opt == "systempaths=unconfined":
            unconfined = True
            continue
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")  # the old label:disable spelling
        if not sep:
            raise InvalidArgument(f'Invalid --security-opt 1: "{opt}"')
        if key == "no-new-privileges":
            if value.lower() not in ("true", "false", "1", "0"):
                raise InvalidArgument(f'invalid --security-opt 2: "{opt}"')
            nnp = value.lower() in ("true", "1")
        elif key in ("seccomp", "apparmor"):
            if value != "unconfined":
                raise NotSupported(
                    f"security option {opt!r}: this engine has no {key} support; "
                    f"use {key}=unconfined or leave the option out"
                )
        elif key == "label":
            pass  # no SELinux here: dockerd ignores labels when SELinux is off too
        elif key == "writable-cgroups":
            if value.lower() not in ("true", "false"):
                raise InvalidArgument(f'invalid --security-opt 2: "{opt}"')
        else:
            raise InvalidArgument(f'invalid --security-opt 2: "{opt}"')
    return SecurityOptions(nnp, unconfined)


def rlimits(host_config: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for u in host_config.get("Ulimits") or []:
        name = str(u.get("Name", "")).lower()
        if name not in RLIMIT_NAMES:
            raise InvalidArgument(f"invalid ulimit type: {name}")
        soft, hard = int(u.get("Soft", 0)), int(u.get("Hard", 0))
        if soft > hard:
            raise InvalidArgument(
                f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )
        out.append({"type": f"RLIMIT_{name.upper()}", "soft": soft, "hard": hard})
    return out


def group_add(rootfs: Path, groups: list[str] | None) -> list[int]:
    """``GroupAdd`` entries (names from the image's /etc/group, or numbers) as gids."""
    if not groups:
        return []
    try:
        text = (rootfs / "etc" / "group").read_text(errors="replace")
    except OSError:
        text = ""
    entries = [line.split(":") for line in text.splitlines() if line and line[0] != "#"]
    out = []
    for group in groups:
        match = next((e for e in entries if len(e) > 2 and group in (e[0], e[2])), None)
        if match is not None and match[2].isdigit():
            out.append(int(match[2]))
        elif group.isdigit():
            out.append(int(group))
        else:
            raise NotFound(f"Unable to find group {group}: no matching entries in group file")
    return out


def find_init(configured: str = "") -> str:
    """The host's init binary: the daemon's ``init-path`` or the first candidate on PATH.

    Not NotFound: a 404 from create makes the docker CLI pull the image."""
    if configured:
        if not os.path.isfile(configured):
            raise InvalidArgument(
                f"init binary {configured} does not exist: fix the init-path option"
            )
        return configured
    for name in INIT_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise InvalidArgument(
        "no init binary (docker-init or tini) on the daemon's PATH: install the tini "
        "package or set the daemon's init-path"
    )


def init_mount(init_path: str) -> dict[str, Any]:
    # the target of a symlink (docker-init -> tini-static) is what the container runs
    source = os.path.realpath(init_path)
    return {"destination": INIT_IN_CONTAINER, "type": "bind", "source": source,
            "options": ["bind", "ro", "nosuid", "nodev"]}  # fmt: skip


def process_spec(
    config: Mapping[str, Any],
    host_config: Mapping[str, Any],
    *,
    args: list[str],
    env: list[str],
    user: tuple[int, int, list[int]],
    rootfs: Path,
) -> dict[str, Any]:
    """The OCI ``process`` object of a container (``args`` already carry the init)."""
    uid, gid, extra = user
    # as dockerd: the primary group is among the supplementary ones (``id`` shows it)
    extra = sorted({gid, *extra, *group_add(rootfs, host_config.get("GroupAdd"))})
    caps = capabilities(host_config)
    security = security_options(host_config.get("SecurityOpt"))
    user_doc: dict[str, Any] = {"uid": uid, "gid": gid}
    if extra:
        user_doc["additionalGids"] = extra
    process: dict[str, Any] = {
        "terminal": bool(config.get("Tty")),
        "user": user_doc,
        "args": args,
        "env": env,
        "cwd": config.get("WorkingDir") or "/",
        "capabilities": {
            "bounding": caps,
            "effective": caps if uid == 0 else [],
            "permitted": caps if uid == 0 else [],
        },
        "noNewPrivileges": security.no_new_privileges,
        "oomScoreAdj": int(host_config.get("OomScoreAdj") or 0),
    }
    limits = rlimits(host_config)
    if limits:
        process["rlimits"] = limits
    return process


def check_host_config(hc: Mapping[str, Any], init_path: str = "") -> None:
    """Refuse at create what would fail at start (dockerd checks these at create too)."""
    capabilities(hc)
    security_options(hc.get("SecurityOpt"))
    rlimits(hc)
    score = int(hc.get("OomScoreAdj") or 0)
    if not -1000 <= score <= 1000:
        raise InvalidArgument(f"Invalid value {score}, range for oom score adj is [-1000, 1000]")
    if hc.get("Init"):
        find_init(init_path)
