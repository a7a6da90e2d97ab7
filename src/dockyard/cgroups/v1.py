"""``CgroupV1Manager``: one directory per mounted v1 hierarchy, limits written as runc does.

Named hierarchies (``name=systemd``) hold no controllers; processes join them only so
that tools walking them see the container, so failures there are logged, not raised.
"""

from __future__ import annotations

import os
import time

from dockyard import errors
from dockyard._internal import lazylog

from . import files
from .manager import (
    DEFAULT_TIMEOUT,
    SIGKILL,
    UNLIMITED,
    Stats,
    memory_limit_value,
    relative_path,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from .manager import Hierarchy
    from .resources import DeviceRule, Resources

log = lazylog.getLogger(__name__)

MEMORY_LIMIT = "memory.limit_in_bytes"
MEMSW_LIMIT = "memory.memsw.limit_in_bytes"
OOM_CONTROL = "memory.oom_control"


def device_writes(rules: Sequence[DeviceRule]) -> list[tuple[str, str]]:
    """(file, line) writes for ``rules``, in order, as runc's v1 devices cgroup does.

    An ``a`` rule switches the cgroup's default (deny-all clears the allow list), so a
    leading deny-all followed by allows builds a whitelist. The rules are replayed on
    every ``set``: on a running container the deny-all briefly revokes access until the
    allows that follow it are written.
    """
    out = []
    for rule in rules:
        target = "devices.allow" if rule.allow else "devices.deny"
        out.append((target, "a *:* rwm" if rule.is_everything else rule.line()))
    return out


def memory_writes(
    resources: Resources, current_limit: int, has_memsw: bool, memsw_path: str
) -> list[tuple[str, int]]:
    """(file, value) writes for memory and memory+swap, ordered as runc's setMemoryAndSwap.

    The kernel insists memory.limit <= memsw.limit at every step, so when both change the
    write that raises a bound goes first: swap first if it grows past the current memory
    limit, memory first otherwise.
    """
    memory, swap = resources.memory_limit, resources.memory_swap
    if memory == -1 and swap is None and has_memsw:
        # "unlimited memory" with swap left unset means unlimited swap too (as runc).
        swap = -1
    if swap is not None and not has_memsw:
        raise errors.NotSupported(
            f"a swap limit ({swap}) was requested but {memsw_path} is missing: the kernel "
            "has no swap accounting (boot with swapaccount=1) - drop memory.swap"
        )
    if memory is not None and swap is not None and (swap == -1 or current_limit < swap):
        return [(MEMSW_LIMIT, swap), (MEMORY_LIMIT, memory)]
    out = []
    if memory is not None:
        out.append((MEMORY_LIMIT, memory))
    if swap is not None:
        out.append((MEMSW_LIMIT, swap))
    return out


class CgroupV1Manager:
    """A container cgroup on a host where every controller has its own v1 hierarchy."""

    def __init__(
        self, hierarchies: Sequence[Hierarchy], path: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self._relative = relative_path(path)
        self._hierarchies = tuple(hierarchies)
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}(/{self._relative})"

    def _dir(self, h: Hierarchy) -> str:
        return os.path.join(h.root, self._relative)

    def _controller(self, name: str) -> str | None:
        for h in self._hierarchies:
            if name in h.controllers:
                return self._dir(h)
        return None

    def _require(self, name: str, purpose: str) -> str:
        d = self._controller(name)
        if d is None:
            raise errors.NotSupported(
                f"cannot {purpose}: no cgroup v1 '{name}' hierarchy is mounted on this host"
            )
        return d

    @staticmethod
    def _named_only(h: Hierarchy) -> bool:
        return all(c.startswith("name=") for c in h.controllers)

    def _dirs(self) -> list[str]:
        return [self._dir(h) for h in self._hierarchies]

    # -- lifecycle --------------------------------------------------------------------

    def create(self) -> None:
        for h in self._hierarchies:
            try:
                self._make(h)
            except errors.SystemFault as e:
                if not self._named_only(h):
                    raise
                log.warning("skipping named cgroup hierarchy %s: %s", h.root, e)

    def _make(self, h: Hierarchy) -> None:
        if "cpuset" not in h.controllers:
            files.make_dirs(h.root, self._relative)
            return
        current = h.root
        for part in self._relative.split("/"):
            parent, current = current, os.path.join(current, part)
            files.make_dir(current)
            # A new v1 cpuset starts empty and refuses tasks until both are filled.
            for name in ("cpuset.cpus", "cpuset.mems"):
                self._copy_if_empty(os.path.join(parent, name), os.path.join(current, name))

    @staticmethod
    def _copy_if_empty(source: str, target: str) -> None:
        mine = files.read(target)
        if mine is None or mine.strip():
            return
        files.write(target, (files.read(source) or "").strip())

    def apply(self, pid: int) -> None:
        for h in self._hierarchies:
            try:
                files.write(os.path.join(self._dir(h), "cgroup.procs"), str(pid))
            except errors.DockyardError:
                if not self._named_only(h):
                    raise
                log.warning("pid %d not placed in named hierarchy %s", pid, h.root)

    def join_self(self) -> None:
        # "0" in the v1 ``tasks`` file moves the writing thread alone; for that the
        # kernel skips the global cgroup_threadgroup_rwsem (whose first writer waits out
        # an RCU grace period, 10-16 ms here) that every write to cgroup.procs takes. In
        # a single-threaded process the thread is the whole process, and its children
        # are born in the cgroup.
        for h in self._hierarchies:
            try:
                files.write(os.path.join(self._dir(h), "tasks"), "0")
            except errors.DockyardError:
                if not self._named_only(h):
                    raise
                log.warning("not placed in named hierarchy %s", h.root)

    def clone_dir(self) -> str | None:
        return None

    def destroy(self) -> None:
        failures: list[errors.DockyardError] = []
        for d in self._dirs():
            try:
                files.remove_tree(d, self._timeout)
            except (errors.Conflict, errors.SystemFault) as e:
                failures.append(e)
        if failures:
            raise failures[0]

    def remove_if_empty(self) -> bool:
        return files.remove_if_empty(self._dirs())

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self._dirs())

    def paths(self) -> dict[str, str]:
        return {c: self._dir(h) for h in self._hierarchies for c in sorted(h.controllers)}

    # -- limits -----------------------------------------------------------------------

    def set(self, resources: Resources) -> None:
        r = resources
        if r.cpuset_cpus is not None or r.cpuset_mems is not None:
            d = self._require("cpuset", "set cpuset.cpus/cpuset.mems")
            if r.cpuset_cpus is not None:
                files.write(os.path.join(d, "cpuset.cpus"), r.cpuset_cpus)
            if r.cpuset_mems is not None:
                files.write(os.path.join(d, "cpuset.mems"), r.cpuset_mems)
        if r.devices:
            d = self._require("devices", "apply device rules")
            for name, line in device_writes(r.devices):
                files.write(os.path.join(d, name), line)
        if r.memory_limit is not None or r.memory_swap is not None:
            self._set_memory(r)
        if r.disable_oom_killer:
            d = self._require("memory", "disable the OOM killer")
            files.write(os.path.join(d, OOM_CONTROL), "1")
        if r.memory_swappiness is not None:
            d = self._require("memory", "set memory swappiness")
            files.write(os.path.join(d, "memory.swappiness"), str(r.memory_swappiness))
        if r.memory_reservation is not None:
            d = self._require("memory", "set a memory reservation")
            files.write(os.path.join(d, "memory.soft_limit_in_bytes"), str(r.memory_reservation))
        if r.cpu_shares is not None or r.cpu_quota is not None or r.cpu_period is not None:
            self._set_cpu(r)
        if r.pids_limit is not None:
            d = self._require("pids", "set a pids limit")
            limit = str(r.pids_limit) if r.pids_limit > 0 else "max"
            files.write(os.path.join(d, "pids.max"), limit)
        if r.blkio_weight is not None:
            self._set_blkio_weight(r.blkio_weight)

    def _set_memory(self, r: Resources) -> None:
        d = self._require("memory", "set a memory limit")
        memsw = os.path.join(d, MEMSW_LIMIT)
        current = files.read_int(os.path.join(d, MEMORY_LIMIT))
        for name, value in memory_writes(r, current, os.path.exists(memsw), memsw):
            try:
                files.write(os.path.join(d, name), str(value))
            except errors.InvalidArgument as e:
                usage = files.read_int(os.path.join(d, "memory.usage_in_bytes"))
                peak = files.read_int(os.path.join(d, "memory.max_usage_in_bytes"))
                raise errors.InvalidArgument(
                    f"{e} (current usage {usage} bytes, peak {peak}; memory.swap must be "
                    "at least memory.limit)"
                ) from e

    def _set_cpu(self, r: Resources) -> None:
        d = self._require("cpu", "set cpu shares/quota/period")
        if r.cpu_shares is not None:
            shares = os.path.join(d, "cpu.shares")
            files.write(shares, str(r.cpu_shares))
            got = files.read_int(shares)
            if got != r.cpu_shares:
                raise errors.InvalidArgument(
                    f"cpu.shares {r.cpu_shares} was clamped by the kernel to {got} in {d}"
                )
        pending_period = r.cpu_period
        if r.cpu_period is not None:
            try:
                files.write(os.path.join(d, "cpu.cfs_period_us"), str(r.cpu_period))
                pending_period = None
            except errors.InvalidArgument:
                # A shorter period can be refused while the old quota is still in place
                # (old_quota/new_period above the parent's); retry after the quota.
                if r.cpu_quota is None:
                    raise
        if r.cpu_quota is not None:
            files.write(os.path.join(d, "cpu.cfs_quota_us"), str(r.cpu_quota))
            if pending_period is not None:
                files.write(os.path.join(d, "cpu.cfs_period_us"), str(pending_period))

    def _set_blkio_weight(self, weight: int) -> None:
        d = self._require("blkio", "set a blkio weight")
        for name in ("blkio.weight", "blkio.bfq.weight"):
            path = os.path.join(d, name)
            if os.path.exists(path):
                files.write(path, str(weight))
                return
        raise errors.NotSupported(
            f"cannot set blkio weight {weight}: neither blkio.weight nor blkio.bfq.weight "
            f"exists in {d} (use the CFQ or BFQ I/O scheduler, or drop blockIO.weight)"
        )

    # -- freezer ----------------------------------------------------------------------

    def _freezer_state(self) -> str:
        return os.path.join(self._require("freezer", "freeze"), "freezer.state")

    def frozen(self) -> bool:
        return (files.read(self._freezer_state()) or "").strip() == "FROZEN"

    def freeze(self) -> None:
        state = self._freezer_state()
        attempts = 0

        def reached() -> bool:
            nonlocal attempts
            attempts += 1
            if attempts % 50 == 0:
                # New tasks that keep forking can hold a cgroup in FREEZING; a brief
                # thaw lets them settle (runc does the same).
                files.write(state, "THAWED")
                time.sleep(0.01)
            files.write(state, "FROZEN")
            return (files.read(state) or "").strip() == "FROZEN"

        if not files.wait_until(reached, self._timeout):
            files.write(state, "THAWED")
            raise errors.SystemFault(
                f"cgroup {os.path.dirname(state)} did not freeze within {self._timeout:g}s;"
                " thawed it"
            )

    def thaw(self) -> None:
        state = self._freezer_state()
        files.write(state, "THAWED")
        if not files.wait_until(
            lambda: (files.read(state) or "").strip() == "THAWED", self._timeout
        ):
            raise errors.SystemFault(
                f"cgroup {os.path.dirname(state)} is still frozen (parent frozen?)"
            )

    # -- inspection -------------------------------------------------------------------

    def pids(self) -> list[int]:
        out: set[int] = set()
        for d in self._dirs():
            out |= files.procs(d)
        return sorted(out)

    def stats(self) -> Stats:
        if not self.exists():
            raise errors.NotFound(f"no such cgroup: /{self._relative}")
        usage = peak = cpu = 0
        limit = UNLIMITED
        memory = self._controller("memory")
        if memory is not None:
            usage = files.read_int(os.path.join(memory, "memory.usage_in_bytes"))
            peak = files.read_int(os.path.join(memory, "memory.max_usage_in_bytes"))
            limit = memory_limit_value(files.read(os.path.join(memory, MEMORY_LIMIT)))
        cpuacct = self._controller("cpuacct")
        if cpuacct is not None:
            cpu = files.read_int(os.path.join(cpuacct, "cpuacct.usage"))
        pids = self._controller("pids")
        if pids is not None and os.path.exists(os.path.join(pids, "pids.current")):
            current = files.read_int(os.path.join(pids, "pids.current"))
        else:
            current = len(self.pids())
        return Stats(usage, peak, limit, cpu, current, self._oom_kills())

    def _oom_kills(self) -> int:
        memory = self._controller("memory")
        if memory is None:
            return 0
        return files.read_keyed(os.path.join(memory, OOM_CONTROL)).get("oom_kill", 0)

    def oom_killed(self) -> bool:
        return self._oom_kills() > 0

    def kill_all(self, sig: int) -> None:
        freezer = self._controller("freezer")
        if freezer is None or not os.path.exists(os.path.join(freezer, "freezer.state")):
            files.send(self.pids(), sig)
            return
        # Freeze first so nothing forks between reading the pid list and signalling it.
        was_frozen = self.frozen()
        if not was_frozen:
            self.freeze()
        try:
            files.send(self.pids(), sig)
        finally:
            # v1 frozen tasks cannot act on SIGKILL until thawed; other signals to a
            # paused container stay queued and the container stays paused.
            if not was_frozen or sig == SIGKILL:
                self.thaw()
