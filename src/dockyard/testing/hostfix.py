"""Host quirks that the peer runtimes need fixed before they run (tests and benchmarks).

On a hybrid cgroup host whose cgroup2 mount (``/sys/fs/cgroup/unified``) still holds a
controller (here: ``hugetlb``), crun refuses to run at all ("cgroups in hybrid mode not
supported, drop all controllers from cgroupv2"). The fix, as a classic systemd hybrid host
has it: give each such controller its own v1 hierarchy. Same logic as
``/work/shared/peers/setup.sh`` step 1b(a).
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _fstypes() -> dict[str, str]:
    """Mount point -> file system type of the last mount on it (the visible one)."""
    out: dict[str, str] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            out[fields[4]] = fields[sep + 1]
    return out


def move_cgroup2_controllers_to_v1(root: Path = CGROUP_ROOT) -> list[str]:
    """Mount each controller of the hybrid cgroup2 mount on its own v1 hierarchy.

    Idempotent: a controller bound to a v1 hierarchy leaves ``cgroup.controllers`` of the
    cgroup2 mount, so a second call finds nothing to do. Done only on a hybrid host (v1
    controllers on a tmpfs) and only when no v2 cgroup has a controller enabled. Answers the
    controllers it moved.
    """
    unified = root / "unified"
    types = _fstypes()
    if types.get(str(root)) != "tmpfs" or types.get(str(unified)) != "cgroup2":
        return []
    try:
        controllers = (unified / "cgroup.controllers").read_text().split()
        enabled = (unified / "cgroup.subtree_control").read_text().split()
    except OSError:
        return []
    if not controllers or enabled:
        return []
    moved = []
    for c in controllers:
        target = root / c
        if types.get(str(target)) == "cgroup":
            continue
        log.debug("mount -t cgroup -o %s cgroup %s", c, target)
        target.mkdir(exist_ok=True)
        subprocess.run(
            ["mount", "-t", "cgroup", "-o", c, "cgroup", str(target)],
            check=True,
            capture_output=True,
        )
        moved.append(c)
    return moved
