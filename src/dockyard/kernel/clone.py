"""``fork_into_cgroup``: os.fork() whose child is born in a cgroup2 directory.

Moving a process by writing its pid to ``cgroup.procs`` takes the kernel's global
``cgroup_threadgroup_rwsem`` for writing; the first writer after a quiet spell waits out
an RCU grace period (10-16 ms on the hosts we measured), and every other cgroup
operation queues behind it. ``clone3(CLONE_INTO_CGROUP)`` (Linux 5.7) places the child
at birth and takes that lock only for reading, so it costs what a fork costs.

The syscall is made with the interpreter's fork hooks around it, exactly as
``os.fork()`` does (``PyOS_BeforeFork``, then ``PyOS_AfterFork_Child`` or ``_Parent``),
and with the GIL held (``PyDLL``). Only a single-threaded process may call it: glibc's
own fork bookkeeping (at-fork handlers, the child's cached thread id) is skipped, which
matters only to other threads' locks; the runtime's children have none.
"""

from __future__ import annotations

import ctypes
import os

from .libc import fail, fsencode

SYS_CLONE3 = 435  # x86_64 (and every architecture using the generic table)
CLONE_INTO_CGROUP = 0x200000000
SIGCHLD = 17


class _CloneArgs(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint64)
        for name in (
            "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack",
            "stack_size", "tls", "set_tid", "set_tid_size", "cgroup",
        )
    ]  # fmt: skip


# PyDLL keeps the GIL across the call, as os.fork() does around fork()
_pylibc = ctypes.PyDLL(None, use_errno=True)
_syscall = _pylibc.syscall
_syscall.restype = ctypes.c_long
_syscall.argtypes = [ctypes.c_long, ctypes.c_void_p, ctypes.c_size_t]
_api = ctypes.pythonapi


def fork_into_cgroup(directory: str) -> int:
    """Fork; the child starts in cgroup2 directory ``directory``. Answers 0 in the child
    and the child's pid in the parent, like os.fork(). OSError if the directory cannot be
    opened or the kernel refuses (ENOSYS before 5.7, EBADF/EOPNOTSUPP off cgroup2):
    callers fall back to os.fork() and a cgroup.procs write."""
    path = fsencode(directory)
    assert path is not None
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        args = _CloneArgs(flags=CLONE_INTO_CGROUP, exit_signal=SIGCHLD, cgroup=fd)
        _api.PyOS_BeforeFork()
        pid = _syscall(SYS_CLONE3, ctypes.byref(args), ctypes.sizeof(args))
        if pid == 0:
            _api.PyOS_AfterFork_Child()
            return 0
        _api.PyOS_AfterFork_Parent()
        if pid < 0:
            raise fail("clone3(CLONE_INTO_CGROUP)", directory)
        return int(pid)
    finally:
        os.close(fd)
