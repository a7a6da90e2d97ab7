"""``CgroupHybridManager``: v1 controllers plus a cgroup2 mount for process tracking.

This is systemd's "hybrid" layout: every controller the host uses is mounted as a v1
hierarchy, and ``/sys/fs/cgroup/unified`` is a cgroup2 tree holding whatever controllers
are left (often none, sometimes ``hugetlb``). Limits go through the v1 hierarchies;
the container also joins its own cgroup2 directory, as systemd puts every unit there,
so that cgroup2 tools see it and ``cgroup.kill`` can end it atomically. The cgroup2
side is best effort: a read-only or refused mount is logged, never fatal.

No v2-side controller is enabled in ``cgroup.subtree_control``: ``Resources`` holds no
knob for the controllers that live there, and enabling one would change the host's
root cgroup for every other user of it.
"""

from __future__ import annotations

import os

from dockyard import errors
from dockyard._internal import lazylog

from . import files
from .manager import DEFAULT_TIMEOUT, SIGKILL
from .v1 import CgroupV1Manager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from .manager import Hierarchy

log = lazylog.getLogger(__name__)


class CgroupHybridManager(CgroupV1Manager):
    """v1 hierarchies for limits, and the cgroup2 mount at ``unified`` for tracking."""

    def __init__(
        self,
        hierarchies: Sequence[Hierarchy],
        unified: str | os.PathLike[str],
        path: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(hierarchies, path, timeout=timeout)
        self._unified_root = os.fspath(unified)
        self._unified = os.path.join(self._unified_root, self._relative)

    def create(self) -> None:
        super().create()
        try:
            files.make_dirs(self._unified_root, self._relative)
        except errors.SystemFault as e:
            log.warning("not tracking %s in the cgroup2 mount: %s", self, e)

    def apply(self, pid: int) -> None:
        super().apply(pid)
        try:
            files.write(os.path.join(self._unified, "cgroup.procs"), str(pid))
        except errors.DockyardError as e:
            # No cgroup2 directory: create() could not make it and has said so already.
            if not os.path.isdir(self._unified):
                return
            log.warning("pid %d not placed in the cgroup2 mount: %s", pid, e)

    def clone_dir(self) -> str | None:
        # cgroup.threads cannot move a thread out of its domain, so the cgroup2 side is
        # joined at birth (CLONE_INTO_CGROUP) rather than by join_self
        return self._unified

    def destroy(self) -> None:
        failure: errors.DockyardError | None = None
        try:
            super().destroy()
        except (errors.Conflict, errors.SystemFault) as e:
            failure = e
        try:
            files.remove_tree(self._unified, self._timeout)
        except (errors.Conflict, errors.SystemFault) as e:
            failure = failure or e
        if failure is not None:
            raise failure

    def remove_if_empty(self) -> bool:
        return files.remove_if_empty([*self._dirs(), self._unified])

    def exists(self) -> bool:
        return super().exists() or os.path.isdir(self._unified)

    def paths(self) -> dict[str, str]:
        out = super().paths()
        controllers = os.path.join(self._unified_root, "cgroup.controllers")
        for controller in (files.read(controllers) or "").split():
            out.setdefault(controller, self._unified)
        out[""] = self._unified
        return out

    def pids(self) -> list[int]:
        return sorted(set(super().pids()) | files.procs(self._unified))

    def kill_all(self, sig: int) -> None:
        if sig != SIGKILL:
            super().kill_all(sig)
            return
        # cgroup.kill ends the cgroup2 subtree atomically (forks in flight included),
        # so no freeze is needed; anything that never joined the cgroup2 side still gets
        # its signal from the v1 pid list.
        kill_file = os.path.join(self._unified, "cgroup.kill")
        try:
            files.write(kill_file, "1")
        except errors.DockyardError as e:
            # A missing file (kernel < 5.14, no cgroup2 directory) needs no warning.
            if os.path.exists(kill_file):
                log.warning("cgroup.kill failed, falling back to the v1 freezer: %s", e)
            super().kill_all(sig)
            return
        files.send(super().pids(), sig)
