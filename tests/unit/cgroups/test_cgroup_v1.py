"""CgroupV1Manager against a fake v1 hierarchy: what it writes, reads and removes."""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard import errors
from dockyard.cgroups import CgroupV1Manager, DeviceRule, Resources, Stats, manager_for
from dockyard.cgroups.v1 import MEMORY_LIMIT, MEMSW_LIMIT, device_writes, memory_writes

from .fakes import UNLIMITED_V1, FakeV1

PATH = "/dockyard/c1"
MiB = 1 << 20


@pytest.fixture
def fake(tmp_path: Path) -> FakeV1:
    return FakeV1(tmp_path)


@pytest.fixture
def manager(fake: FakeV1) -> CgroupV1Manager:
    fake.cgroup(PATH)
    m = manager_for(PATH, fake.root)
    assert isinstance(m, CgroupV1Manager)
    return m


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_create_and_destroy_every_hierarchy(fake: FakeV1) -> None:
    m = manager_for(PATH, fake.root)
    assert not m.exists()
    m.create()
    m.create()  # idempotent
    assert m.exists()
    dirs = {Path(d) for d in m.paths().values()}
    assert len(dirs) == len(fake.hierarchies)
    assert all(d.is_dir() for d in dirs)
    m.destroy()
    assert not m.exists()
    assert not any(d.exists() for d in dirs)
    assert (fake.root / "memory/dockyard").is_dir()  # the shared parent stays
    m.destroy()  # idempotent


def test_destroy_removes_child_cgroups_first(fake: FakeV1) -> None:
    m = manager_for(PATH, fake.root)
    m.create()
    (fake.dir("memory", PATH) / "inner/deeper").mkdir(parents=True)
    m.destroy()
    assert not fake.dir("memory", PATH).exists()


def test_create_copies_cpuset_from_parent(manager: CgroupV1Manager, fake: FakeV1) -> None:
    fake.put("cpuset", "/dockyard", "cpuset.cpus", "")
    manager.create()
    for path in ("/dockyard", PATH):
        assert fake.read("cpuset", path, "cpuset.cpus") == "0-3"
        assert fake.read("cpuset", path, "cpuset.mems") == "0"


def test_create_keeps_a_filled_cpuset(manager: CgroupV1Manager, fake: FakeV1) -> None:
    fake.put("cpuset", PATH, "cpuset.cpus", "2\n")
    manager.create()
    assert fake.read("cpuset", PATH, "cpuset.cpus") == "2"


def test_apply_writes_the_pid_everywhere(manager: CgroupV1Manager, fake: FakeV1) -> None:
    manager.apply(4242)
    for d in set(manager.paths().values()):
        assert Path(d, "cgroup.procs").read_text() == "4242"


def test_set_writes_every_limit(manager: CgroupV1Manager, fake: FakeV1) -> None:
    manager.set(
        Resources(
            memory_limit=64 * MiB,
            memory_reservation=32 * MiB,
            memory_swap=128 * MiB,
            cpu_shares=512,
            cpu_quota=50000,
            cpu_period=100000,
            cpuset_cpus="0-1",
            cpuset_mems="0",
            pids_limit=100,
            blkio_weight=300,
        )
    )
    assert fake.read("memory", PATH, MEMORY_LIMIT) == str(64 * MiB)
    assert fake.read("memory", PATH, MEMSW_LIMIT) == str(128 * MiB)
    assert fake.read("memory", PATH, "memory.soft_limit_in_bytes") == str(32 * MiB)
    assert fake.read("cpu", PATH, "cpu.shares") == "512"
    assert fake.read("cpu", PATH, "cpu.cfs_quota_us") == "50000"
    assert fake.read("cpu", PATH, "cpu.cfs_period_us") == "100000"
    assert fake.read("cpuset", PATH, "cpuset.cpus") == "0-1"
    assert fake.read("cpuset", PATH, "cpuset.mems") == "0"
    assert fake.read("pids", PATH, "pids.max") == "100"
    assert fake.read("blkio", PATH, "blkio.weight") == "300"


def test_set_leaves_unset_knobs_alone(manager: CgroupV1Manager, fake: FakeV1) -> None:
    manager.set(Resources(pids_limit=5))
    assert fake.read("memory", PATH, MEMORY_LIMIT) == UNLIMITED_V1
    assert fake.read("cpu", PATH, "cpu.shares") == "1024"
    assert fake.read("devices", PATH, "devices.deny") == ""


