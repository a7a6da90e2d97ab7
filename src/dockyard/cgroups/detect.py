"""Which cgroup layout a host has, and the manager that fits it.

``/proc/self/mountinfo`` is read once: a cgroup2 mount at ``root`` is a v2 host; cgroup
v1 mounts directly below ``root`` are its hierarchies, their super options naming the
controllers (``name=systemd`` for a named one); a cgroup2 mount beside them makes the
host hybrid. Nothing under ``root`` is listed or stat'ed on that path.

When no cgroup file system is mounted at or below ``root`` (a fake hierarchy in a temp
dir), the directories under ``root`` are examined instead, so such a fake works exactly
like ``/sys/fs/cgroup``: a directory named after its controllers (``memory``,
``cpu,cpuacct``) holding a ``tasks`` file is a v1 hierarchy; one holding
``cgroup.controllers`` is a cgroup2 mount. Symlinks (``cpu -> cpu,cpuacct``) are
followed and deduplicated by real path. When mountinfo knows the real path as a cgroup
mount, its super options name the controllers instead of the directory name, which also
turns a bare ``systemd`` directory into ``name=systemd``.
"""

from __future__ import annotations

import os

from dockyard import errors
from dockyard._internal.value import Value

from . import files
from .manager import Hierarchy, relative_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .manager import CgroupManager

MOUNTINFO = "/proc/self/mountinfo"
DEFAULT_ROOT = "/sys/fs/cgroup"

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


class LayoutKind:
    """The kinds of layout: plain strings, as ``enum`` is too costly on the start path."""

    V1 = "v1"
    V2 = "v2"
    HYBRID = "hybrid"


class Layout(Value):
    """The cgroup file systems found under one root (a value: never assign to a field)."""

    __slots__ = ("hierarchies", "kind", "unified")
    _fields = ("kind", "hierarchies", "unified")

    def __init__(
        self, kind: str, hierarchies: tuple[Hierarchy, ...] = (), unified: str | None = None
    ) -> None:
        self.kind = kind
        self.hierarchies = hierarchies
        self.unified = unified


class _Mount:
    __slots__ = ("fstype", "mount_id", "options", "parent")

    def __init__(self, mount_id: str, parent: str, fstype: str, options: str) -> None:
        self.mount_id = mount_id
        self.parent = parent
        self.fstype = fstype
        self.options = options


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal.
    if "\\" not in field:
        return field
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


def _mounts(mountinfo: str) -> dict[str, _Mount]:
    """Mount point -> the mount on top there (a later line hides an earlier one)."""
    try:
        text = files.read(mountinfo)
    except errors.SystemFault:
        text = None
    out: dict[str, _Mount] = {}
    for line in (text or "").splitlines():
        head, sep, tail = line.partition(" - ")
        fields, rest = head.split(), tail.split()
        if not sep or len(fields) < 5 or len(rest) < 3:
            continue
        out[_unescape(fields[4])] = _Mount(fields[0], fields[1], rest[0], rest[2])
    return out


def _v1_controllers(options: str) -> frozenset[str]:
    return frozenset(o for o in options.split(",") if o in V1_CONTROLLERS or o.startswith("name="))


def mounted_controllers(
    mountinfo: str | os.PathLike[str] = MOUNTINFO,
) -> dict[str, frozenset[str]]:
    """Mount point -> controllers of every cgroup v1 mount in ``mountinfo``."""
    return {
        point: _v1_controllers(m.options)
        for point, m in _mounts(os.fspath(mountinfo)).items()
        if m.fstype == "cgroup"
    }


