"""``CgroupV2Manager``: one directory in the unified hierarchy, limits written as runc does.

Device rules are not enforced: cgroup v2 controls devices with an eBPF program attached
to the cgroup, which needs the bpf(2) syscall and is out of scope for this pure-file
package. Any rule other than "allow everything" is logged as a warning and skipped.
"""

from __future__ import annotations

import os

from dockyard import errors
from dockyard._internal import lazylog

from . import files
from .manager import DEFAULT_TIMEOUT, SIGKILL, Stats, memory_limit_value, relative_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .resources import Resources

log = lazylog.getLogger(__name__)


def limit_text(value: int) -> str:
    """A v2 limit file's spelling of an OCI value: -1 is "max"."""
    return "max" if value == -1 else str(value)


def swap_max(memory: int | None, swap: int | None) -> str | None:
    """``memory.swap.max`` for OCI memory/swap (a memory+swap total), or None to leave it.

    Mirrors runc's ConvertMemorySwapToCgroupV2Value: v2 limits swap alone, so the value
    is the total minus the memory limit.
    """
    if swap is None:
        # "unlimited memory" with swap unset means unlimited swap too, as on v1.
        return "max" if memory == -1 else None
    if swap == -1:
        return "max"
    if memory is None or memory == -1:
        raise errors.InvalidArgument(
            f"memory.swap {swap} needs a memory limit: on cgroup v2 the swap limit is "
            "derived as swap - memory"
        )
    if swap < memory:
        raise errors.InvalidArgument(
            f"memory.swap {swap} is below memory.limit {memory}: swap is the memory+swap total"
        )
    return str(swap - memory)


def cpu_max(quota: int | None, period: int | None) -> str | None:
    """``cpu.max`` text: "<quota|max> [period]"; None when neither is set."""
    if quota is None and period is None:
        return None
    text = str(quota) if quota is not None and quota > 0 else "max"
    return text if period is None else f"{text} {period}"


