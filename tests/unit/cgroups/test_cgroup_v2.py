"""CgroupV2Manager against a fake unified hierarchy."""

from __future__ import annotations

import logging
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard import errors
from dockyard._internal import lazylog
from dockyard.cgroups import CgroupV2Manager, DeviceRule, Resources, Stats, manager_for
from dockyard.cgroups.v2 import cpu_max, swap_max

from .fakes import V2_CONTROLLERS, FakeV2

PATH = "/dockyard/c1"
MiB = 1 << 20


@pytest.fixture
def fake(tmp_path: Path) -> FakeV2:
    return FakeV2(tmp_path)


@pytest.fixture
def manager(fake: FakeV2) -> CgroupV2Manager:
    fake.cgroup(PATH)
    m = manager_for(PATH, fake.root)
    assert isinstance(m, CgroupV2Manager)
    return m


def test_create_enables_controllers_in_every_parent(fake: FakeV2) -> None:
    fake.cgroup(PATH)
    fake.put("/dockyard", "cgroup.subtree_control", "cpu memory")
    manager_for(PATH, fake.root).create()
    wanted = " ".join(f"+{c}" for c in V2_CONTROLLERS.split())
    assert (fake.root / "cgroup.subtree_control").read_text() == wanted
    assert fake.read("/dockyard", "cgroup.subtree_control") == "+cpuset +io +hugetlb +pids"
    # The leaf keeps its own subtree_control empty, so processes may join it.
    assert fake.read(PATH, "cgroup.subtree_control") == ""


def test_create_destroy_exists_paths(fake: FakeV2) -> None:
    m = manager_for(PATH, fake.root)
    assert not m.exists()
    m.create()
    assert m.exists()
    assert m.paths() == {"": str(fake.root / "dockyard/c1")}
    m.destroy()
    m.destroy()
    assert not m.exists()
    assert (fake.root / "dockyard").is_dir()


def test_apply(manager: CgroupV2Manager, fake: FakeV2) -> None:
    manager.apply(77)
    assert fake.read(PATH, "cgroup.procs") == "77"


def test_set_writes_every_limit(manager: CgroupV2Manager, fake: FakeV2) -> None:
    manager.set(
        Resources(
            memory_limit=64 * MiB,
            memory_reservation=32 * MiB,
            memory_swap=96 * MiB,
            cpu_shares=1024,
            cpu_quota=50000,
            cpu_period=100000,
            cpuset_cpus="0-1",
            cpuset_mems="0",
            pids_limit=-1,
            blkio_weight=1000,
        )
    )
    assert fake.read(PATH, "memory.max") == str(64 * MiB)
    assert fake.read(PATH, "memory.low") == str(32 * MiB)
    assert fake.read(PATH, "memory.swap.max") == str(32 * MiB)  # total minus memory
    assert fake.read(PATH, "cpu.weight") == "39"
    assert fake.read(PATH, "cpu.max") == "50000 100000"
    assert fake.read(PATH, "cpuset.cpus") == "0-1"
    assert fake.read(PATH, "cpuset.mems") == "0"
    assert fake.read(PATH, "pids.max") == "max"
    assert fake.read(PATH, "io.weight") == "10000"


def test_unlimited_spellings(manager: CgroupV2Manager, fake: FakeV2) -> None:
    fake.put(PATH, "memory.swap.max", "0")
    manager.set(Resources(memory_limit=-1, cpu_quota=-1, cpu_period=200000, pids_limit=9))
    assert fake.read(PATH, "memory.max") == "max"
    assert fake.read(PATH, "memory.swap.max") == "max"
    assert fake.read(PATH, "cpu.max") == "max 200000"
    assert fake.read(PATH, "pids.max") == "9"


def test_swap_max_conversion() -> None:
    assert swap_max(None, None) is None
    assert swap_max(-1, None) == "max"
    assert swap_max(100, None) is None
    assert swap_max(100, -1) == "max"
    assert swap_max(100, 100) == "0"
    assert swap_max(100, 250) == "150"
    with pytest.raises(errors.InvalidArgument, match="needs a memory limit"):
        swap_max(None, 100)
    with pytest.raises(errors.InvalidArgument, match=r"below memory\.limit"):
        swap_max(100, 50)


def test_cpu_max_text() -> None:
    assert cpu_max(None, None) is None
    assert cpu_max(20000, None) == "20000"
    assert cpu_max(None, 50000) == "max 50000"
    assert cpu_max(-1, 50000) == "max 50000"


