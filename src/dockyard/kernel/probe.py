"""Host feature probe: what this machine can do, asked of the kernel, not assumed.

``probe()`` answers a dict ``feature -> reason or None`` (None = present). The test
marker ``requires(...)`` and ``dockyard-runtime features`` read it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

NAMESPACE_FILES = ("pid", "net", "mnt", "ipc", "uts", "user", "cgroup")


def _filesystems() -> set[str]:
    try:
        text = Path("/proc/filesystems").read_text()
    except OSError:
        return set()
    return {line.split()[-1] for line in text.splitlines() if line.strip()}


def cgroup_layout(root: Path = Path("/sys/fs/cgroup")) -> str:
    """'v2' (unified), 'hybrid' (v1 controllers plus a cgroup2 mount), 'v1', or 'none'."""
    if (root / "cgroup.controllers").exists():
        return "v2"
    if not root.is_dir():
        return "none"
    has_v1 = any((root / c / "tasks").exists() for c in ("memory", "cpu", "pids", "freezer"))
    if not has_v1:
        return "none"
    return "hybrid" if (root / "unified" / "cgroup.controllers").exists() else "v1"


def probe() -> dict[str, str | None]:
    """Every feature Dockyard knows about, mapped to None if present or why it is not."""
    found: dict[str, str | None] = {}
    found["root"] = None if os.geteuid() == 0 else "not running as root"
    for ns in NAMESPACE_FILES:
        p = f"/proc/self/ns/{ns}"
        found[f"ns-{ns}"] = None if os.path.exists(p) else f"{p} is missing"
    fs = _filesystems()
    for name in ("overlay", "btrfs", "tmpfs", "proc", "sysfs", "devpts", "mqueue"):
        found[name] = None if name in fs else f"{name} is not in /proc/filesystems"
    if "btrfs" in fs and not shutil.which("mkfs.btrfs"):
        found["btrfs"] = "mkfs.btrfs not found (apt install btrfs-progs)"
    layout = cgroup_layout()
    found["cgroups"] = None if layout != "none" else "no cgroup file system at /sys/fs/cgroup"
    for variant in ("v1", "v2", "hybrid"):
        found[f"cgroup-{variant}"] = None if layout == variant else f"cgroup layout is {layout}"
    for tool in ("runc", "crun", "busybox", "skopeo", "nft", "docker-compose"):
        found[tool] = None if shutil.which(tool) else f"{tool} not found on PATH"
    return found


def missing(features: tuple[str, ...]) -> list[str]:
    """``feature: reason`` for each requested feature the host lacks (unknown ones too)."""
    have = probe()
    out = []
    for f in features:
        if f not in have:
            out.append(f"{f}: unknown feature")
        elif have[f] is not None:
            out.append(f"{f}: {have[f]}")
    return out
