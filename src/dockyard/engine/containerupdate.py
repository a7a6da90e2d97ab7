"""``ContainerUpdates``: ``POST /containers/{id}/update`` (resource limits, restart policy).

``resource_update`` checks the request against the container's HostConfig with dockerd's
rules and messages, and answers the HostConfig fields to store plus the ``Resources``
to write to a running container's cgroup. ``update`` applies those live through the
cgroup manager, then persists the new HostConfig, so the next start uses them too, and
emits docker's ``update`` event.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.cgroups import Resources, manager_for
from dockyard.errors import Conflict, DockyardError, InvalidArgument

from .containerrecord import Container
from .events import EventLog

log = logging.getLogger(__name__)

MIN_MEMORY = 6 * 1024 * 1024
CFS_PERIOD = 100_000  # what NanoCpus is turned into, as dockerd does
RESTART_POLICIES = ("", "no", "always", "unless-stopped", "on-failure")
INT_FIELDS = (
    "Memory",
    "MemorySwap",
    "MemoryReservation",
    "NanoCpus",
    "CpuShares",
    "CpuQuota",
    "CpuPeriod",
    "BlkioWeight",
)
STRING_FIELDS = ("CpusetCpus", "CpusetMems")
# accepted in the body but not applied (dockerd ignores most of them on cgroup v2 too)
IGNORED_FIELDS = frozenset(
    {
        "KernelMemory",
        "KernelMemoryTCP",
        "CpuRealtimePeriod",
        "CpuRealtimeRuntime",
        "CpuCount",
        "CpuPercent",
        "IOMaximumIOps",
        "IOMaximumBandwidth",
        "BlkioWeightDevice",
        "BlkioDeviceReadBps",
        "BlkioDeviceWriteBps",
        "BlkioDeviceReadIOps",
        "BlkioDeviceWriteIOps",
        "Devices",
        "DeviceCgroupRules",
        "DeviceRequests",
        "MemorySwappiness",
        "OomKillDisable",
        "Ulimits",
        "CgroupParent",
    }
)


@dataclass(frozen=True)
class ResourceUpdate:
    """HostConfig fields to store, and the cgroup writes for a running container."""

    host_config: dict[str, Any]
    resources: Resources


def _int(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{key}: expected an integer, got {value!r}")
    return value


def _cpus_available(text: str, ncpu: int) -> bool:
    for item in text.split(","):
        low, dash, high = item.strip().partition("-")
        if not low.isdecimal() or (dash and not high.isdecimal()):
            raise InvalidArgument(f"invalid value {text} for cpuset cpus")
        if int(high if dash else low) >= ncpu:
            return False
    return True


def resource_update(current: dict[str, Any], body: dict[str, Any], ncpu: int) -> ResourceUpdate:
    """Check ``body`` (UpdateConfig) against HostConfig ``current``; dockerd's messages."""
    values = {k: _int(body, k) for k in INT_FIELDS}
    pids = body.get("PidsLimit")
    if pids is not None and (isinstance(pids, bool) or not isinstance(pids, int)):
        raise InvalidArgument(f"PidsLimit: expected an integer, got {pids!r}")
    strings = {}
    for key in STRING_FIELDS:
        value = body.get(key)
        if value not in (None, ""):
            if not isinstance(value, str):
                raise InvalidArgument(f"{key}: expected a string, got {value!r}")
            strings[key] = value.replace(" ", "")
    memory, swap = values["Memory"], values["MemorySwap"]
    if memory and memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if values["MemoryReservation"] and values["MemoryReservation"] < MIN_MEMORY:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    if swap < -1:
        raise InvalidArgument(f"invalid memory swap limit {swap}: use -1 for unlimited")
    effective_memory = memory or int(current.get("Memory") or 0)
    if swap > 0 and effective_memory and swap < effective_memory:
        raise InvalidArgument(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if swap > 0 and not effective_memory:
        raise InvalidArgument(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    old_swap = int(current.get("MemorySwap") or 0)
    if not old_swap and current.get("Memory"):
        old_swap = 2 * int(current["Memory"])  # the swap specgen gives a memory limit
    if memory and old_swap > 0 and memory > old_swap and not swap:
        raise Conflict(
            "Memory limit should be smaller than already set memoryswap limit, update the "
            "memoryswap at the same time"
        )
    nano = values["NanoCpus"]
    if nano and (values["CpuPeriod"] or values["CpuQuota"]):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano and (current.get("CpuPeriod") or current.get("CpuQuota")):
        raise InvalidArgument(
            "Conflicting options: CPU Quota or CPU Period cannot be updated as NanoCPUs has "
            "already been set"
            if current.get("NanoCpus")
            else "Conflicting options: Nano CPUs cannot be updated as CPU Period has already "
            "been set"
        )
    if (values["CpuPeriod"] or values["CpuQuota"]) and current.get("NanoCpus"):
        raise InvalidArgument(
            "Conflicting options: CPU Quota or CPU Period cannot be updated as NanoCPUs has "
            "already been set"
        )
    if nano and not 10_000_000 <= nano <= ncpu * 1_000_000_000:
        raise InvalidArgument(
            f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )
    period = values["CpuPeriod"]
    if period and not 1000 <= period <= 1_000_000:
        raise InvalidArgument(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
        )
    if values["CpuQuota"] and 0 < values["CpuQuota"] < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if values["CpuShares"] < 0:
        raise InvalidArgument(f"invalid CPU shares {values['CpuShares']}: must not be negative")
    weight = values["BlkioWeight"]
    if weight and not 10 <= weight <= 1000:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    cpus = strings.get("CpusetCpus")
    if cpus is not None and not _cpus_available(cpus, ncpu):
        raise InvalidArgument(
            f"Requested CPUs are not available - requested {cpus}, available: 0-{ncpu - 1}"
        )
    stored: dict[str, Any] = {k: v for k, v in values.items() if v}
    stored.update(strings)
    if pids is not None:
        stored["PidsLimit"] = pids
    policy = body.get("RestartPolicy")
    if policy is not None:
        stored["RestartPolicy"] = _restart_policy(policy)
    quota = values["CpuQuota"] or None
    cpu_period = period or None
    if nano:
        quota, cpu_period = nano * CFS_PERIOD // 1_000_000_000, CFS_PERIOD
    resources = Resources(
        memory_limit=memory or None,
        memory_reservation=values["MemoryReservation"] or None,
        memory_swap=swap or None,
        cpu_shares=values["CpuShares"] or None,
        cpu_quota=quota,
        cpu_period=cpu_period,
        cpuset_cpus=cpus,
        cpuset_mems=strings.get("CpusetMems"),
        pids_limit=pids if pids else (-1 if pids is not None else None),
        blkio_weight=weight or None,
    )
    return ResourceUpdate(stored, resources)


def _restart_policy(policy: Any) -> dict[str, Any]:
    if not isinstance(policy, dict):
        raise InvalidArgument(f"RestartPolicy: expected an object, got {policy!r}")
    name = policy.get("Name") or ""
    if name not in RESTART_POLICIES:
        raise InvalidArgument(f"invalid restart policy '{name}'")
    retries = policy.get("MaximumRetryCount") or 0
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise InvalidArgument("maximum retry count cannot be negative")
    if retries and name != "on-failure":
        raise InvalidArgument(f"maximum retry count cannot be used with restart policy '{name}'")
    return {"Name": name, "MaximumRetryCount": retries}


def has_cgroup_writes(r: Resources) -> bool:
    return any(getattr(r, name) is not None for name in Resources._fields if name != "devices")


class ContainerUpdates:
    """The update verb; mixed into ``ContainerService``, which provides the state."""

    if TYPE_CHECKING:
        events: EventLog

        def _get(self, ref: str) -> Container: ...

        def _lock_of(self, c: Container) -> asyncio.Lock: ...

        async def _save(self, c: Container) -> None: ...

        def _cgroups_path(self, cid: str) -> str: ...

    async def update(self, ref: str, body: dict[str, Any]) -> list[str]:
        """Apply ``body`` (UpdateConfig) live and store it; answers docker's Warnings."""
        c = self._get(ref)
        async with self._lock_of(c):
            try:
                change = resource_update(c.host_config, body, os.cpu_count() or 1)
            except DockyardError as e:
                raise type(e)(f"Cannot update container {c.id}: {e}") from e
            if c.running and has_cgroup_writes(change.resources):
                manager = manager_for(self._cgroups_path(c.id))
                try:
                    await asyncio.to_thread(manager.set, change.resources)
                except DockyardError as e:
                    raise type(e)(f"Cannot update container {c.id}: {e}") from e
            c.host_config = {**c.host_config, **change.host_config}
            await self._save(c)
        self.events.container(c, "update")
        log.info("updated container %s: %s", c.id[:12], sorted(change.host_config))
        return []