def test_swap_limit_without_swap_file(fake: FakeV2) -> None:
    fake.cgroup(PATH, drop=["memory.swap.max"])
    m = manager_for(PATH, fake.root)
    m.set(Resources(memory_limit=-1))  # "max" on a swapless kernel is fine
    with pytest.raises(errors.NotSupported, match=r"memory\.swap\.max is missing"):
        m.set(Resources(memory_limit=10 * MiB, memory_swap=20 * MiB))


def test_controller_not_enabled_is_not_supported(fake: FakeV2) -> None:
    fake.cgroup(PATH, drop=["pids.max"])
    with pytest.raises(errors.NotSupported, match=r"pids\.max.*file is missing"):
        manager_for(PATH, fake.root).set(Resources(pids_limit=5))


def test_io_weight_prefers_bfq(manager: CgroupV2Manager, fake: FakeV2) -> None:
    fake.put(PATH, "io.bfq.weight", "default 100")
    manager.set(Resources(blkio_weight=500))
    assert fake.read(PATH, "io.bfq.weight") == "500"
    assert fake.read(PATH, "io.weight") == "default 100"


def test_io_weight_missing(fake: FakeV2) -> None:
    fake.cgroup(PATH, drop=["io.weight"])
    with pytest.raises(errors.NotSupported, match=r"neither io\.bfq\.weight nor io\.weight"):
        manager_for(PATH, fake.root).set(Resources(blkio_weight=500))


def test_device_rules_are_skipped_with_a_warning(
    manager: CgroupV2Manager, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Forward the lazy loggers to logging, as `dockyard-runtime --debug` does.
    monkeypatch.setattr(lazylog._State, "enabled", True)
    with caplog.at_level(logging.WARNING, logger="dockyard.cgroups"):
        manager.set(Resources(devices=(DeviceRule(allow=True),)))
        assert not caplog.records
        manager.set(Resources(devices=(DeviceRule(allow=False), DeviceRule(True, "c", 1, 3))))
    assert "need eBPF" in caplog.text


def test_freeze_waits_for_the_kernel(manager: CgroupV2Manager, fake: FakeV2) -> None:
    fake.put(PATH, "cgroup.events", "populated 1\nfrozen 1\n")
    manager.freeze()
    assert fake.read(PATH, "cgroup.freeze") == "1"
    assert manager.frozen()
    fake.put(PATH, "cgroup.events", "populated 1\nfrozen 0\n")
    manager.thaw()
    assert fake.read(PATH, "cgroup.freeze") == "0"
    assert not manager.frozen()


def test_freeze_times_out_when_the_kernel_never_freezes(fake: FakeV2) -> None:
    fake.cgroup(PATH)
    m = CgroupV2Manager(fake.root, PATH, timeout=0.05)
    with pytest.raises(errors.SystemFault, match="did not freeze"):
        m.freeze()


def test_stats_and_oom(manager: CgroupV2Manager, fake: FakeV2) -> None:
    fake.put(PATH, "memory.current", "4096\n")
    fake.put(PATH, "memory.peak", "8192\n")
    fake.put(PATH, "memory.max", f"{20 * MiB}\n")
    fake.put(PATH, "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n")
    fake.put(PATH, "pids.current", "4\n")
    assert manager.stats() == Stats(4096, 8192, 20 * MiB, 1_500_000, 4, 0)
    assert not manager.oom_killed()
    fake.put(PATH, "memory.events", "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n")
    assert manager.oom_killed()
    assert manager.stats().oom_kills == 1


def test_pids_recursive_and_counted_without_pids_controller(fake: FakeV2) -> None:
    fake.cgroup(PATH, drop=["pids.current"])
    fake.put(PATH, "cgroup.procs", "5\n6\n")
    fake.cgroup(PATH + "/inner")
    fake.put(PATH + "/inner", "cgroup.procs", "7\n")
    m = manager_for(PATH, fake.root)
    assert m.pids() == [5, 6, 7]
    assert m.stats().pids_current == 3


def test_kill_all_uses_cgroup_kill_for_sigkill(manager: CgroupV2Manager, fake: FakeV2) -> None:
    manager.kill_all(signal.SIGKILL)
    assert fake.read(PATH, "cgroup.kill") == "1"


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_kill_all_other_signals_under_the_freezer(
    fake: FakeV2, sleeper: subprocess.Popen[bytes]
) -> None:
    fake.cgroup(PATH, drop=["cgroup.events"])  # the fake "kernel" freezes at once
    fake.put(PATH, "cgroup.procs", f"{sleeper.pid}\n")
    m = manager_for(PATH, fake.root)
    m.kill_all(signal.SIGTERM)
    assert sleeper.wait(timeout=10) == -signal.SIGTERM
    assert fake.read(PATH, "cgroup.freeze") == "0"
    assert fake.read(PATH, "cgroup.kill") == ""
