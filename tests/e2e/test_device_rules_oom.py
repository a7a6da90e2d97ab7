"""``--device-cgroup-rule`` and ``--oom-kill-disable`` end to end, under our runtime and
runc: a rule lets the container open a device node it made with ``mknod`` (the cgroup v1
devices controller refuses it otherwise), and a container without an OOM killer stalls
at its memory limit instead of being killed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dockyard.testing.daemon import Daemon
from dockyard.testing.names import unique
from tests.e2e.test_containers_api import raw

pytestmark = pytest.mark.requires("root")

BUSYBOX = "busybox:latest"
RUNTIMES = ["dockyard", "runc"]
# /dev/fuse (10:229) opens without any capability; /dev/loop0 (7:0) reads as empty
OPEN_FUSE = "mknod /dev/dyt-fuse c 10 229 && : < /dev/dyt-fuse && echo opened"
# mknod is allowed by default ("c *:* m"): the devices controller refuses the open
FUSE_REFUSED = "sh: can't open /dev/dyt-fuse: Operation not permitted"
READ_LOOP = "mknod /dev/dyt-loop b 7 0 && dd if=/dev/dyt-loop of=/dev/null count=1 && echo read"
NO_LIMIT_WARNING = (
    "OOM killer is disabled for the container, but no memory limit is set, this can "
    "result in the system running out of resources."
)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_device_cgroup_rule_allows_the_device(daemon: Daemon, runtime: str) -> None:
    def run(script: str, *rules: str) -> tuple[int, str]:
        flags = [f"--device-cgroup-rule={rule}" for rule in rules]
        res = daemon.docker(
            "run", "--rm", "--network", "none", "--runtime", runtime, *flags,
            BUSYBOX, "sh", "-c", script,
            check=False,
        )  # fmt: skip
        return res.returncode, res.stdout + res.stderr

    code, out = run(OPEN_FUSE)
    assert code != 0 and FUSE_REFUSED in out
    for rule in ("c 10:229 rwm", "c 10:* rw", "a *:* rwm"):
        assert run(OPEN_FUSE, rule) == (0, "opened\n"), rule
    code, out = run(OPEN_FUSE, "c 10:230 rwm")  # another minor: still refused
    assert code != 0 and FUSE_REFUSED in out
    code, out = run(READ_LOOP)
    assert code != 0 and "can't open '/dev/dyt-loop': Operation not permitted" in out
    code, out = run(READ_LOOP, "b 7:* r")
    assert code == 0 and out.startswith("read\n")  # stdout, then dd's counts on stderr


def test_device_cgroup_rules_in_inspect_and_bad_rules(daemon: Daemon, names: list[str]) -> None:
    n = unique()
    names.append(n)
    daemon.dockyard(
        "create", "--name", n, "--device-cgroup-rule", "c 1:3 rwm",
        "--device-cgroup-rule", "b 8:* r", BUSYBOX,
    )  # fmt: skip
    rules = daemon.docker("inspect", "-f", "{{json .HostConfig.DeviceCgroupRules}}", n).stdout
    assert json.loads(rules) == ["c 1:3 rwm", "b 8:* r"]

    # the daemon checks them with dockerd's pattern and message
    body = {"Image": BUSYBOX, "HostConfig": {"DeviceCgroupRules": ["c 1:3 rwx"]}}
    status, doc = raw(daemon, "POST", "/containers/create", json.dumps(body).encode())
    assert (status, doc["message"]) == (400, "invalid device cgroup rule format: 'c 1:3 rwx'")
    # and so do the CLIs, before anything is sent
    theirs = daemon.docker("create", "--device-cgroup-rule", "x 1:3 r", BUSYBOX, check=False)
    assert theirs.returncode != 0 and "invalid device cgroup format 'x 1:3 r'" in theirs.stderr
    mine = daemon.dockyard("create", "--device-cgroup-rule", "x 1:3 r", BUSYBOX, check=False)
    assert mine.returncode != 0 and "invalid device cgroup format 'x 1:3 r'" in mine.stderr
    assert daemon.docker("ps", "-aq").stdout.split() == [
        daemon.docker("inspect", "-f", "{{.Id}}", n).stdout.strip()[:12]
    ]


def oom_control(daemon: Daemon, name: str) -> dict[str, int]:
    cid = daemon.docker("inspect", "-f", "{{.Id}}", name).stdout.strip()
    path = Path("/sys/fs/cgroup/memory", daemon.cgroup_parent.strip("/"), cid, "memory.oom_control")
    return {k: int(v) for k, v in (line.split() for line in path.read_text().splitlines())}


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_oom_kill_disable_stalls_instead_of_killing(
    daemon: Daemon, names: list[str], runtime: str
) -> None:
    n = unique()
    names.append(n)
    # a string that doubles for ever: its copies fault in user space, where the kernel
    # makes a task over its limit wait (a read() into a buffer would just come up short)
    hog = "echo start; awk 'BEGIN { s = \"x\"; while (1) s = s s }'; echo survived"
    res = daemon.docker(
        "run", "-d", "--name", n, "--network", "none", "--runtime", runtime, "-m", "16m",
        "--memory-swap", "16m", "--oom-kill-disable", BUSYBOX, "sh", "-c", hog,
    )  # fmt: skip
    assert "WARNING" not in res.stderr  # a memory limit is set: nothing to warn about
    assert oom_control(daemon, n)["oom_kill_disable"] == 1
    deadline = time.monotonic() + 30
    while oom_control(daemon, n)["under_oom"] != 1:
        assert time.monotonic() < deadline, "the container never reached its limit"
        time.sleep(0.1)
    time.sleep(0.5)
    state = "{{.State.Status}} {{.State.OOMKilled}} {{.HostConfig.OomKillDisable}}"
    assert daemon.docker("inspect", "-f", state, n).stdout.strip() == "running false true"
    assert daemon.docker("logs", n).stdout == "start\n"
    daemon.docker("kill", n)  # a stalled container still dies of SIGKILL
    assert daemon.docker("wait", n).stdout.strip() == "137"


def test_oom_kill_disable_without_a_limit_warns(daemon: Daemon, names: list[str]) -> None:
    n = unique()
    names.append(n)
    res = daemon.docker("create", "--name", n, "--network", "none", "--oom-kill-disable", BUSYBOX)
    assert res.stderr == f"WARNING: {NO_LIMIT_WARNING}\n"
    body = {"Image": BUSYBOX, "HostConfig": {"OomKillDisable": True, "NetworkMode": "none"}}
    status, doc = raw(daemon, "POST", "/containers/create", json.dumps(body).encode())
    assert status == 201 and doc["Warnings"] == [NO_LIMIT_WARNING]
    names.append(doc["Id"])
    mine = daemon.dockyard(
        "run", "-d", "--network", "none", "--oom-kill-disable", BUSYBOX, "sleep", "300"
    )
    assert mine.stderr == f"WARNING: {NO_LIMIT_WARNING}\n"
    names.append(mine.stdout.strip())
    assert oom_control(daemon, mine.stdout.strip())["oom_kill_disable"] == 1
    # not asked for: the kernel's default, the killer on
    plain = unique()
    names.append(plain)
    daemon.docker("run", "-d", "--name", plain, "-m", "16m", BUSYBOX, "sleep", "300")
    assert oom_control(daemon, plain)["oom_kill_disable"] == 0
