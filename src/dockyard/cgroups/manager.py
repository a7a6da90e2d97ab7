"""The ``CgroupManager`` role, its value objects, and the cgroup path rules.

A manager is stateless apart from where its cgroup lives: the runtime builds a fresh one
in every process (``create``, ``start``, ``kill``, ``delete`` run in different
processes), so everything a method needs is read back from the file system.
"""

from __future__ import annotations

from dockyard import errors
from dockyard._internal.value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    from .resources import Resources

# Reported as ``Stats.memory_limit`` when no limit applies. cgroup v1 shows "no limit" as
# a page-rounded LONG_MAX, v2 as "max"; anything at or above 2**62 is taken as unlimited.
UNLIMITED = -1
_V1_UNLIMITED_FLOOR = 2**62

# How long freeze/thaw and destroy wait for the kernel before giving up (seconds).
DEFAULT_TIMEOUT = 5.0

# signal.SIGKILL, without importing signal (and enum) on the container start path.
SIGKILL = 9

# Stats and Hierarchy are Values rather than frozen dataclasses (see _internal/value.py).


class Stats(Value):
    """A point-in-time reading of a cgroup; ``memory_limit`` is -1 when unlimited."""

    _fields = (
        "memory_usage", "memory_peak", "memory_limit", "cpu_usage_ns", "pids_current",
        "oom_kills",
    )  # fmt: skip
    __slots__ = (
        "cpu_usage_ns",
        "memory_limit",
        "memory_peak",
        "memory_usage",
        "oom_kills",
        "pids_current",
    )

    def __init__(
        self,
        memory_usage: int,
        memory_peak: int,
        memory_limit: int,
        cpu_usage_ns: int,
        pids_current: int,
        oom_kills: int,
    ) -> None:
        self.memory_usage = memory_usage
        self.memory_peak = memory_peak
        self.memory_limit = memory_limit
        self.cpu_usage_ns = cpu_usage_ns
        self.pids_current = pids_current
        self.oom_kills = oom_kills


class Hierarchy(Value):
    """One mounted cgroup v1 hierarchy: its root directory and the controllers it holds.

    Named hierarchies (``name=systemd``) carry their name as a controller, as in
    ``/proc/self/mountinfo``.
    """

    __slots__ = ("controllers", "root")
    _fields = ("root", "controllers")

    def __init__(self, root: str, controllers: frozenset[str]) -> None:
        self.root = root
        self.controllers = controllers


if TYPE_CHECKING:

    class CgroupManager(Protocol):
        """One container's cgroup in every hierarchy of the host.

        Defined for type checkers only: ``typing`` is too costly to import on the
        container start path, and nothing checks ``isinstance`` against the role.
        """

        def create(self) -> None:
            """Make the cgroup directories (idempotent)."""
            ...

        def apply(self, pid: int) -> None:
            """Move ``pid`` into the cgroup in every hierarchy."""
            ...

        def join_self(self) -> None:
            """Move the calling single-threaded process into the cgroup of every v1
            hierarchy, without the kernel's global migration lock (see v1.join_self)."""
            ...

        def clone_dir(self) -> str | None:
            """The cgroup2 directory a child can be forked into with CLONE_INTO_CGROUP
            (None on a v1-only host): the part ``join_self`` cannot do."""
            ...

        def set(self, resources: Resources) -> None:
            """Write the limits; InvalidArgument/NotSupported/SystemFault name file and value."""
            ...

        def freeze(self) -> None:
            """Freeze every process, returning once the kernel reports the cgroup frozen."""
            ...

        def thaw(self) -> None:
            """Thaw every process, returning once the kernel reports the cgroup thawed."""
            ...

        def frozen(self) -> bool:
            """True when the cgroup is frozen."""
            ...

        def pids(self) -> list[int]:
            """Every process in the cgroup and its descendants, sorted."""
            ...

        def stats(self) -> Stats:
            """Current usage counters."""
            ...

        def oom_killed(self) -> bool:
            """True once the OOM killer has killed a process of this cgroup."""
            ...

        def kill_all(self, sig: int) -> None:
            """Send ``sig`` to every process in the cgroup (does not wait for them to exit)."""
            ...

        def destroy(self) -> None:
            """Remove the cgroup everywhere, waiting briefly for exiting tasks; idempotent."""
            ...

        def remove_if_empty(self) -> bool:
            """One rmdir per hierarchy, no waiting: True if the cgroup is gone everywhere,
            False if some directory is busy (processes or child cgroups left)."""
            ...

        def paths(self) -> dict[str, str]:
            """Controller name -> cgroup directory (``""`` names the cgroup2 directory)."""
            ...

        def exists(self) -> bool:
            """True while the cgroup directory exists in any hierarchy."""
            ...


def default_path(container_id: str) -> str:
    """The cgroupsPath Dockyard uses when the bundle gives none: ``/dockyard/<id>``."""
    if not container_id or "/" in container_id or container_id in (".", ".."):
        raise errors.InvalidArgument(f"invalid container id for a cgroup name: {container_id!r}")
    return f"/dockyard/{container_id}"


def relative_path(cgroups_path: str) -> str:
    """Validate an OCI ``linux.cgroupsPath`` and return it relative to a hierarchy root.

    The result is normalised (``//a/./b/`` -> ``a/b``) and never empty.

    Absolute paths are taken relative to each hierarchy root, as runc's cgroupfs driver
    does. Relative paths are *also* placed under the hierarchy root (runc would nest them
    under the caller's own cgroup from /proc/self/cgroup); Dockyard always passes absolute
    paths, so the simpler rule costs nothing and keeps ``root`` injectable for tests.
    """
    if not isinstance(cgroups_path, str) or not cgroups_path.strip("/"):
        raise errors.InvalidArgument(
            f"invalid cgroupsPath {cgroups_path!r}: expected a path like /dockyard/<id>"
        )
    if "\0" in cgroups_path or "\n" in cgroups_path:
        raise errors.InvalidArgument(f"invalid cgroupsPath {cgroups_path!r}: control character")
    if len(cgroups_path.split(":")) == 3:
        raise errors.InvalidArgument(
            f"cgroupsPath {cgroups_path!r} is in the systemd 'slice:prefix:name' form, but "
            "only the cgroupfs driver is supported: use a path like /dockyard/<id>"
        )
    parts = [p for p in cgroups_path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise errors.InvalidArgument(
            f"invalid cgroupsPath {cgroups_path!r}: '..' components are not allowed"
        )
    if not parts:
        raise errors.InvalidArgument(
            f"invalid cgroupsPath {cgroups_path!r}: the root cgroup cannot be a container's"
        )
    return "/".join(parts)


def memory_limit_value(raw: str | None) -> int:
    """Normalise a limit file's text ("max", a huge v1 number, bytes) for ``Stats``."""
    if raw is None:
        return UNLIMITED
    raw = raw.strip()
    if raw == "max" or not raw.isdigit():
        return UNLIMITED
    value = int(raw)
    return UNLIMITED if value >= _V1_UNLIMITED_FLOOR else value
