"""The one handle on libc: every raw syscall in Dockyard goes through here.

Each wrapper raises ``OSError`` with errno and the path or arguments it was called with,
so a failure deep in container setup still says what it was doing.
"""

from __future__ import annotations

import ctypes
import os

from dockyard._internal import lazylog

log = lazylog.getLogger(__name__)

# dlopen(NULL): the interpreter is linked against libc, and ctypes.util would cost 10 ms
libc = ctypes.CDLL(None, use_errno=True)

SYS_PIVOT_ROOT = 155  # x86_64
SYS_CAPGET = 125
SYS_CAPSET = 126
SYS_SETNS = 308


def fail(what: str, filename: str | None = None) -> OSError:
    """An OSError for the errno of the libc call that just failed."""
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}", filename)


def check(ret: int, what: str, filename: str | None = None) -> int:
    if ret < 0:
        raise fail(what, filename)
    return ret


def fsencode(path: str | os.PathLike[str] | None) -> bytes | None:
    return None if path is None else os.fsencode(path)
