"""mount(2), umount2(2) and pivot_root(2), with propagation flags."""

from __future__ import annotations

import ctypes
import os

from dockyard._internal import lazylog

from .libc import SYS_PIVOT_ROOT, check, fsencode, libc

log = lazylog.getLogger(__name__)

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000

MNT_FORCE = 1
MNT_DETACH = 2
MNT_EXPIRE = 4
UMOUNT_NOFOLLOW = 8

PROPAGATION = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE

libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def mount(
    source: str | None,
    target: str | os.PathLike[str],
    fstype: str | None = None,
    flags: int = 0,
    data: str | None = None,
) -> None:
    log.debug("mount(%s, %s, %s, %#x, %s)", source, target, fstype, flags, data)
    ret = libc.mount(
        fsencode(source),
        fsencode(target),
        fstype.encode() if fstype else None,
        flags,
        data.encode() if data else None,
    )
    check(ret, f"mount {source or fstype or 'none'} on {os.fspath(target)}", os.fspath(target))


def umount(target: str | os.PathLike[str], flags: int = 0) -> None:
    log.debug("umount2(%s, %#x)", target, flags)
    check(libc.umount2(fsencode(target), flags), "umount", os.fspath(target))


def pivot_root(new_root: str, put_old: str) -> None:
    log.debug("pivot_root(%s, %s)", new_root, put_old)
    ret = libc.syscall(SYS_PIVOT_ROOT, fsencode(new_root), fsencode(put_old))
    check(ret, f"pivot_root({new_root}, {put_old})", new_root)


def mountpoints() -> list[str]:
    """Mount points of the calling process, from /proc/self/mountinfo, in mount order."""
    out = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            field = line.split(b" ", 5)[4]
            out.append(unescape(field.decode()))
    return out


def unescape(field: str) -> str:
    """Undo the octal escapes (\\040 for space, ...) of /proc/*/mountinfo."""
    if "\\" not in field:
        return field
    return field.encode().decode("unicode_escape")
