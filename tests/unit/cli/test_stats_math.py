"""docker's stats arithmetic and formatting (``cli/stats.py``) and ``port`` lines."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.cli.containerresources import port_lines, update_config
from dockyard.cli.errors import CommandFailed, UsageError
from dockyard.cli.stats import cpu_percent, entry, memory_usage, redraw

MIB = 1024 * 1024


def reading(total: int, system: int, pre_total: int, pre_system: int, cpus: int = 2) -> Any:
    return {
        "cpu_stats": {"cpu_usage": {"total_usage": total}, "system_cpu_usage": system,
                      "online_cpus": cpus},
        "precpu_stats": {"cpu_usage": {"total_usage": pre_total}, "system_cpu_usage": pre_system},
    }  # fmt: skip


def test_cpu_percent_is_the_share_of_host_time_times_cpus() -> None:
    # 0.5 s of CPU while the host (2 CPUs) spent 2 s: a quarter of the host, 50% of a CPU
    assert (
        cpu_percent(reading(1_500_000_000, 12_000_000_000, 1_000_000_000, 10_000_000_000)) == 50.0
    )


def test_cpu_percent_is_zero_without_a_previous_reading_or_progress() -> None:
    assert cpu_percent(reading(5, 100, 5, 100)) == 0.0
    assert cpu_percent({"cpu_stats": {}, "precpu_stats": {}}) == 0.0


def test_cpu_percent_counts_percpu_entries_when_online_cpus_is_missing() -> None:
    doc = reading(200, 1000, 100, 600, cpus=0)
    doc["cpu_stats"]["cpu_usage"]["percpu_usage"] = [1, 2, 3, 4]
    assert cpu_percent(doc) == pytest.approx(100.0)


def test_memory_usage_leaves_out_inactive_page_cache() -> None:
    assert memory_usage({"usage": 10 * MIB, "stats": {"total_inactive_file": 4 * MIB}}) == 6 * MIB
    assert memory_usage({"usage": 10 * MIB, "stats": {"inactive_file": MIB}}) == 9 * MIB
    assert memory_usage({"usage": MIB, "stats": {"inactive_file": 2 * MIB}}) == MIB
    assert memory_usage({}) == 0


def test_entry_formats_like_docker() -> None:
    doc = reading(1_500_000_000, 12_000_000_000, 1_000_000_000, 10_000_000_000)
    doc.update(
        id="3ccd42555010602e69e73bbd7ab6b7bd",
        name="/web",
        memory_stats={"usage": 3 * MIB, "limit": 64 * MIB, "stats": {"total_inactive_file": MIB}},
        networks={"eth0": {"rx_bytes": 1500, "tx_bytes": 648}, "eth1": {"rx_bytes": 500}},
        blkio_stats={"io_service_bytes_recursive": [
            {"op": "Read", "value": 4096}, {"op": "Write", "value": 2_500_000},
            {"op": "read", "value": 4096}, {"op": "Total", "value": 9}]},
        pids_stats={"current": 3},
    )  # fmt: skip
    row = entry("web", doc)
    assert row == {
        "Container": "web",
        "ID": "3ccd42555010",
        "Name": "web",
        "CPUPerc": "50.00%",
        "MemUsage": "2MiB / 64MiB",
        "MemPerc": "3.12%",
        "NetIO": "2kB / 648B",
        "BlockIO": "8.19kB / 2.5MB",
        "PIDs": "3",
    }
    assert entry("web", doc, trunc=False)["ID"] == "3ccd42555010602e69e73bbd7ab6b7bd"


def test_entry_of_a_stopped_container_is_zeros() -> None:
    doc = {"id": "abc", "name": "/old", "cpu_stats": {"cpu_usage": {"total_usage": 0}},
           "precpu_stats": {"cpu_usage": {"total_usage": 0}}, "memory_stats": {},
           "pids_stats": {}}  # fmt: skip
    row = entry("old", doc)
    assert (row["CPUPerc"], row["MemUsage"], row["MemPerc"], row["PIDs"]) == (
        "0.00%", "0B / 0B", "0.00%", "0",
    )  # fmt: skip


def test_redraw_homes_the_cursor_and_erases_leftovers() -> None:
    assert redraw("A\nB\n") == "\033[HA\033[K\nB\033[K\n\033[J"


def test_port_lines() -> None:
    ports = {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
        "9/udp": [{"HostIp": "127.0.0.1", "HostPort": "9"}],
        "443/tcp": None,
    }
    # natural order, as docker sorts: 9 before 80
    assert port_lines(ports, "c", None) == [
        "9/udp -> 127.0.0.1:9", "80/tcp -> 0.0.0.0:8080", "80/tcp -> [::]:8080",
    ]  # fmt: skip
    assert port_lines(ports, "c", "80") == ["0.0.0.0:8080", "[::]:8080"]
    assert port_lines(ports, "c", "9/udp") == ["127.0.0.1:9"]
    assert port_lines(None, "c", None) == []
    with pytest.raises(CommandFailed, match="No public port '443/tcp' published for c"):
        port_lines(ports, "c", "443/tcp")
    with pytest.raises(CommandFailed, match=r"invalid port \(http\)"):
        port_lines(ports, "c", "http")


def _opts(**given: str) -> dict[str, Any]:
    keys = ("blkio_weight", "cpu_period", "cpu_quota", "cpu_shares", "cpus", "cpuset_cpus",
            "cpuset_mems", "memory", "memory_reservation", "memory_swap", "pids_limit",
            "restart")  # fmt: skip
    return {k: given.get(k) for k in keys}


def test_update_flags_to_the_update_config() -> None:
    body = update_config(_opts(memory="64m", memory_swap="-1", pids_limit="20", cpus="1.5",
                               restart="on-failure:3", cpuset_cpus="0"))  # fmt: skip
    assert body == {
        "Memory": 64 * MIB,
        "MemorySwap": -1,
        "PidsLimit": 20,
        "NanoCpus": 1_500_000_000,
        "CpusetCpus": "0",
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
    }
    assert update_config(_opts()) == {}
    with pytest.raises(UsageError, match='for "--cpu-shares" flag'):
        update_config(_opts(cpu_shares="lots"))