def _from_mounts(root: str, mounts: dict[str, _Mount]) -> Layout | None:
    """The layout from the cgroup mounts at and right below ``root``; None if there are none."""
    top = mounts.get(root)
    if top is not None and top.fstype == "cgroup2":
        return Layout(LayoutKind.V2, unified=root)
    hierarchies: list[Hierarchy] = []
    seen: set[frozenset[str]] = set()
    unified: str | None = None
    for point in sorted(mounts):
        m = mounts[point]
        if os.path.dirname(point) != root or (top is not None and m.parent != top.mount_id):
            continue  # not directly below root, or hidden by a later mount at root
        if m.fstype == "cgroup":
            controllers = _v1_controllers(m.options)
            # The same hierarchy mounted twice (cpu and cpu,cpuacct) is one hierarchy.
            if controllers and controllers not in seen:
                seen.add(controllers)
                hierarchies.append(Hierarchy(point, controllers))
        elif m.fstype == "cgroup2" and unified is None:
            unified = point
    if not hierarchies:
        # A lone cgroup2 mount one level down (e.g. root/unified) is still v2.
        return None if unified is None else Layout(LayoutKind.V2, unified=unified)
    kind = LayoutKind.HYBRID if unified is not None else LayoutKind.V1
    return Layout(kind, tuple(hierarchies), unified)


def _controllers_from_name(name: str) -> frozenset[str]:
    parts = [p for p in name.split(",") if p]
    return frozenset(p if p in V1_CONTROLLERS or "=" in p else f"name={p}" for p in parts)


def _from_directories(root: str, mounts: dict[str, _Mount]) -> Layout:
    """The layout from the directories under ``root`` (no cgroup mount there)."""
    if os.path.isfile(os.path.join(root, "cgroup.controllers")):
        return Layout(LayoutKind.V2, unified=root)
    try:
        entries = sorted(os.listdir(root))
    except OSError as e:
        raise errors.NotSupported(f"no cgroup file system at {root}: {e.strerror}") from e
    seen: set[str] = set()
    hierarchies: list[Hierarchy] = []
    unified: str | None = None
    for entry in entries:
        real = os.path.realpath(os.path.join(root, entry))
        if real in seen or not os.path.isdir(real):
            continue
        seen.add(real)
        if os.path.isfile(os.path.join(real, "tasks")):
            m = mounts.get(real)
            controllers = (
                _v1_controllers(m.options) if m is not None and m.fstype == "cgroup" else None
            ) or _controllers_from_name(os.path.basename(real))
            if controllers:
                hierarchies.append(Hierarchy(real, controllers))
        elif os.path.isfile(os.path.join(real, "cgroup.controllers")) and unified is None:
            unified = real
    if not hierarchies:
        if unified is not None:
            # A lone cgroup2 mount one level down (e.g. root/unified) is still v2.
            return Layout(LayoutKind.V2, unified=unified)
        raise errors.NotSupported(
            f"no cgroup hierarchy found under {root}: mount cgroup2 or the v1 controllers"
        )
    kind = LayoutKind.HYBRID if unified is not None else LayoutKind.V1
    return Layout(kind, tuple(hierarchies), unified)


def discover(
    root: str | os.PathLike[str] = DEFAULT_ROOT, mountinfo: str | os.PathLike[str] = MOUNTINFO
) -> Layout:
    """Find the cgroup layout under ``root``; NotSupported if there is none."""
    root = os.path.abspath(os.fspath(root))
    mounts = _mounts(os.fspath(mountinfo))
    return _from_mounts(root, mounts) or _from_directories(root, mounts)


def manager_for(cgroups_path: str, root: str | os.PathLike[str] = DEFAULT_ROOT) -> CgroupManager:
    """The manager for OCI ``linux.cgroupsPath`` on the layout found under ``root``.

    ``cgroups_path`` is absolute (``/dockyard/<id>``) or relative; both are placed under
    each hierarchy root (see ``manager.relative_path``). The systemd
    ``slice:prefix:name`` form and ``..`` components raise InvalidArgument.
    """
    relative_path(cgroups_path)  # reject a bad path before touching the file system
    layout = discover(root)
    # Only the manager this host needs is imported: the runtime pays for it in every process.
    if layout.kind == LayoutKind.V2:
        from .v2 import CgroupV2Manager

        assert layout.unified is not None
        return CgroupV2Manager(layout.unified, cgroups_path)
    if layout.kind == LayoutKind.HYBRID:
        from .hybrid import CgroupHybridManager

        assert layout.unified is not None
        return CgroupHybridManager(layout.hierarchies, layout.unified, cgroups_path)
    from .v1 import CgroupV1Manager

    return CgroupV1Manager(layout.hierarchies, cgroups_path)
