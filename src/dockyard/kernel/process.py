"""Per-process kernel state: prctl flags, host and domain names, groups, device nodes."""

from __future__ import annotations

import ctypes
import os

from dockyard._internal import lazylog

from .libc import check, libc

log = lazylog.getLogger(__name__)

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
libc.setdomainname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    log.debug("prctl(%d, %d, %d)", option, arg2, arg3)
    return check(libc.prctl(option, arg2, arg3, arg4, arg5), f"prctl({option}, {arg2}, {arg3})")


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def set_pdeathsig(sig: int) -> None:
    prctl(PR_SET_PDEATHSIG, sig)


def set_child_subreaper(on: bool = True) -> None:
    prctl(PR_SET_CHILD_SUBREAPER, int(on))


def set_keepcaps(on: bool = True) -> None:
    prctl(PR_SET_KEEPCAPS, int(on))


def set_dumpable(on: bool) -> None:
    """A non-dumpable process hides /proc/<pid>/exe, fd/, mem from unprivileged peers."""
    prctl(PR_SET_DUMPABLE, int(on))


def set_name(name: str) -> None:
    buf = ctypes.create_string_buffer(name.encode()[:15])
    check(libc.prctl(PR_SET_NAME, ctypes.addressof(buf), 0, 0, 0), "prctl(PR_SET_NAME)")


def sethostname(name: str) -> None:
    raw = name.encode()
    log.debug("sethostname(%s)", name)
    check(libc.sethostname(raw, len(raw)), f"sethostname({name!r})")


def setdomainname(name: str) -> None:
    raw = name.encode()
    log.debug("setdomainname(%s)", name)
    check(libc.setdomainname(raw, len(raw)), f"setdomainname({name!r})")


def setgroups(gids: list[int]) -> None:
    log.debug("setgroups(%s)", gids)
    try:
        os.setgroups(gids)
    except OSError as e:
        raise OSError(e.errno, f"setgroups({gids}): {e.strerror}") from None


def mknod(path: str, mode: int, major: int, minor: int) -> None:
    log.debug("mknod(%s, %o, %d:%d)", path, mode, major, minor)
    try:
        os.mknod(path, mode, os.makedev(major, minor))
    except OSError as e:
        raise OSError(e.errno, f"mknod {major}:{minor}: {e.strerror}", path) from None
