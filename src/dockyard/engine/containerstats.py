"""``ContainerStats``: the ``stats`` verb of ``ContainerService`` (resource usage readings).

A reading (``StatsSample``) is the container's cgroup counters (``cgroups.usage``), the
host's CPU time from ``/proc/stat`` and the network counters of the container's network
namespace, taken at one instant. ``stats`` yields readings every ``STATS_INTERVAL``
seconds while streaming, each one paired with the one before (docker's ``precpu_stats``
and ``preread``), or a single one when not streaming: after a first reading and one
interval unless ``one_shot`` asks for the first reading alone, as dockerd does. A
container that is not running gives empty readings (docker's zeros), and a stream ends
when the container is removed. The generator holds no task of its own: when the client
leaves, the server closes it and nothing is left behind.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dockyard.cgroups import manager_for
from dockyard.cgroups.usage import Usage, read_usage, system_cpu_ns
from dockyard.errors import DockyardError
from dockyard.shim.logs import rfc3339_nano

from .containerrecord import Container

STATS_INTERVAL = 1.0


@dataclass(frozen=True)
class NetworkCounters:
    """One interface of /proc/<pid>/net/dev."""

    rx_bytes: int
    rx_packets: int
    rx_errors: int
    rx_dropped: int
    tx_bytes: int
    tx_packets: int
    tx_errors: int
    tx_dropped: int


@dataclass(frozen=True)
class StatsSample:
    """One reading; ``usage`` is None for a container that is not running (zeros)."""

    id: str
    name: str  # with the leading "/"
    read: str  # RFC 3339 nano; docker's zero time when there is no reading
    usage: Usage | None = None
    system_cpu_ns: int = 0
    online_cpus: int = 0
    machine_memory: int = 0
    networks: dict[str, NetworkCounters] | None = None


@dataclass(frozen=True)
class StatsPair:
    """A reading and the one before it (an empty one for the first of a stream)."""

    current: StatsSample
    previous: StatsSample


def empty_sample(c: Container) -> StatsSample:
    return StatsSample(id=c.id, name=c.name, read="0001-01-01T00:00:00Z")


def machine_memory() -> int:
    """The host's RAM: what dockerd reports as the limit of an unlimited container."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def online_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 0


def read_networks(pid: int) -> dict[str, NetworkCounters] | None:
    """The interfaces of the process's network namespace except ``lo``; None if there are none.

    dockerd leaves ``networks`` out when the container has no network of its own.
    """
    if pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return None
    out = {}
    for line in lines:
        name, _, rest = line.partition(":")
        name = name.strip()
        fields = rest.split()
        if name == "lo" or len(fields) < 12 or not all(x.isdigit() for x in fields):
            continue
        n = [int(x) for x in fields]
        out[name] = NetworkCounters(n[0], n[1], n[2], n[3], n[8], n[9], n[10], n[11])
    return out or None


class ContainerStats:
    """The stats verb; mixed into ``ContainerService``, which provides the state."""

    if TYPE_CHECKING:
        _containers: dict[str, Container]

        def _get(self, ref: str) -> Container: ...

        def _cgroups_path(self, cid: str) -> str: ...

    def _sample(self, c: Container) -> StatsSample:
        """A reading of ``c`` now (blocking file reads: call it in a thread)."""
        if not c.running:
            return empty_sample(c)
        try:
            usage = read_usage(manager_for(self._cgroups_path(c.id)).paths())
        except (DockyardError, OSError):
            return empty_sample(c)  # it exited between the check and the reading
        return StatsSample(
            id=c.id,
            name=c.name,
            read=rfc3339_nano(time.time_ns()),
            usage=usage,
            system_cpu_ns=system_cpu_ns(),
            online_cpus=online_cpus(),
            machine_memory=machine_memory(),
            networks=read_networks(c.pid),
        )

    async def stats(
        self, ref: str, *, stream: bool = True, one_shot: bool = False
    ) -> AsyncGenerator[StatsPair, None]:
        """Await it for the readings (NotFound comes here, before any output)."""
        c = self._get(ref)

        async def generate() -> AsyncGenerator[StatsPair, None]:
            previous = empty_sample(c)
            if not stream and not c.running:
                yield StatsPair(previous, previous)
                return
            current = await asyncio.to_thread(self._sample, c)
            if not stream and not one_shot:
                # prime the CPU counters so that the one answer has a precpu to compare
                await asyncio.sleep(STATS_INTERVAL)
                previous, current = current, await asyncio.to_thread(self._sample, c)
            while True:
                yield StatsPair(current, previous)
                if not stream or c.id not in self._containers:
                    return
                await asyncio.sleep(STATS_INTERVAL)
                if c.id not in self._containers:
                    return
                previous, current = current, await asyncio.to_thread(self._sample, c)

        return generate()
