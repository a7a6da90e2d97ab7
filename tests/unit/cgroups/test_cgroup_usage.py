"""``read_usage``: the counters behind ``docker stats``, from v1 and v2 control files."""

from __future__ import annotations

from pathlib import Path

from dockyard.cgroups.manager import UNLIMITED
from dockyard.cgroups.usage import BlkioEntry, read_usage, system_cpu_ns


def files(d: Path, contents: dict[str, str]) -> str:
    d.mkdir(parents=True)
    for name, text in contents.items():
        (d / name).write_text(text)
    return str(d)


def test_v1_counters(tmp_path: Path) -> None:
    paths = {
        "cpuacct": files(tmp_path / "cpuacct", {
            "cpuacct.usage": "3000000000\n", "cpuacct.usage_percpu": "1000000000 2000000000 \n",
            "cpuacct.stat": "user 120\nsystem 30\n"}),
        "cpu": files(tmp_path / "cpu", {
            "cpu.stat": "nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n"}),
        "memory": files(tmp_path / "memory", {
            "memory.usage_in_bytes": "4096000\n", "memory.max_usage_in_bytes": "8192000\n",
            "memory.limit_in_bytes": "67108864\n", "memory.failcnt": "3\n",
            "memory.stat": "cache 100\ntotal_inactive_file 4000\n"}),
        "pids": files(tmp_path / "pids", {"pids.current": "2\n", "pids.max": "20\n"}),
        "blkio": files(tmp_path / "blkio", {
            "blkio.throttle.io_service_bytes_recursive":
                "8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n",
            "blkio.throttle.io_serviced_recursive": "8:0 Read 1\n8:0 Write 2\n"}),
        "name=systemd": str(tmp_path / "systemd"),
        "": str(tmp_path / "unified"),  # hybrid: a cgroup2 dir without controllers
    }  # fmt: skip
    u = read_usage(paths)
    assert not u.v2
    assert (u.cpu_total_ns, u.cpu_percpu_ns) == (3_000_000_000, (1_000_000_000, 2_000_000_000))
    assert (u.cpu_user_ns, u.cpu_kernel_ns) == (1_200_000_000, 300_000_000)
    assert (u.throttle_periods, u.throttled_periods, u.throttled_ns) == (10, 2, 5000)
    assert (u.memory_usage, u.memory_max_usage, u.memory_limit) == (4096000, 8192000, 67108864)
    assert u.memory_failcnt == 3
    assert u.memory_stat == {"cache": 100, "total_inactive_file": 4000}
    assert (u.pids_current, u.pids_limit) == (2, 20)
    assert u.io_service_bytes == (
        BlkioEntry(8, 0, "read", 4096), BlkioEntry(8, 0, "write", 8192),
        BlkioEntry(8, 0, "total", 12288),
    )  # fmt: skip
    assert len(u.io_serviced) == 2


def test_v1_unlimited_and_missing_controllers(tmp_path: Path) -> None:
    memory = files(tmp_path / "memory", {"memory.limit_in_bytes": "9223372036854771712\n"})
    u = read_usage({"memory": memory, "pids": files(tmp_path / "pids", {"pids.max": "max"})})
    assert u.memory_limit == UNLIMITED
    assert (u.pids_limit, u.cpu_total_ns, u.io_service_bytes) == (0, 0, ())


def test_v2_counters(tmp_path: Path) -> None:
    d = files(tmp_path / "c", {
        "cpu.stat": "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 4\n"
                    "nr_throttled 1\nthrottled_usec 7\n",
        "memory.current": "1048576\n", "memory.peak": "2097152\n", "memory.max": "max\n",
        "memory.events": "max 5\noom_kill 0\n", "memory.stat": "anon 10\ninactive_file 20\n",
        "pids.current": "1\n", "pids.max": "max\n",
        "io.stat": "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
    })  # fmt: skip
    u = read_usage({"": d})
    assert u.v2
    assert (u.cpu_total_ns, u.cpu_user_ns, u.cpu_kernel_ns) == (2_500_000, 2_000_000, 500_000)
    assert (u.throttle_periods, u.throttled_periods, u.throttled_ns) == (4, 1, 7000)
    assert (u.memory_usage, u.memory_max_usage, u.memory_limit) == (1048576, 2097152, UNLIMITED)
    assert u.memory_failcnt == 5
    assert u.memory_stat["inactive_file"] == 20
    assert (u.pids_current, u.pids_limit) == (1, 0)
    assert u.io_service_bytes == (BlkioEntry(8, 0, "read", 100), BlkioEntry(8, 0, "write", 200))
    assert u.io_serviced == (BlkioEntry(8, 0, "read", 1), BlkioEntry(8, 0, "write", 2))


def test_system_cpu_time_sums_user_to_softirq(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 1 50 1000 9 2 3 55 0 0\ncpu0 50 0 25 500 4 1 1 22 0 0\n")
    # user nice system idle iowait irq softirq = 1165 ticks of 10 ms
    assert system_cpu_ns(str(stat)) == 1165 * 10_000_000
    assert system_cpu_ns() > 0
