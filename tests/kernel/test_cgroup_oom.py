"""``Resources.disable_oom_killer`` against the host's real memory controller (v1
``memory.oom_control``): a process over the limit is stalled instead of killed."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dockyard.cgroups import Resources
from dockyard.errors import InvalidArgument
from tests.kernel.test_cgroups import MiB, Spawn, cgroup, limit_file, spawn, wait_for

if TYPE_CHECKING:
    from dockyard.cgroups import CgroupManager

pytestmark = pytest.mark.requires("cgroups")

__all__ = ["cgroup", "spawn"]  # fixtures of test_cgroups, used by name below


def oom_control(cgroup: CgroupManager) -> dict[str, int]:
    text = Path(cgroup.paths()["memory"], "memory.oom_control").read_text()
    return {k: int(v) for k, v in (line.split() for line in text.splitlines())}


def test_oom_killer_disabled_stalls_instead_of_killing(cgroup: CgroupManager, spawn: Spawn) -> None:
    if "memory" not in cgroup.paths():
        pytest.skip("no cgroup v1 memory controller: v2 cannot disable the OOM killer")
    assert oom_control(cgroup)["oom_kill_disable"] == 0
    swap = limit_file(cgroup, "memory.memsw.limit_in_bytes", "memory.swap.max")
    limits = Resources(
        memory_limit=20 * MiB,
        memory_swap=20 * MiB if swap.exists() else None,
        disable_oom_killer=True,
    )
    cgroup.set(limits)
    assert oom_control(cgroup)["oom_kill_disable"] == 1
    proc = spawn(sys.executable, "-c", "b = b'x' * (100 << 20)")
    # over its limit the process waits in the kernel (under_oom) and is not killed
    assert wait_for(lambda: oom_control(cgroup)["under_oom"] == 1, timeout=30)
    assert proc.poll() is None
    assert not cgroup.oom_killed()
    proc.kill()  # a stalled task still takes SIGKILL
    assert proc.wait(timeout=10) == -signal.SIGKILL


def test_oom_killer_stays_enabled_by_default(cgroup: CgroupManager) -> None:
    if "memory" not in cgroup.paths():
        pytest.skip("no cgroup v1 memory controller")
    cgroup.set(Resources.from_oci({"memory": {"limit": 32 * MiB, "disableOOMKiller": False}}))
    assert oom_control(cgroup)["oom_kill_disable"] == 0
    cgroup.set(Resources.from_oci({"memory": {"disableOOMKiller": True}}))
    assert oom_control(cgroup)["oom_kill_disable"] == 1


def test_oom_killer_flag_must_be_a_bool() -> None:
    with pytest.raises(InvalidArgument, match="disableOOMKiller: expected true or false"):
        Resources.from_oci({"memory": {"disableOOMKiller": 1}})
