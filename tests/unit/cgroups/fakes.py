"""Fake cgroup hierarchies in a temp dir, laid out like /sys/fs/cgroup.

mkdir in a temp dir creates no control files, so ``cgroup()`` plays the kernel: it
creates a cgroup's directory with the control files the kernel would show, holding the
kernel's defaults. The managers only ever write files that exist, so a test reads back
exactly what was written, and a file left out models a kernel that lacks the feature.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

UNLIMITED_V1 = "9223372036854771712"

V1_FILES: dict[str, dict[str, str]] = {
    "cpu": {"cpu.shares": "1024", "cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000"},
    "cpuacct": {"cpuacct.usage": "0"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "memory": {
        "memory.limit_in_bytes": UNLIMITED_V1,
        "memory.soft_limit_in_bytes": UNLIMITED_V1,
        "memory.memsw.limit_in_bytes": UNLIMITED_V1,
        "memory.usage_in_bytes": "0",
        "memory.max_usage_in_bytes": "0",
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
    },
    "devices": {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"},
    "freezer": {"freezer.state": "THAWED\n"},
    "pids": {"pids.max": "max", "pids.current": "0"},
    "blkio": {"blkio.weight": "500"},
    "hugetlb": {},
}
V1_ROOT_VALUES = {"cpuset.cpus": "0-3\n", "cpuset.mems": "0\n"}

V2_CONTROLLERS = "cpuset cpu io memory hugetlb pids"
V2_FILES = {
    "cgroup.freeze": "0",
    "cgroup.kill": "",
    "memory.max": "max",
    "memory.low": "0",
    "memory.swap.max": "max",
    "memory.current": "0",
    "memory.peak": "0",
    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
    "cpu.weight": "100",
    "cpu.max": "max 100000",
    "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
    "cpuset.cpus": "",
    "cpuset.mems": "",
    "pids.max": "max",
    "pids.current": "0",
    "io.weight": "default 100",
}


def write_files(directory: Path, contents: Mapping[str, str]) -> None:
    """Create the files that do not exist yet (a cgroup made twice keeps its values)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in contents.items():
        if not (directory / name).exists():
            (directory / name).write_text(text)


class FakeV1:
    """v1 hierarchies under ``root``: one directory per (comma-joined) controller set."""

    def __init__(self, root: Path, hierarchies: Iterable[str] = ()) -> None:
        self.root = root
        self.hierarchies = list(hierarchies) or [
            "cpu,cpuacct",
            "cpuset",
            "memory",
            "devices",
            "freezer",
            "pids",
            "blkio",
            "systemd",
        ]
        for name in self.hierarchies:
            files = {"tasks": "", "cgroup.procs": ""}
            if name == "cpuset":
                files |= V1_ROOT_VALUES
            write_files(root / name, files)
            if "," in name:
                # As systemd does: cpu -> cpu,cpuacct and cpuacct -> cpu,cpuacct.
                for part in name.split(","):
                    (root / part).symlink_to(name)

    def _controllers(self, hierarchy: str) -> list[str]:
        return [c for c in hierarchy.split(",") if c in V1_FILES]

    def cgroup(self, path: str, drop: Iterable[str] = ()) -> None:
        """Make ``path`` (and its parents) in every hierarchy, as the kernel would."""
        dropped = set(drop)
        for name in self.hierarchies:
            current = self.root / name
            for part in path.strip("/").split("/"):
                current = current / part
                files = {"tasks": "", "cgroup.procs": ""}
                for controller in self._controllers(name):
                    files |= V1_FILES[controller]
                write_files(current, {k: v for k, v in files.items() if k not in dropped})

    def dir(self, controller: str, path: str) -> Path:
        for name in self.hierarchies:
            if controller in name.split(","):
                return self.root / name / path.strip("/")
        raise KeyError(controller)

    def read(self, controller: str, path: str, file: str) -> str:
        return (self.dir(controller, path) / file).read_text().strip()

    def put(self, controller: str, path: str, file: str, text: str) -> None:
        (self.dir(controller, path) / file).write_text(text)


class FakeV2:
    """A cgroup2 tree at ``root`` (pure v2, or the ``unified`` mount of a hybrid host)."""

    def __init__(self, root: Path, controllers: str = V2_CONTROLLERS) -> None:
        self.root = root
        self.controllers = controllers
        write_files(
            root,
            {
                "cgroup.controllers": controllers,
                "cgroup.subtree_control": "",
                "cgroup.procs": "",
            },
        )

    def cgroup(self, path: str, drop: Iterable[str] = ()) -> None:
        dropped = set(drop)
        current = self.root
        parts = path.strip("/").split("/")
        for i, part in enumerate(parts):
            current = current / part
            files = {
                "cgroup.controllers": self.controllers,
                "cgroup.subtree_control": "",
                "cgroup.procs": "",
                "cgroup.events": "populated 0\nfrozen 0\n",
            }
            if i == len(parts) - 1:
                files |= V2_FILES
            write_files(current, {k: v for k, v in files.items() if k not in dropped})

    def dir(self, path: str) -> Path:
        return self.root / path.strip("/")

    def read(self, path: str, file: str) -> str:
        return (self.dir(path) / file).read_text().strip()

    def put(self, path: str, file: str, text: str) -> None:
        (self.dir(path) / file).write_text(text)
