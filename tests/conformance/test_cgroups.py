"""cgroup v1 limits in effect, seen from inside the container and from the host."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.testing.lab import Lab

pytestmark = [pytest.mark.requires("busybox"), pytest.mark.requires("cgroup-hybrid")]

CGROUP = Path("/sys/fs/cgroup")
RESOURCES = {
    "memory": {"limit": 64 << 20},
    "pids": {"limit": 32},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000},
}
FILES = {
    "memory/memory.limit_in_bytes": str(64 << 20),
    "pids/pids.max": "32",
    "cpu/cpu.shares": "512",
    "cpu/cpu.cfs_quota_us": "50000",
    "cpu/cpu.cfs_period_us": "100000",
}


def test_limits_seen_inside(lab: Lab) -> None:
    # /sys/fs/cgroup/<controller> inside is the container's own cgroup (a bind of it)
    out = lab.out("cd /sys/fs/cgroup && cat " + " ".join(FILES), resources=RESOURCES)
    assert out.split() == list(FILES.values())


def test_limits_in_host_cgroup_files(lab: Lab) -> None:
    cid = lab.created("sleep 30", resources=RESOURCES)
    seen = {f: (CGROUP / Path(f).parent / cid / Path(f).name).read_text().strip() for f in FILES}
    assert seen == FILES
    pid = lab.runtime.state_json(cid)["pid"]
    assert (CGROUP / "pids" / cid / "cgroup.procs").read_text().split() == [str(pid)]


def test_process_is_in_cgroups_path_in_every_hierarchy(lab: Lab) -> None:
    out = lab.out("cat /proc/self/cgroup")
    hierarchies = [line.split(":", 2) for line in out.splitlines()]
    # v1 hierarchies only: whether the hybrid host's empty cgroup2 mount is joined differs
    paths = {controllers: path for _, controllers, path in hierarchies if controllers}
    cid = next(iter(paths.values())).lstrip("/")
    assert cid.startswith("dyt-")
    assert set(paths.values()) == {f"/{cid}"}
    expected = {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"}
    assert expected <= set(paths)


def test_pids_limit_is_enforced(lab: Lab) -> None:
    # pids.max 4: sh (1), a child sh and two sleeps fill it; the child's next fork fails
    res = lab.sh(
        "sh -c 'for i in 1 2 3 4 5; do sleep 1 & done'; echo rc=$?",
        resources={"pids": {"limit": 4}},
    )
    assert res.stdout == "rc=2\n"
    assert "can't fork" in res.stderr


def test_memory_limit_is_enforced(lab: Lab) -> None:
    # 8 MiB, no swap: filling 32 MiB of tmpfs (charged to the cgroup) gets the container
    # oom-killed; which process goes first is the kernel's choice, but none finishes
    res = lab.sh(
        "head -c 33554432 /dev/zero > /dev/shm/fill; echo head=$?",
        resources={"memory": {"limit": 8 << 20, "swap": 8 << 20}},
    )
    assert res.returncode == 137 or "head=137" in res.stdout
    assert "head=0" not in res.stdout


def test_cgroup_is_removed_on_delete(lab: Lab) -> None:
    cid = lab.created("true")
    assert (CGROUP / "memory" / cid).is_dir()
    assert lab.runtime.delete(cid, force=True).returncode == 0
    left = [str(p) for p in CGROUP.glob(f"*/{cid}")]
    assert left == []


def test_device_cgroup_denies_unlisted_devices(lab: Lab) -> None:
    # the default spec denies every device; only the defaults are allowed again
    out = lab.out("cat /sys/fs/cgroup/devices/devices.list")
    allowed = set(out.split("\n")) - {""}
    for rule in ("c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm"):
        assert rule in allowed
    assert "a *:* rwm" not in allowed
