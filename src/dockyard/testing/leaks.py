"""Leak check for the root test tiers: mounts, cgroups and processes left behind.

Only this test process's objects count (``names.SESSION``): another test run on the
same host does not fail this one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .names import SESSION

CGROUP_ROOT = Path("/sys/fs/cgroup")


def mounts(tag: str = SESSION) -> set[str]:
    """Mount points whose path has ``tag`` (this test process's; ``names.PREFIX``: any
    test run's, for ``make clean-test``)."""
    out = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split(" ", 5)[4]
            if tag in point:
                out.add(point)
    return out


def cgroups(tag: str = SESSION) -> set[str]:
    out: set[str] = set()
    if not CGROUP_ROOT.is_dir():
        return out
    for hierarchy in CGROUP_ROOT.iterdir():
        if not hierarchy.is_dir():
            continue
        for dirpath, dirnames, _ in os.walk(hierarchy):
            for d in dirnames:
                if tag in d:
                    out.add(os.path.join(dirpath, d))
            if dirpath.count("/") > 8:
                dirnames.clear()
    return out


def _descendants() -> set[int]:
    """Live (not zombie) processes descended from this one."""
    parent: dict[int, int] = {}
    state: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        parent[int(entry)] = int(fields[1])
        state[int(entry)] = fields[0]
    me = os.getpid()
    out = set()
    for pid in parent:
        p = pid
        while p in parent and p != me and p > 1:
            p = parent[p]
        if p == me and pid != me and state[pid] != "Z":
            out.add(pid)
    return out


@dataclass(frozen=True)
class Snapshot:
    mounts: set[str]
    cgroups: set[str]
    processes: set[int]

    @classmethod
    def take(cls) -> Snapshot:
        return cls(mounts(), cgroups(), _descendants())

    def leaked_since(self, before: Snapshot) -> list[str]:
        out = [f"mount {m}" for m in sorted(self.mounts - before.mounts)]
        out += [f"cgroup {c}" for c in sorted(self.cgroups - before.cgroups)]
        out += [f"process {p}" for p in sorted(self.processes - before.processes)]
        return out
