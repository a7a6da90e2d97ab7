"""The new mount API: fsopen(2), fsconfig(2), fsmount(2), move_mount(2), open_tree(2).

It configures a file system one parameter at a time, so an overlay can take any number of
``lowerdir+`` layers (kernel 6.8+) without the one-page limit of mount(2)'s data string.
Every wrapper raises ``OSError`` with errno and the path it was given; a failed fsconfig
also carries the kernel's own message read back from the fs context.
"""

from __future__ import annotations

import ctypes
import os

from dockyard._internal import lazylog

from .libc import check, fail, fsencode, libc

log = lazylog.getLogger(__name__)

# x86_64 syscall numbers
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_FSOPEN = 430
SYS_FSCONFIG = 431
SYS_FSMOUNT = 432
SYS_MOUNT_SETATTR = 442

FSOPEN_CLOEXEC = 0x1
FSMOUNT_CLOEXEC = 0x1

FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8

MOVE_MOUNT_F_EMPTY_PATH = 0x4
OPEN_TREE_CLONE = 0x1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_FDCWD = -100
AT_RECURSIVE = 0x8000

_INT = ctypes.c_int
_STR = ctypes.c_char_p


def _context_messages(fs_fd: int) -> str:
    """What the kernel logged into the fs context (lines like ``e overlay: ...``)."""
    lines = []
    while True:
        try:
            data = os.read(fs_fd, 1024)
        except OSError:
            break
        if not data:
            break
        lines.append(data.decode(errors="replace").strip())
    return "; ".join(lines)


def fsopen(fstype: str) -> int:
    log.debug("fsopen(%s)", fstype)
    fd: int = libc.syscall(SYS_FSOPEN, _STR(fstype.encode()), _INT(FSOPEN_CLOEXEC))
    return check(fd, f"fsopen {fstype}", fstype)


def fsconfig_string(fs_fd: int, key: str, value: str | None) -> None:
    """Set one parameter; ``value`` None sets a flag (``ro``, ``index=off`` style keys)."""
    log.debug("fsconfig(%d, %s, %s)", fs_fd, key, value)
    cmd = FSCONFIG_SET_FLAG if value is None else FSCONFIG_SET_STRING
    raw = None if value is None else value.encode()
    ret = libc.syscall(SYS_FSCONFIG, _INT(fs_fd), _INT(cmd), _STR(key.encode()), _STR(raw), _INT(0))
    if ret < 0:
        err = fail(f"fsconfig {key}={value}", value)
        detail = _context_messages(fs_fd)
        if detail:
            raise OSError(err.errno, f"{err.strerror} ({detail})", value)
        raise err


def fsconfig_create(fs_fd: int, what: str) -> None:
    log.debug("fsconfig(%d, CMD_CREATE)", fs_fd)
    ret = libc.syscall(SYS_FSCONFIG, _INT(fs_fd), _INT(FSCONFIG_CMD_CREATE), None, None, _INT(0))
    if ret < 0:
        err = fail(f"create {what}", what)
        detail = _context_messages(fs_fd)
        raise OSError(err.errno, f"{err.strerror} ({detail})" if detail else err.strerror, what)


def fsmount(fs_fd: int, attr_flags: int = 0) -> int:
    log.debug("fsmount(%d, %#x)", fs_fd, attr_flags)
    fd: int = libc.syscall(SYS_FSMOUNT, _INT(fs_fd), _INT(FSMOUNT_CLOEXEC), _INT(attr_flags))
    return check(fd, "fsmount")


def move_mount_fd(mnt_fd: int, target: str | os.PathLike[str]) -> None:
    """Attach the detached mount ``mnt_fd`` at ``target``."""
    log.debug("move_mount(%d, %s)", mnt_fd, target)
    ret = libc.syscall(
        SYS_MOVE_MOUNT,
        _INT(mnt_fd),
        _STR(b""),
        _INT(AT_FDCWD),
        _STR(fsencode(target)),
        _INT(MOVE_MOUNT_F_EMPTY_PATH),
    )
    check(ret, f"move_mount to {os.fspath(target)}", os.fspath(target))


def open_tree(
    path: str | os.PathLike[str], flags: int = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC
) -> int:
    log.debug("open_tree(%s, %#x)", path, flags)
    fd: int = libc.syscall(
        SYS_OPEN_TREE, _INT(AT_FDCWD), _STR(fsencode(path)), ctypes.c_uint(flags)
    )
    return check(fd, f"open_tree {os.fspath(path)}", os.fspath(path))


def mount_fs(
    fstype: str,
    params: list[tuple[str, str | None]],
    target: str | os.PathLike[str],
    attr_flags: int = 0,
) -> None:
    """fsopen + one fsconfig per parameter (in order) + create + fsmount + move_mount."""
    fs_fd = fsopen(fstype)
    try:
        for key, value in params:
            fsconfig_string(fs_fd, key, value)
        fsconfig_create(fs_fd, f"{fstype} for {os.fspath(target)}")
        mnt_fd = fsmount(fs_fd, attr_flags)
    finally:
        os.close(fs_fd)
    try:
        move_mount_fd(mnt_fd, target)
    finally:
        os.close(mnt_fd)


def overlay_lowerdir_plus() -> bool:
    """Whether overlayfs accepts ``lowerdir+`` through fsconfig (Linux 6.8+)."""
    try:
        fs_fd = fsopen("overlay")
    except OSError:
        return False
    try:
        fsconfig_string(fs_fd, "lowerdir+", "/")
    except OSError:
        return False
    finally:
        os.close(fs_fd)
    return True
