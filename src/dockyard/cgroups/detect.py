"""Which cgroup layout a host has, and the manager that fits it.

Hierarchies are discovered by listing the directories under ``root`` rather than by
reading mount points, so a fake hierarchy in a temp dir works exactly like
``/sys/fs/cgroup``: a directory named after its controllers (``memory``,
``cpu,cpuacct``) holding a ``tasks`` file is a v1 hierarchy; one holding
``cgroup.controllers`` is a cgroup2 mount. Symlinks (``cpu -> cpu,cpuacct``) are
followed and deduplicated by real path. When ``/proc/self/mountinfo`` knows the real
path as a cgroup mount, its super options name the controllers instead of the directory
name, which also turns a bare ``systemd`` directory into ``name=systemd``.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

from dockyard import errors

from .hybrid import CgroupHybridManager
from .manager import CgroupManager, Hierarchy, relative_path
from .v1 import CgroupV1Manager
from .v2 import CgroupV2Manager

MOUNTINFO = Path("/proc/self/mountinfo")
DEFAULT_ROOT = Path("/sys/fs/cgroup")

V1_CONTROLLERS = frozenset(
    {
        "blkio",
        "cpu",
        "cpuacct",
        "cpuset",
        "debug",
        "devices",
        "freezer",
        "hugetlb",
        "memory",
        "misc",
        "net_cls",
        "net_prio",
        "perf_event",
        "pids",
        "rdma",
    }
)


class LayoutKind(enum.StrEnum):
    V1 = "v1"
    V2 = "v2"
    HYBRID = "hybrid"


@dataclass(frozen=True)
class Layout:
    """The cgroup file systems found under one root."""

    kind: LayoutKind
    hierarchies: tuple[Hierarchy, ...] = ()
    unified: Path | None = None


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal.
    out, i = [], 0
    while i < len(field):
        code = field[i + 1 : i + 4]
        if field[i] == "\\" and len(code) == 3 and code.isdigit():
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounted_controllers(mountinfo: Path = MOUNTINFO) -> dict[str, frozenset[str]]:
    """Mount point -> controllers of every cgroup v1 mount in ``mountinfo``."""
    try:
        text = mountinfo.read_text()
    except OSError:
        return {}
    out: dict[str, frozenset[str]] = {}
    for line in text.splitlines():
        head, sep, tail = line.partition(" - ")
        fields, rest = head.split(), tail.split()
        if not sep or len(fields) < 5 or len(rest) < 3 or rest[0] != "cgroup":
            continue
        options = rest[2].split(",")
        controllers = {o for o in options if o in V1_CONTROLLERS or o.startswith("name=")}
        out[_unescape(fields[4])] = frozenset(controllers)
    return out


def _controllers_from_name(name: str) -> frozenset[str]:
    parts = [p for p in name.split(",") if p]
    return frozenset(p if p in V1_CONTROLLERS or "=" in p else f"name={p}" for p in parts)


def discover(root: Path = DEFAULT_ROOT, mountinfo: Path = MOUNTINFO) -> Layout:
    """Find the cgroup layout under ``root``; NotSupported if there is none."""
    if (root / "cgroup.controllers").is_file():
        return Layout(LayoutKind.V2, unified=root)
    try:
        entries = sorted(os.listdir(root))
    except OSError as e:
        raise errors.NotSupported(f"no cgroup file system at {root}: {e.strerror}") from e
    mounts = mounted_controllers(mountinfo)
    seen: set[str] = set()
    hierarchies: list[Hierarchy] = []
    unified: Path | None = None
    for entry in entries:
        real = os.path.realpath(root / entry)
        if real in seen or not os.path.isdir(real):
            continue
        seen.add(real)
        if os.path.isfile(os.path.join(real, "tasks")):
            controllers = mounts.get(real) or _controllers_from_name(os.path.basename(real))
            if controllers:
                hierarchies.append(Hierarchy(Path(real), controllers))
        elif os.path.isfile(os.path.join(real, "cgroup.controllers")) and unified is None:
            unified = Path(real)
    if not hierarchies:
        if unified is not None:
            # A lone cgroup2 mount one level down (e.g. root/unified) is still v2.
            return Layout(LayoutKind.V2, unified=unified)
        raise errors.NotSupported(
            f"no cgroup hierarchy found under {root}: mount cgroup2 or the v1 controllers"
        )
    kind = LayoutKind.HYBRID if unified is not None else LayoutKind.V1
    return Layout(kind, tuple(hierarchies), unified)


def manager_for(cgroups_path: str, root: Path = DEFAULT_ROOT) -> CgroupManager:
    """The manager for OCI ``linux.cgroupsPath`` on the layout found under ``root``.

    ``cgroups_path`` is absolute (``/dockyard/<id>``) or relative; both are placed under
    each hierarchy root (see ``manager.relative_path``). The systemd
    ``slice:prefix:name`` form and ``..`` components raise InvalidArgument.
    """
    relative_path(cgroups_path)  # reject a bad path before touching the file system
    layout = discover(root)
    if layout.kind is LayoutKind.V2:
        assert layout.unified is not None
        return CgroupV2Manager(layout.unified, cgroups_path)
    if layout.kind is LayoutKind.HYBRID:
        assert layout.unified is not None
        return CgroupHybridManager(layout.hierarchies, layout.unified, cgroups_path)
    return CgroupV1Manager(layout.hierarchies, cgroups_path)