@pytest.mark.parametrize("limit", [0, -1])
def test_pids_limit_unlimited(manager: CgroupV1Manager, fake: FakeV1, limit: int) -> None:
    fake.put("pids", PATH, "pids.max", "7")
    manager.set(Resources(pids_limit=limit))
    assert fake.read("pids", PATH, "pids.max") == "max"


def test_unlimited_memory_also_lifts_swap(manager: CgroupV1Manager, fake: FakeV1) -> None:
    fake.put("memory", PATH, MEMSW_LIMIT, str(10 * MiB))
    manager.set(Resources(memory_limit=-1))
    assert fake.read("memory", PATH, MEMORY_LIMIT) == "-1"
    assert fake.read("memory", PATH, MEMSW_LIMIT) == "-1"


def test_swap_without_swap_accounting_is_not_supported(fake: FakeV1) -> None:
    fake.cgroup(PATH, drop=[MEMSW_LIMIT])
    m = manager_for(PATH, fake.root)
    with pytest.raises(errors.NotSupported, match=r"memory\.memsw\.limit_in_bytes is missing"):
        m.set(Resources(memory_limit=10 * MiB, memory_swap=20 * MiB))
    # Memory alone, or unlimited memory, needs no swap accounting.
    m.set(Resources(memory_limit=-1))
    m.set(Resources(memory_limit=10 * MiB))
    assert fake.read("memory", PATH, MEMORY_LIMIT) == str(10 * MiB)


def test_memory_writes_raise_the_bound_first() -> None:
    memsw = "memsw"

    def order(current: int, memory: int | None, swap: int | None) -> list[tuple[str, int]]:
        return memory_writes(Resources(memory_limit=memory, memory_swap=swap), current, True, memsw)

    # Growing: swap first, or memory would exceed the old memsw.
    assert order(10 * MiB, 50 * MiB, 100 * MiB) == [
        (MEMSW_LIMIT, 100 * MiB),
        (MEMORY_LIMIT, 50 * MiB),
    ]
    # Shrinking: memory first, or memsw would drop below the old memory limit.
    assert order(100 * MiB, 20 * MiB, 40 * MiB) == [
        (MEMORY_LIMIT, 20 * MiB),
        (MEMSW_LIMIT, 40 * MiB),
    ]
    assert order(100 * MiB, 20 * MiB, -1) == [(MEMSW_LIMIT, -1), (MEMORY_LIMIT, 20 * MiB)]
    assert order(100 * MiB, 20 * MiB, None) == [(MEMORY_LIMIT, 20 * MiB)]
    assert order(100 * MiB, None, 200 * MiB) == [(MEMSW_LIMIT, 200 * MiB)]


def test_device_rules_in_order_with_deny_all_first() -> None:
    rules = (
        DeviceRule(allow=False, access="r"),  # any 'a' rule is "all devices" to the kernel
        DeviceRule(allow=True, type="c", major=1, minor=3),
        DeviceRule(allow=True, type="c", major=136, access="rw"),
        DeviceRule(allow=False, type="b", major=8, minor=0, access="m"),
    )
    assert device_writes(rules) == [
        ("devices.deny", "a *:* rwm"),
        ("devices.allow", "c 1:3 rwm"),
        ("devices.allow", "c 136:* rw"),
        ("devices.deny", "b 8:0 m"),
    ]


def test_set_writes_device_rules(manager: CgroupV1Manager, fake: FakeV1) -> None:
    manager.set(Resources(devices=(DeviceRule(allow=False), DeviceRule(True, "c", 1, 5))))
    # Each write replaces the fake file, so it shows the last rule for each file.
    assert fake.read("devices", PATH, "devices.deny") == "a *:* rwm"
    assert fake.read("devices", PATH, "devices.allow") == "c 1:5 rwm"


def test_blkio_weight_falls_back_to_bfq(fake: FakeV1) -> None:
    fake.cgroup(PATH, drop=["blkio.weight"])
    fake.put("blkio", PATH, "blkio.bfq.weight", "100")
    manager_for(PATH, fake.root).set(Resources(blkio_weight=700))
    assert fake.read("blkio", PATH, "blkio.bfq.weight") == "700"


