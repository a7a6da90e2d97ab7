"""``linux.resources.memory.disableOOMKiller`` and an extra ``linux.resources.devices``
allow rule, under ours, runc and crun: the same bundle, the same kernel settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.testing.lab import Lab

pytestmark = [pytest.mark.requires("busybox"), pytest.mark.requires("cgroup-hybrid")]

CGROUP = Path("/sys/fs/cgroup")
DENY_ALL = {"allow": False, "access": "rwm"}
# /dev/fuse (10:229) opens without any capability
OPEN_FUSE = "mknod /dev/dyt-fuse c 10 229 && : < /dev/dyt-fuse && echo opened"


def oom_kill_disable(cid: str) -> str:
    text = (CGROUP / "memory" / cid / "memory.oom_control").read_text()
    return dict(line.split() for line in text.splitlines())["oom_kill_disable"]


def test_oom_killer_disabled(lab: Lab) -> None:
    off = {"memory": {"limit": 32 << 20, "disableOOMKiller": True}}
    assert oom_kill_disable(lab.created("sleep 30", resources=off)) == "1"
    on = {"memory": {"limit": 32 << 20, "disableOOMKiller": False}}
    assert oom_kill_disable(lab.created("sleep 30", resources=on)) == "0"


def test_device_allow_rule(lab: Lab) -> None:
    mknod = {"allow": True, "type": "c", "access": "m"}
    fuse = {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "r"}
    caps = ["CAP_MKNOD"]
    denied = lab.sh(OPEN_FUSE, capabilities=caps, resources={"devices": [DENY_ALL, mknod]})
    # the node is made ("m"), its open is refused by the devices controller
    assert denied.returncode != 0
    assert denied.stderr == "sh: can't open /dev/dyt-fuse: Operation not permitted\n"
    allowed = lab.sh(OPEN_FUSE, capabilities=caps, resources={"devices": [DENY_ALL, mknod, fuse]})
    assert (allowed.returncode, allowed.stdout, allowed.stderr) == (0, "opened\n", "")
