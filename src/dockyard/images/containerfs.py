"""Work inside a container's root file system, from a child process chrooted into it.

``run_in_root`` forks; the child enters the container's root and runs one function
there, while the parent talks to it over pipes. Inside the chroot every path and every
symlink (absolute, or climbing with ``..``) resolves within the container, so neither a
hostile link nor one swapped in while we work can lead to the host. How the child
enters the root (a ``ContainerRoot``):

- a running container (``pid``): the root of its init process, ``/proc/<pid>/root``,
  which shows the container's own mounts (binds, volumes, tmpfs) as it sees them. A
  pidfd opened by the caller proves the process is still the container's when the
  child opens that root.
- a stopped container (``mounts``): the child unshares its mount namespace, mounts the
  container's snapshot at a scratch dir and its bind mounts at their destinations
  (resolved inside the root), then chroots there; the mounts vanish with the child.
- ``bind_source``: a non-recursive bind of a mounted rootfs (``export`` of a running
  container: the container's tree without the mounts inside it).

The child reports over a status pipe, one JSON object per line: what the function
sends with ``report``, then ``{"done": ...}`` or ``{"error": kind, "message": ...}``.
Error kinds come back as the same ``dockyard.errors`` kinds.
"""

from __future__ import annotations

import errno
import json
import os
import select
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard import errors
from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound, SystemFault
from dockyard.kernel import mount as km
from dockyard.kernel.namespaces import CLONE_NEWNS, unshare
from dockyard.runtime.rootfs import resolve_in_root
from dockyard.snapshots import Mount, mount_all

Report = Callable[[dict[str, Any]], None]
Work = Callable[[Report], Any]

_KINDS: dict[str, type[DockyardError]] = {
    k.__name__: k for k in (NotFound, InvalidArgument, Conflict, SystemFault, errors.NotSupported)
}
_ERRNO_KINDS = {
    errno.ENOENT: NotFound,
    errno.ENOTDIR: InvalidArgument,
    errno.EISDIR: InvalidArgument,
    errno.EEXIST: InvalidArgument,
    errno.EROFS: InvalidArgument,
    errno.EACCES: InvalidArgument,
    errno.EPERM: InvalidArgument,
    errno.ENOTEMPTY: InvalidArgument,
}


@dataclass(frozen=True)
class Bind:
    source: str
    destination: str  # container path
    readonly: bool = False


@dataclass(frozen=True)
class ContainerRoot:
    """How the child enters a container's root (see the module doc)."""

    pid: int = 0
    pidfd: int = -1
    mounts: Sequence[Mount] = ()
    binds: Sequence[Bind] = ()
    bind_source: str = ""
    scratch: str = ""  # an empty dir for the private mounts (stopped, bind_source)


@dataclass
class Child:
    """The parent's handle on the child: its pid and the read end of its status pipe."""

    pid: int
    status: Any  # a binary file

    def message(self) -> dict[str, Any]:
        """The next status message; the child's exit without one is a SystemFault."""
        line = self.status.readline()
        if not line:
            raise SystemFault("the process working in the container's file system died")
        doc = json.loads(line)
        if "error" in doc:
            kind = _KINDS.get(str(doc["error"]), SystemFault)
            raise kind(str(doc.get("message", "")))
        return dict(doc)

    def result(self) -> Any:
        """Skip to the final message; answer its ``done`` value (raise its error)."""
        while True:
            doc = self.message()
            if "done" in doc:
                return doc["done"]

    def wait(self) -> None:
        try:
            self.status.close()
        finally:
            os.waitpid(self.pid, 0)


def run_in_root(root: ContainerRoot, work: Work, keep: Sequence[int] = ()) -> Child:
    """Fork a child that enters ``root`` and runs ``work(report)`` there.

    The child keeps only stdio, its status pipe, the pidfd and the fds in ``keep`` (so
    it holds no pipe end of another operation open); the caller closes its copies of
    the child's ends."""
    status_r, status_w = os.pipe()
    try:
        pid = os.fork()
    except BaseException:
        os.close(status_r)
        os.close(status_w)
        raise
    if pid == 0:  # pragma: no cover - runs in the child
        _close_others({0, 1, 2, status_w, root.pidfd, *keep})
        _child(root, work, status_w)
    os.close(status_w)
    return Child(pid, os.fdopen(status_r, "rb"))


def _child(root: ContainerRoot, work: Work, status_w: int) -> None:  # pragma: no cover
    out = os.fdopen(status_w, "wb", buffering=0)

    def report(doc: dict[str, Any]) -> None:
        out.write(json.dumps(doc).encode() + b"\n")

    try:
        # errors travel on the status pipe; what Python would print on the way out (a
        # tar stream's finalizer after the client left) must not land in the daemon's log
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)
        _enter(root)
        report({"done": work(report)})
    except DockyardError as e:
        _report_error(report, type(e).__name__, str(e))
    except OSError as e:
        kind = _ERRNO_KINDS.get(e.errno or 0, SystemFault)
        where = f"{e.filename}: " if e.filename else ""
        _report_error(report, kind.__name__, f"{where}{e.strerror or e}".strip())
    except BaseException as e:
        _report_error(report, "SystemFault", f"{type(e).__name__}: {e}")
    finally:
        os._exit(0)


def _close_others(keep: set[int]) -> None:  # pragma: no cover - runs in the child
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def _report_error(report: Report, kind: str, message: str) -> None:
    try:
        report({"error": kind, "message": message})
    except OSError:
        pass


def _enter(root: ContainerRoot) -> None:  # pragma: no cover - runs in the child
    if root.pid:
        fd = os.open(f"/proc/{root.pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        # the pidfd turns readable once the process exited: then the pid may be
        # someone else's, and so may the root we just opened
        if root.pidfd >= 0 and select.select([root.pidfd], [], [], 0)[0]:
            raise Conflict("the container stopped while its files were being accessed")
        os.fchdir(fd)
        os.close(fd)
        os.chroot(".")
        os.chdir("/")
        return
    unshare(CLONE_NEWNS)
    km.mount(None, "/", None, km.MS_REC | km.MS_PRIVATE)
    if root.bind_source:
        km.mount(root.bind_source, root.scratch, None, km.MS_BIND)
    else:
        mount_all(root.mounts, root.scratch)
    for bind in root.binds:
        _bind(root.scratch, bind)
    os.chdir(root.scratch)
    os.chroot(".")
    os.chdir("/")


def _bind(scratch: str, bind: Bind) -> None:  # pragma: no cover - runs in the child
    try:
        target = resolve_in_root(scratch, bind.destination, "bind destination")
    except InvalidArgument:
        return  # a link out of the root: the bind is left out, never followed
    if not os.path.exists(bind.source):
        return  # made at the container's start; nothing of it to see before that
    if not os.path.lexists(target):
        # the mount point, as the runtime makes it at start (a stopped container has no
        # process that could race us here)
        if os.path.isdir(bind.source):
            os.makedirs(target, 0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o755))
    km.mount(bind.source, target, None, km.MS_BIND | km.MS_REC)
    if bind.readonly:
        km.mount(None, target, None, km.MS_BIND | km.MS_REMOUNT | km.MS_RDONLY)