class CgroupV2Manager:
    """A container cgroup on a unified (cgroup v2 only) host."""

    def __init__(
        self, root: str | os.PathLike[str], path: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self._root = os.fspath(root)
        self._relative = relative_path(path)
        self._timeout = timeout
        self._dir = os.path.join(self._root, self._relative)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._dir})"

    # -- lifecycle --------------------------------------------------------------------

    def create(self) -> None:
        current = self._root
        for part in self._relative.split("/"):
            # A controller's files appear in a child only once every ancestor lists it
            # in cgroup.subtree_control; the leaf keeps its own empty, so that processes
            # may join it ("no internal processes" rule).
            enable_controllers(current)
            current = os.path.join(current, part)
            files.make_dir(current)

    def apply(self, pid: int) -> None:
        files.write(os.path.join(self._dir, "cgroup.procs"), str(pid))

    def join_self(self) -> None:
        pass  # nothing but the cgroup2 tree: clone_dir() does it all

    def clone_dir(self) -> str | None:
        return self._dir

    def destroy(self) -> None:
        files.remove_tree(self._dir, self._timeout)

    def remove_if_empty(self) -> bool:
        return files.remove_if_empty([self._dir])

    def exists(self) -> bool:
        return os.path.isdir(self._dir)

    def paths(self) -> dict[str, str]:
        return {"": self._dir}

    # -- limits -----------------------------------------------------------------------

    def set(self, resources: Resources) -> None:
        r, d = resources, self._dir
        if r.cpuset_cpus is not None:
            files.write(os.path.join(d, "cpuset.cpus"), r.cpuset_cpus)
        if r.cpuset_mems is not None:
            files.write(os.path.join(d, "cpuset.mems"), r.cpuset_mems)
        if any(not (rule.allow and rule.is_everything) for rule in r.devices):
            log.warning(
                "cgroup v2 device rules need eBPF, which Dockyard does not load: "
                "%d device rule(s) for %s not enforced",
                len(r.devices),
                d,
            )
        if r.disable_oom_killer:  # as runc: v2 has no switch for it
            log.warning("cgroup v2 cannot disable the OOM killer: ignored for %s", d)
        if r.memory_swappiness is not None:  # as runc: v2 has no swappiness file
            log.warning("cgroup v2 has no memory swappiness: ignored for %s", d)
        self._set_memory(r)
        if r.cpu_weight is not None:
            files.write(os.path.join(d, "cpu.weight"), str(r.cpu_weight))
        quota_period = cpu_max(r.cpu_quota, r.cpu_period)
        if quota_period is not None:
            files.write(os.path.join(d, "cpu.max"), quota_period)
        if r.pids_limit is not None:
            limit = str(r.pids_limit) if r.pids_limit > 0 else "max"
            files.write(os.path.join(d, "pids.max"), limit)
        if r.blkio_weight is not None:
            self._set_io_weight(r)

    def _set_memory(self, r: Resources) -> None:
        d = self._dir
        swap = swap_max(r.memory_limit, r.memory_swap)
        if swap is not None:
            path = os.path.join(d, "memory.swap.max")
            if os.path.exists(path):
                files.write(path, swap)
            elif swap != "max":
                # Without swap there is nothing to cap, so only a real limit is an error.
                raise errors.NotSupported(
                    f"a swap limit was requested but {path} is missing: the kernel has no "
                    "swap accounting - drop memory.swap"
                )
        if r.memory_limit is not None:
            files.write(os.path.join(d, "memory.max"), limit_text(r.memory_limit))
        if r.memory_reservation is not None:
            files.write(os.path.join(d, "memory.low"), limit_text(r.memory_reservation))

    def _set_io_weight(self, r: Resources) -> None:
        d = self._dir
        # BFQ takes the v1 range as is; io.weight (iocost) wants 1..10000.
        bfq, iocost = os.path.join(d, "io.bfq.weight"), os.path.join(d, "io.weight")
        if os.path.exists(bfq):
            files.write(bfq, str(r.blkio_weight))
        elif os.path.exists(iocost):
            files.write(iocost, str(r.io_weight))
        else:
            raise errors.NotSupported(
                f"cannot set blkio weight {r.blkio_weight}: neither io.bfq.weight nor "
                f"io.weight exists in {d} (io controller or BFQ missing) - drop blockIO.weight"
            )

    # -- freezer ----------------------------------------------------------------------

    def frozen(self) -> bool:
        events = files.read_keyed(os.path.join(self._dir, "cgroup.events"))
        if "frozen" in events:
            return events["frozen"] == 1
        # Without cgroup.events (never on a real kernel with cgroup.freeze), trust the
        # requested state.
        return (files.read(os.path.join(self._dir, "cgroup.freeze")) or "").strip() == "1"

    def freeze(self) -> None:
        self._set_frozen(True)

    def thaw(self) -> None:
        self._set_frozen(False)

    def _set_frozen(self, frozen: bool) -> None:
        files.write(os.path.join(self._dir, "cgroup.freeze"), "1" if frozen else "0")
        if not files.wait_until(lambda: self.frozen() == frozen, self._timeout):
            word = "freeze" if frozen else "thaw"
            raise errors.SystemFault(f"cgroup {self._dir} did not {word} in {self._timeout:g}s")

    # -- inspection -------------------------------------------------------------------

    def pids(self) -> list[int]:
        return sorted(files.procs(self._dir))

    def stats(self) -> Stats:
        d = self._dir
        if not os.path.isdir(d):
            raise errors.NotFound(f"no such cgroup: {d}")
        pids_current = os.path.join(d, "pids.current")
        return Stats(
            memory_usage=files.read_int(os.path.join(d, "memory.current")),
            memory_peak=files.read_int(os.path.join(d, "memory.peak")),
            memory_limit=memory_limit_value(files.read(os.path.join(d, "memory.max"))),
            cpu_usage_ns=files.read_keyed(os.path.join(d, "cpu.stat")).get("usage_usec", 0) * 1000,
            pids_current=files.read_int(pids_current)
            if os.path.exists(pids_current)
            else len(self.pids()),
            oom_kills=self._oom_kills(),
        )

    def _oom_kills(self) -> int:
        # memory.events is hierarchical: kills in child cgroups count too.
        return files.read_keyed(os.path.join(self._dir, "memory.events")).get("oom_kill", 0)

    def oom_killed(self) -> bool:
        return self._oom_kills() > 0

    def kill_all(self, sig: int) -> None:
        if sig == SIGKILL:
            # The kernel kills the whole subtree atomically, forks in flight included.
            kill_file = os.path.join(self._dir, "cgroup.kill")
            try:
                files.write(kill_file, "1")
                return
            except errors.DockyardError:
                # Without cgroup.kill (kernel < 5.14, or no cgroup) signal the pids.
                if os.path.exists(kill_file):
                    raise
        if not os.path.exists(os.path.join(self._dir, "cgroup.freeze")):
            files.send(self.pids(), sig)
            return
        was_frozen = self.frozen()
        if not was_frozen:
            self.freeze()
        try:
            files.send(self.pids(), sig)
        finally:
            if not was_frozen:
                self.thaw()


def enable_controllers(directory: str) -> None:
    """Enable every controller ``directory`` offers for its children (as runc does)."""
    control = os.path.join(directory, "cgroup.subtree_control")
    offered = (files.read(os.path.join(directory, "cgroup.controllers")) or "").split()
    enabled = set((files.read(control) or "").split())
    wanted = [c for c in offered if c not in enabled]
    if not wanted:
        return
    try:
        files.write(control, " ".join(f"+{c}" for c in wanted))
        return
    except (errors.InvalidArgument, errors.SystemFault, errors.NotSupported):
        pass
    # One refused controller (threaded mode, a busy parent) fails the whole write;
    # enable the others one by one.
    for c in wanted:
        try:
            files.write(control, f"+{c}")
        except (errors.InvalidArgument, errors.SystemFault, errors.NotSupported) as e:
            log.warning("cannot enable controller %s in %s: %s", c, directory, e)
