"""Docker's ``StatsResponse`` JSON (``GET /containers/{id}/stats``) from engine readings.

Field names and ``omitempty`` behaviour follow the Engine API's Go types: a reading of a
container that is not running comes out as docker's "zero" document (zero CPU counters,
empty memory and pids objects, null block I/O lists), and ``networks`` appears only
when the container has interfaces besides ``lo``.
"""

from __future__ import annotations

from typing import Any

from dockyard.cgroups.usage import BlkioEntry
from dockyard.engine.containerstats import StatsPair, StatsSample

BLKIO_KEYS = (
    "io_service_bytes_recursive",
    "io_serviced_recursive",
    "io_queue_recursive",
    "io_service_time_recursive",
    "io_wait_time_recursive",
    "io_merged_recursive",
    "io_time_recursive",
    "sectors_recursive",
)


def _blkio(entries: tuple[BlkioEntry, ...]) -> list[dict[str, Any]] | None:
    if not entries:
        return None
    return [{"major": e.major, "minor": e.minor, "op": e.op, "value": e.value} for e in entries]


def cpu_stats(s: StatsSample) -> dict[str, Any]:
    u = s.usage
    usage: dict[str, Any] = {
        "total_usage": u.cpu_total_ns if u else 0,
        "usage_in_kernelmode": u.cpu_kernel_ns if u else 0,
        "usage_in_usermode": u.cpu_user_ns if u else 0,
    }
    if u and u.cpu_percpu_ns:
        usage["percpu_usage"] = list(u.cpu_percpu_ns)
    out: dict[str, Any] = {"cpu_usage": usage}
    if s.system_cpu_ns:
        out["system_cpu_usage"] = s.system_cpu_ns
    if s.online_cpus:
        out["online_cpus"] = s.online_cpus
    out["throttling_data"] = {
        "periods": u.throttle_periods if u else 0,
        "throttled_periods": u.throttled_periods if u else 0,
        "throttled_time": u.throttled_ns if u else 0,
    }
    return out


def memory_stats(s: StatsSample) -> dict[str, Any]:
    u = s.usage
    if u is None:
        return {}
    limit = u.memory_limit
    if s.machine_memory and (limit < 0 or limit > s.machine_memory):
        limit = s.machine_memory  # as dockerd: an unlimited container is limited by the RAM
    out: dict[str, Any] = {"usage": u.memory_usage}
    if not u.v2:
        out["max_usage"] = u.memory_max_usage
    out["stats"] = dict(u.memory_stat)
    if u.memory_failcnt:
        out["failcnt"] = u.memory_failcnt
    if limit > 0:
        out["limit"] = limit
    return out


def stats_json(pair: StatsPair) -> dict[str, Any]:
    """One ``StatsResponse`` document."""
    s, pre = pair.current, pair.previous
    u = s.usage
    pids: dict[str, Any] = {}
    if u is not None:
        pids["current"] = u.pids_current
        if u.pids_limit > 0:
            pids["limit"] = u.pids_limit
    blkio: dict[str, Any] = dict.fromkeys(BLKIO_KEYS)
    if u is not None:
        blkio["io_service_bytes_recursive"] = _blkio(u.io_service_bytes)
        blkio["io_serviced_recursive"] = _blkio(u.io_serviced)
    doc: dict[str, Any] = {
        "name": s.name,
        "id": s.id,
        "read": s.read,
        "preread": pre.read,
        "pids_stats": pids,
        "blkio_stats": blkio,
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu_stats(s),
        "precpu_stats": cpu_stats(pre),
        "memory_stats": memory_stats(s),
    }
    if s.networks:
        doc["networks"] = {
            name: {
                "rx_bytes": n.rx_bytes,
                "rx_packets": n.rx_packets,
                "rx_errors": n.rx_errors,
                "rx_dropped": n.rx_dropped,
                "tx_bytes": n.tx_bytes,
                "tx_packets": n.tx_packets,
                "tx_errors": n.tx_errors,
                "tx_dropped": n.tx_dropped,
            }
            for name, n in sorted(s.networks.items())
        }
    return doc