def test_blkio_weight_without_any_weight_file(fake: FakeV1) -> None:
    fake.cgroup(PATH, drop=["blkio.weight"])
    with pytest.raises(errors.NotSupported, match=r"neither blkio\.weight nor blkio\.bfq\.weight"):
        manager_for(PATH, fake.root).set(Resources(blkio_weight=700))


def test_missing_hierarchy_is_not_supported(tmp_path: Path) -> None:
    fake = FakeV1(tmp_path, ["memory"])
    fake.cgroup(PATH)
    m = manager_for(PATH, tmp_path)
    with pytest.raises(errors.NotSupported, match="no cgroup v1 'pids' hierarchy"):
        m.set(Resources(pids_limit=3))
    with pytest.raises(errors.NotSupported, match="'freezer'"):
        m.freeze()


def test_writing_before_create_is_not_found(fake: FakeV1) -> None:
    m = manager_for(PATH, fake.root)
    with pytest.raises(errors.NotFound, match=r"create it before writing pids\.max"):
        m.set(Resources(pids_limit=3))
    with pytest.raises(errors.NotFound):
        m.stats()


def test_freeze_and_thaw(manager: CgroupV1Manager, fake: FakeV1) -> None:
    assert not manager.frozen()
    manager.freeze()
    assert fake.read("freezer", PATH, "freezer.state") == "FROZEN"
    assert manager.frozen()
    manager.thaw()
    assert fake.read("freezer", PATH, "freezer.state") == "THAWED"
    assert not manager.frozen()


def test_pids_are_collected_recursively(manager: CgroupV1Manager, fake: FakeV1) -> None:
    fake.put("memory", PATH, "cgroup.procs", "10\n11\n")
    inner = fake.dir("pids", PATH) / "inner"
    inner.mkdir()
    (inner / "cgroup.procs").write_text("12\n")
    assert manager.pids() == [10, 11, 12]


def test_stats_and_oom(manager: CgroupV1Manager, fake: FakeV1) -> None:
    fake.put("memory", PATH, "memory.usage_in_bytes", "1000\n")
    fake.put("memory", PATH, "memory.max_usage_in_bytes", "2000\n")
    fake.put("cpuacct", PATH, "cpuacct.usage", "123456789\n")
    fake.put("pids", PATH, "pids.current", "3\n")
    assert manager.stats() == Stats(1000, 2000, -1, 123456789, 3, 0)
    assert not manager.oom_killed()
    fake.put("memory", PATH, MEMORY_LIMIT, str(20 * MiB))
    fake.put("memory", PATH, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert manager.stats().memory_limit == 20 * MiB
    assert manager.stats().oom_kills == 2
    assert manager.oom_killed()


def test_kill_all_signals_under_the_freezer(
    manager: CgroupV1Manager, fake: FakeV1, sleeper: subprocess.Popen[bytes]
) -> None:
    fake.put("memory", PATH, "cgroup.procs", f"{sleeper.pid}\n")
    manager.kill_all(signal.SIGTERM)
    assert sleeper.wait(timeout=10) == -signal.SIGTERM
    assert fake.read("freezer", PATH, "freezer.state") == "THAWED"


def test_kill_all_keeps_a_paused_cgroup_paused(
    manager: CgroupV1Manager, fake: FakeV1, sleeper: subprocess.Popen[bytes]
) -> None:
    fake.put("memory", PATH, "cgroup.procs", f"{sleeper.pid}\n")
    manager.freeze()
    manager.kill_all(signal.SIGTERM)
    assert sleeper.wait(timeout=10) == -signal.SIGTERM
    assert manager.frozen()
    manager.kill_all(signal.SIGKILL)  # SIGKILL needs a thaw to take effect on v1
    assert not manager.frozen()


def test_named_hierarchies_are_best_effort(fake: FakeV1) -> None:
    fake.cgroup(PATH)
    # Something that is not a directory where the systemd cgroup should be.
    shutil.rmtree(fake.root / "systemd/dockyard/c1")
    (fake.root / "systemd/dockyard/c1").write_text("")
    m = manager_for(PATH, fake.root)
    m.create()
    m.apply(31)
    assert fake.read("memory", PATH, "cgroup.procs") == "31"
