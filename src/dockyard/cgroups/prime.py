"""Start the cgroup-migration lock's grace period early, in the background.

Moving a process into a cgroup takes the kernel's global ``cgroup_threadgroup_rwsem``
for writing. Its first writer after a quiet spell waits out an RCU grace period
(about 10 ms on this kind of machine); writers that follow within a grace period of
the last one do not wait. ``prime()`` forks a child that moves itself into the cgroup
it is already in (a no-op move that still takes the lock), so the grace period runs
while the runtime parses its config; the container's own move then costs
microseconds instead of milliseconds.

Only containers with a user or cgroup namespace need it now: the runtime moves their
stage1 by pid. Every other container joins its cgroup without the lock (the v1
``tasks`` file and ``clone3(CLONE_INTO_CGROUP)``, see runtime/init.py), and there a
prime would only hold ``cgroup_mutex`` through the grace period and stall the mkdirs.
"""

from __future__ import annotations

import os

CGROUP_ROOT = "/sys/fs/cgroup"


def _own_procs_file() -> str | None:
    """cgroup.procs of this process's cgroup in some hierarchy (v1 or v2)."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers.startswith("name="):
            continue
        name = controllers.split(",")[0] if controllers else ""
        base = os.path.join(CGROUP_ROOT, name) if name else CGROUP_ROOT
        if not name and not os.path.exists(os.path.join(base, "cgroup.controllers")):
            base = os.path.join(CGROUP_ROOT, "unified")
        candidate = os.path.join(base, path.lstrip("/"), "cgroup.procs")
        if os.path.exists(candidate):
            return candidate
    return None


def prime() -> int:
    """Fork the child that takes the lock; answer its pid (0 if it could not)."""
    procs = _own_procs_file()
    if procs is None:
        return 0
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(procs, os.O_WRONLY)
            os.write(fd, b"0")  # "0" means the writing process itself
        except OSError:
            pass
        os._exit(0)
    return pid
