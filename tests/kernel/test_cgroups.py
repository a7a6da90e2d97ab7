"""cgroup managers against the host's real /sys/fs/cgroup, with real processes.

Every test gets its own ``/dyt-<hex>`` cgroup, which the fixture kills and removes even
when the test fails. Processes are started behind a gate (a shell blocked on ``read``)
so that they are inside the cgroup before they run the code under test.
"""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dockyard.cgroups import CgroupHybridManager, Resources, manager_for

if TYPE_CHECKING:
    from dockyard.cgroups import CgroupManager

pytestmark = pytest.mark.requires("cgroups")

MiB = 1 << 20
Spawn = Callable[..., subprocess.Popen[bytes]]


def wait_for(done: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def cgroup() -> Iterator[CgroupManager]:
    manager = manager_for(f"/dyt-{secrets.token_hex(5)}")
    try:
        manager.create()
        yield manager
    finally:
        if manager.exists():
            manager.kill_all(signal.SIGKILL)
            wait_for(lambda: not manager.pids())
        manager.destroy()


@pytest.fixture
def spawn(cgroup: CgroupManager) -> Iterator[Spawn]:
    """Start ``argv`` inside the cgroup: applied while gated, then released."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*argv: str, stderr: int | None = None) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            ["sh", "-c", 'read _ && exec "$@"', "gate", *argv],
            stdin=subprocess.PIPE,
            stderr=stderr,
        )
        started.append(proc)
        cgroup.apply(proc.pid)
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.close()
        return proc

    try:
        yield start
    finally:
        for proc in started:
            proc.kill()
            proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()


def limit_file(cgroup: CgroupManager, v1_name: str, v2_name: str) -> Path:
    paths = cgroup.paths()
    directory = Path(paths.get("memory", paths[""]))
    return directory / v1_name if (directory / v1_name).exists() else directory / v2_name


def test_apply_moves_the_process(cgroup: CgroupManager, spawn: Spawn) -> None:
    proc = spawn("sleep", "30")
    assert proc.pid in cgroup.pids()
    name = Path(cgroup.paths()["memory" if "memory" in cgroup.paths() else ""]).name
    assert name in Path(f"/proc/{proc.pid}/cgroup").read_text()
    if isinstance(cgroup, CgroupHybridManager):
        # Tracked in the cgroup2 mount too, as systemd does for its units.
        procs = Path(cgroup.paths()[""], "cgroup.procs").read_text().split()
        assert str(proc.pid) in procs


def test_memory_limit_reaches_the_kernel(cgroup: CgroupManager) -> None:
    cgroup.set(Resources(memory_limit=64 * MiB))
    path = limit_file(cgroup, "memory.limit_in_bytes", "memory.max")
    assert int(path.read_text()) == 64 * MiB
    assert cgroup.stats().memory_limit == 64 * MiB
    cgroup.set(Resources(memory_limit=32 * MiB, memory_swap=48 * MiB))
    assert int(path.read_text()) == 32 * MiB
    cgroup.set(Resources(memory_limit=-1))
    assert cgroup.stats().memory_limit == -1


def test_pids_limit_is_enforced(cgroup: CgroupManager, spawn: Spawn) -> None:
    cgroup.set(Resources(pids_limit=3))
    # The sleeps must not hold the stderr pipe open, or reading it waits for them.
    script = "for i in 1 2 3 4 5 6; do sleep 30 >/dev/null 2>&1 & done; wait"
    proc = spawn("sh", "-c", script, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    # The shell dies on the first refused fork: itself plus two sleeps fit the limit.
    assert proc.wait(timeout=10) != 0
    assert len(cgroup.pids()) == 2
    assert cgroup.stats().pids_current <= 3
    assert b"cannot fork" in proc.stderr.read().lower()


def test_freeze_and_thaw(cgroup: CgroupManager, spawn: Spawn) -> None:
    spawn("sleep", "30")
    cgroup.freeze()
    assert cgroup.frozen()
    paths = cgroup.paths()
    if "freezer" in paths:
        assert Path(paths["freezer"], "freezer.state").read_text().strip() == "FROZEN"
    else:
        assert "frozen 1" in Path(paths[""], "cgroup.events").read_text()
    cgroup.thaw()
    assert not cgroup.frozen()


def test_stats_show_cpu_and_memory(cgroup: CgroupManager, spawn: Spawn) -> None:
    busy = (
        "import time\nb = b'x' * (16 << 20)\nend = time.time() + 0.3\n"
        "while time.time() < end: pass\ntime.sleep(30)"
    )
    spawn(sys.executable, "-c", busy)
    assert wait_for(lambda: cgroup.stats().cpu_usage_ns > 100_000_000)
    assert wait_for(lambda: cgroup.stats().memory_usage >= 16 * MiB)
    stats = cgroup.stats()
    assert stats.memory_peak >= stats.memory_usage or stats.memory_peak == 0
    assert stats.pids_current == 1
    assert not cgroup.oom_killed()


def test_oom_kill_is_detected(cgroup: CgroupManager, spawn: Spawn) -> None:
    swap_file = limit_file(cgroup, "memory.memsw.limit_in_bytes", "memory.swap.max")
    has_swap = len(Path("/proc/swaps").read_text().splitlines()) > 1
    if has_swap and not swap_file.exists():
        pytest.skip("swap is on but cannot be limited: the OOM killer might never run")
    swap = 20 * MiB if swap_file.exists() else None
    cgroup.set(Resources(memory_limit=20 * MiB, memory_swap=swap))
    proc = spawn(sys.executable, "-c", "b = b'x' * (100 << 20)")
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert cgroup.oom_killed()
    assert cgroup.stats().oom_kills >= 1


def test_kill_all_kills_everything(cgroup: CgroupManager, spawn: Spawn) -> None:
    proc = spawn("sh", "-c", "sleep 30 & sleep 30 & sleep 30 & wait")
    assert wait_for(lambda: len(cgroup.pids()) == 4)
    cgroup.kill_all(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    assert wait_for(lambda: not cgroup.pids())


def test_kill_all_with_sigterm(cgroup: CgroupManager, spawn: Spawn) -> None:
    proc = spawn("sleep", "30")
    cgroup.kill_all(signal.SIGTERM)
    assert proc.wait(timeout=10) == -signal.SIGTERM
    assert not cgroup.frozen()


def test_destroy_removes_every_directory(cgroup: CgroupManager, spawn: Spawn) -> None:
    spawn("sleep", "30")
    dirs = {Path(d) for d in cgroup.paths().values()}
    assert all(d.is_dir() for d in dirs)
    # Right after the kill the task may still be exiting: destroy waits for it.
    cgroup.kill_all(signal.SIGKILL)
    cgroup.destroy()
    assert not cgroup.exists()
    assert not any(d.exists() for d in dirs)
    cgroup.destroy()
