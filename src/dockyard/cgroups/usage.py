"""Detailed usage counters of one cgroup, for the Engine API's container stats.

``Stats`` (``manager.py``) is the small reading every manager gives; ``read_usage``
adds what ``docker stats`` shows and what docker's ``StatsResponse`` carries: per-CPU
and user/kernel CPU time, CFS throttling, the ``memory.stat`` table, the pids limit and
the block I/O counters. It reads the directories a manager's ``paths()`` names, the v1
files when a v1 hierarchy holds the controller and the cgroup2 files otherwise.

Only the daemon imports this module (never the runtime's start path), so it may use
dataclasses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from . import files
from .manager import UNLIMITED, memory_limit_value

# cpuacct.stat counts USER_HZ ticks; Linux fixes USER_HZ at 100 for user space.
USER_HZ = 100
NS_PER_TICK = 1_000_000_000 // USER_HZ


@dataclass(frozen=True)
class BlkioEntry:
    """One line of a blkio/io counter: device numbers, operation ("read"...), value."""

    major: int
    minor: int
    op: str
    value: int


@dataclass(frozen=True)
class Usage:
    """What a cgroup has used; memory_limit is -1 when no limit applies."""

    cpu_total_ns: int = 0
    cpu_percpu_ns: tuple[int, ...] = ()
    cpu_kernel_ns: int = 0
    cpu_user_ns: int = 0
    throttle_periods: int = 0
    throttled_periods: int = 0
    throttled_ns: int = 0
    memory_usage: int = 0
    memory_max_usage: int = 0
    memory_limit: int = UNLIMITED
    memory_failcnt: int = 0
    memory_stat: dict[str, int] = field(default_factory=dict)
    pids_current: int = 0
    pids_limit: int = 0  # 0: no limit
    io_service_bytes: tuple[BlkioEntry, ...] = ()
    io_serviced: tuple[BlkioEntry, ...] = ()
    v2: bool = False


def read_usage(paths: dict[str, str]) -> Usage:
    """The counters of the cgroup whose directories are ``paths`` (a manager's ``paths()``)."""
    unified = paths.get("")
    v1 = {k: v for k, v in paths.items() if k and v != unified}
    if v1.get("memory") is None and unified is not None:
        return _read_v2(unified)
    return _read_v1(v1)


def _read_v1(paths: dict[str, str]) -> Usage:
    out: dict[str, Any] = {}
    cpuacct = paths.get("cpuacct")
    if cpuacct is not None:
        out["cpu_total_ns"] = files.read_int(os.path.join(cpuacct, "cpuacct.usage"))
        percpu = files.read(os.path.join(cpuacct, "cpuacct.usage_percpu")) or ""
        out["cpu_percpu_ns"] = tuple(int(n) for n in percpu.split() if n.isdigit())
        ticks = files.read_keyed(os.path.join(cpuacct, "cpuacct.stat"))
        out["cpu_user_ns"] = ticks.get("user", 0) * NS_PER_TICK
        out["cpu_kernel_ns"] = ticks.get("system", 0) * NS_PER_TICK
    cpu = paths.get("cpu")
    if cpu is not None:
        stat = files.read_keyed(os.path.join(cpu, "cpu.stat"))
        out["throttle_periods"] = stat.get("nr_periods", 0)
        out["throttled_periods"] = stat.get("nr_throttled", 0)
        out["throttled_ns"] = stat.get("throttled_time", 0)
    memory = paths.get("memory")
    if memory is not None:
        out["memory_usage"] = files.read_int(os.path.join(memory, "memory.usage_in_bytes"))
        out["memory_max_usage"] = files.read_int(os.path.join(memory, "memory.max_usage_in_bytes"))
        out["memory_limit"] = memory_limit_value(
            files.read(os.path.join(memory, "memory.limit_in_bytes"))
        )
        out["memory_failcnt"] = files.read_int(os.path.join(memory, "memory.failcnt"))
        out["memory_stat"] = files.read_keyed(os.path.join(memory, "memory.stat"))
    pids = paths.get("pids")
    if pids is not None:
        out["pids_current"] = files.read_int(os.path.join(pids, "pids.current"))
        out["pids_limit"] = files.read_int(os.path.join(pids, "pids.max"))
    blkio = paths.get("blkio")
    if blkio is not None:
        out["io_service_bytes"] = _blkio_v1(
            os.path.join(blkio, "blkio.throttle.io_service_bytes_recursive")
        )
        out["io_serviced"] = _blkio_v1(os.path.join(blkio, "blkio.throttle.io_serviced_recursive"))
    return Usage(**out)


def _blkio_v1(path: str) -> tuple[BlkioEntry, ...]:
    """``8:0 Read 4096`` lines (the ``Total`` lines are dropped, as dockerd does)."""
    out = []
    for line in (files.read(path) or "").splitlines():
        parts = line.split()
        if len(parts) != 3 or ":" not in parts[0] or not parts[2].isdigit():
            continue
        major, _, minor = parts[0].partition(":")
        if major.isdigit() and minor.isdigit():
            out.append(BlkioEntry(int(major), int(minor), parts[1].lower(), int(parts[2])))
    return tuple(out)


def _read_v2(d: str) -> Usage:
    cpu = files.read_keyed(os.path.join(d, "cpu.stat"))
    memory_stat = files.read_keyed(os.path.join(d, "memory.stat"))
    service_bytes, serviced = _io_v2(os.path.join(d, "io.stat"))
    return Usage(
        cpu_total_ns=cpu.get("usage_usec", 0) * 1000,
        cpu_user_ns=cpu.get("user_usec", 0) * 1000,
        cpu_kernel_ns=cpu.get("system_usec", 0) * 1000,
        throttle_periods=cpu.get("nr_periods", 0),
        throttled_periods=cpu.get("nr_throttled", 0),
        throttled_ns=cpu.get("throttled_usec", 0) * 1000,
        memory_usage=files.read_int(os.path.join(d, "memory.current")),
        memory_max_usage=files.read_int(os.path.join(d, "memory.peak")),
        memory_limit=memory_limit_value(files.read(os.path.join(d, "memory.max"))),
        memory_failcnt=files.read_keyed(os.path.join(d, "memory.events")).get("max", 0),
        memory_stat=memory_stat,
        pids_current=files.read_int(os.path.join(d, "pids.current")),
        pids_limit=files.read_int(os.path.join(d, "pids.max")),
        io_service_bytes=service_bytes,
        io_serviced=serviced,
        v2=True,
    )


def _io_v2(path: str) -> tuple[tuple[BlkioEntry, ...], tuple[BlkioEntry, ...]]:
    """``8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...`` lines as v1-style read/write entries."""
    service_bytes: list[BlkioEntry] = []
    serviced: list[BlkioEntry] = []
    for line in (files.read(path) or "").splitlines():
        device, *pairs = line.split()
        major, _, minor = device.partition(":")
        if not (major.isdigit() and minor.isdigit()):
            continue
        values = dict(p.split("=", 1) for p in pairs if "=" in p)
        for key, op, target in (
            ("rbytes", "read", service_bytes),
            ("wbytes", "write", service_bytes),
            ("rios", "read", serviced),
            ("wios", "write", serviced),
        ):
            if values.get(key, "").isdigit():
                target.append(BlkioEntry(int(major), int(minor), op, int(values[key])))
    return tuple(service_bytes), tuple(serviced)


def system_cpu_ns(stat: str = "/proc/stat") -> int:
    """The host's CPU time in ns, as dockerd sums it: user..softirq of the ``cpu`` line."""
    for line in (files.read(stat) or "").splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            return sum(int(p) for p in parts[1:8]) * NS_PER_TICK
    return 0
