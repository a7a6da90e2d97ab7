"""Namespaces: unshare, setns and the names the OCI spec uses for them."""

from __future__ import annotations

import ctypes
import os

from dockyard._internal import lazylog

from .libc import check, libc

log = lazylog.getLogger(__name__)

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

# OCI namespace type -> (clone flag, name of the file under /proc/<pid>/ns/)
NAMESPACES: dict[str, tuple[int, str]] = {
    "pid": (CLONE_NEWPID, "pid"),
    "network": (CLONE_NEWNET, "net"),
    "mount": (CLONE_NEWNS, "mnt"),
    "ipc": (CLONE_NEWIPC, "ipc"),
    "uts": (CLONE_NEWUTS, "uts"),
    "user": (CLONE_NEWUSER, "user"),
    "cgroup": (CLONE_NEWCGROUP, "cgroup"),
    "time": (CLONE_NEWTIME, "time"),
}

libc.unshare.argtypes = [ctypes.c_int]
libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]


def unshare(flags: int) -> None:
    log.debug("unshare(%#x)", flags)
    check(libc.unshare(flags), f"unshare({flags:#x})")


def setns(fd: int, nstype: int = 0, path: str | None = None) -> None:
    log.debug("setns(fd=%d, %#x) %s", fd, nstype, path or "")
    check(libc.setns(fd, nstype), f"setns({nstype:#x})", path)


def setns_path(path: str, nstype: int = 0) -> None:
    """Join the namespace that ``path`` (e.g. /proc/123/ns/net) refers to."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(fd, nstype, path)
    finally:
        os.close(fd)
