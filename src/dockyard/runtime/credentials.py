"""The last steps before execve, shared by a container's init and ``exec``:
rlimits, working directory, user and groups, capabilities, no_new_privs, fds, execve.
"""

from __future__ import annotations

import os
import resource

from dockyard.errors import InvalidArgument, NotFound, SystemFault
from dockyard.kernel import caps as kcaps
from dockyard.kernel import process as kproc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .spec import Process

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def set_rlimits(proc: Process) -> None:
    for name, res, soft, hard in proc.rlimits:
        try:
            resource.setrlimit(res, (soft, hard))
        except (ValueError, OSError) as e:
            _, host_hard = resource.getrlimit(res)
            raise InvalidArgument(
                f"rlimit {name} soft={soft} hard={hard}: {e}; this host allows at most "
                f"hard={host_hard} (raising it needs CAP_SYS_RESOURCE)"
            ) from None


def lookup_executable(proc: Process) -> str:
    """Find argv[0] in the container (after pivot_root) the way execvp would."""
    name = proc.args[0]
    if "/" in name:
        path = name if name.startswith("/") else os.path.join(proc.cwd, name)
        if not os.path.exists(path):
            raise NotFound(f'exec: "{name}": stat {name}: no such file or directory')
        return path
    path_var = next((e[5:] for e in proc.env if e.startswith("PATH=")), DEFAULT_PATH)
    for d in path_var.split(":"):
        candidate = os.path.join(d or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise NotFound(f'exec: "{name}": executable file not found in $PATH ({path_var})')


def enter_cwd(proc: Process) -> None:
    try:
        os.chdir(proc.cwd)
        here = os.getcwd()
    except OSError as e:
        raise InvalidArgument(f"process.cwd {proc.cwd}: {e.strerror}") from None
    # a cwd reached through a leaked host fd (/proc/self/fd/N) resolves outside the
    # root and shows up as "(unreachable)"; refuse it (CVE-2024-21626 class)
    if not here.startswith("/"):
        raise InvalidArgument(f"process.cwd {proc.cwd} is outside the container")


def _home(uid: int) -> str:
    try:
        with open("/etc/passwd") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    return fields[5] or "/"
    except OSError:
        pass
    return "/"


def environment(proc: Process) -> list[str]:
    env = list(proc.env)
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={_home(proc.uid)}")
    return env


def become(proc: Process, setgroups_allowed: bool = True) -> None:
    """Switch to the process's user and capabilities (runc's order: bounding set first,
    while CAP_SETPCAP is still ours; ids with keepcaps; then the capability sets)."""
    c = proc.caps
    kcaps.drop_bounding(c["bounding"])
    kproc.set_keepcaps(True)
    if setgroups_allowed:
        kproc.setgroups(proc.additional_gids)
    try:
        os.setresgid(proc.gid, proc.gid, proc.gid)
        os.setresuid(proc.uid, proc.uid, proc.uid)
    except OSError as e:
        raise SystemFault(f"set user {proc.uid}:{proc.gid}: {e.strerror}") from None
    kproc.set_keepcaps(False)
    kcaps.capset(kcaps.CapSets(c["effective"], c["permitted"], c["inheritable"]))
    try:
        kcaps.set_ambient(c["ambient"])
    except OSError:
        # as runc: an ambient cap not also inheritable and permitted is skipped
        for cap in range(kcaps.last_cap() + 1):
            bit = 1 << cap
            if c["ambient"] & bit and c["inheritable"] & bit and c["permitted"] & bit:
                kproc.prctl(kproc.PR_CAP_AMBIENT, kproc.PR_CAP_AMBIENT_RAISE, cap)
    if proc.no_new_privileges:
        kproc.set_no_new_privs()
    if proc.umask is not None:
        os.umask(proc.umask)


def close_fds(keep_upto: int) -> None:
    """Close every fd above ``keep_upto`` so no host file reaches the container."""
    os.closerange(keep_upto + 1, 1 << 20)


def execute(path: str, proc: Process, env: list[str], preserve_fds: int) -> None:
    for fd in range(3, 3 + preserve_fds):
        try:
            os.set_inheritable(fd, True)
        except OSError:
            pass
    close_fds(2 + preserve_fds)
    try:
        os.execve(path, proc.args, dict(e.split("=", 1) for e in env if "=" in e))
    except OSError as e:
        os.write(2, f"dockyard-runtime: exec {proc.args[0]}: {e.strerror}\n".encode())
        os._exit(126 if e.errno in (13, 8) else 127)
