"""``--ipc``, ``--pid``, ``--uts``, ``--cgroupns`` and ``--shm-size`` end to end: the real
docker CLI 28 (and the dockyard CLI) against a private dockyardd, each mode looked at
from inside the container (namespace links, /dev/shm, ps, hostname, /proc/self/cgroup),
dockerd's errors for bad values and targets, and what inspect reports."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import Daemon
from dockyard.testing.names import unique

pytestmark = pytest.mark.requires("root")

BUSYBOX = "busybox:latest"


def run(daemon: Daemon, *argv: str) -> str:
    """``docker run --rm ARGV``: its stdout."""
    return daemon.docker("run", "--rm", *argv, timeout=90).stdout


def fails(daemon: Daemon, *argv: str) -> str:
    """``docker ARGV`` that must fail: its stderr."""
    res = daemon.docker(*argv, check=False, timeout=90)
    assert res.returncode != 0, res.stdout
    return res.stderr


def inspect(daemon: Daemon, name: str) -> dict[str, Any]:
    doc: list[dict[str, Any]] = json.loads(daemon.docker("inspect", name).stdout)
    return doc[0]


def detached(daemon: Daemon, name: str, *argv: str, script: str = "sleep 300") -> str:
    """A running container ``name`` (its full id) that runs ``script`` under sh."""
    daemon.docker("run", "-d", "--name", name, *argv, BUSYBOX, "sh", "-c", script)
    return str(inspect(daemon, name)["Id"])


def ns_link(kind: str, pid: str = "self") -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def shm_mounts() -> list[str]:
    """Mount points of this (the host's) mount namespace that are a container's shm."""
    text = Path("/proc/self/mountinfo").read_text()
    return [line.split()[4] for line in text.splitlines() if line.split()[4].endswith("/shm")]


def test_ipc_container_joins_the_namespace_and_shm_of_a_shareable_one(daemon: Daemon) -> None:
    donor = unique("ipc")
    donor_id = detached(
        daemon,
        donor,
        "--ipc",
        "shareable",
        "--shm-size",
        "2m",
        script="echo from-donor > /dev/shm/marker; readlink /proc/self/ns/ipc; sleep 300",
    )
    donor_ns = ns_link("ipc", str(inspect(daemon, donor)["State"]["Pid"]))
    assert donor_ns != ns_link("ipc")  # its own namespace
    out = run(
        daemon,
        "--ipc",
        f"container:{donor}",
        BUSYBOX,
        "sh",
        "-c",
        "cat /dev/shm/marker; readlink /proc/self/ns/ipc; echo back > /dev/shm/reply; "
        "df -k /dev/shm | tail -1",
    ).split("\n")
    assert out[0] == "from-donor"
    assert out[1] == donor_ns
    assert out[2].split()[1] == "2048"  # the donor's tmpfs, of the donor's size
    # the donor sees what the joiner wrote
    reply = daemon.docker("exec", donor, "cat", "/dev/shm/reply").stdout
    assert reply == "back\n"
    # a private container has neither
    private = run(daemon, BUSYBOX, "sh", "-c", "readlink /proc/self/ns/ipc; ls /dev/shm")
    assert private.split("\n")[0] not in (donor_ns, ns_link("ipc"))
    assert "marker" not in private
    assert inspect(daemon, donor)["HostConfig"]["IpcMode"] == "shareable"
    # the daemon's tmpfs lives as long as the run
    mine = [m for m in shm_mounts() if donor_id in m]
    assert len(mine) == 1
    daemon.docker("stop", "-t", "0", donor)
    assert not [m for m in shm_mounts() if donor_id in m]
    daemon.docker("rm", donor)


def test_ipc_container_refuses_a_private_or_stopped_target(daemon: Daemon) -> None:
    private = unique("priv")
    private_id = detached(daemon, private)
    err = fails(daemon, "run", "--rm", "--ipc", f"container:{private}", BUSYBOX, "true")
    assert (
        f"can't join IPC of container {private_id}: non-shareable IPC "
        "(hint: use IpcMode:shareable for the donor container)"
    ) in err
    stopped = unique("stopped")
    daemon.docker("create", "--name", stopped, "--ipc", "shareable", BUSYBOX, "true")
    stopped_id = inspect(daemon, stopped)["Id"]
    err = fails(daemon, "run", "--name", unique("j"), "--pid", f"container:{stopped}", BUSYBOX)
    assert f"container {stopped_id} is not running" in err
    err = fails(daemon, "run", "--rm", "--ipc", f"container:{stopped}", BUSYBOX, "true")
    assert f"can't join IPC of container {stopped_id}: container {stopped_id} is not running" in (
        err
    )
    # a target that does not exist: 400 at create, so the CLI does not try a pull
    before = daemon.docker("ps", "-aq").stdout.split()
    for flag in ("--ipc", "--pid"):
        err = fails(daemon, "run", "--rm", flag, "container:nosuch", BUSYBOX, "true")
        assert "No such container: nosuch" in err
        assert "Unable to find image" not in err
    assert daemon.docker("ps", "-aq").stdout.split() == before
    daemon.docker("rm", "-f", private)


def test_ipc_host_and_none(daemon: Daemon) -> None:
    marker = Path("/dev/shm") / unique("host-shm")
    marker.write_text("from-host\n")
    try:
        out = run(
            daemon,
            "--ipc",
            "host",
            BUSYBOX,
            "sh",
            "-c",
            f"readlink /proc/self/ns/ipc; cat /dev/shm/{marker.name}",
        )
    finally:
        marker.unlink()
    assert out.split("\n")[:2] == [ns_link("ipc"), "from-host"]
    out = run(
        daemon,
        "--ipc",
        "none",
        BUSYBOX,
        "sh",
        "-c",
        "readlink /proc/self/ns/ipc; grep -c ' /dev/shm ' /proc/self/mountinfo; "
        "test -e /dev/shm && echo exists || echo absent",
    )
    link, count, there = out.split("\n")[:3]
    assert link != ns_link("ipc")  # still its own namespace
    assert (count, there) == ("0", "absent")


def test_shm_size(daemon: Daemon) -> None:
    name = unique("shm")
    out = daemon.docker(
        "run", "--name", name, "--shm-size", "1m", BUSYBOX, "df", "-k", "/dev/shm"
    ).stdout
    assert out.splitlines()[-1].split()[1] == "1024"
    assert inspect(daemon, name)["HostConfig"]["ShmSize"] == 1024 * 1024
    daemon.docker("rm", name)
    default = run(daemon, BUSYBOX, "df", "-k", "/dev/shm")
    assert default.splitlines()[-1].split()[1] == "65536"  # 64 MiB
    # the dockyard CLI takes the same units
    res = daemon.dockyard("run", "--rm", "--shm-size", "3m", BUSYBOX, "df", "-k", "/dev/shm")
    assert res.stdout.splitlines()[-1].split()[1] == "3072"


def test_pid_host_and_container(daemon: Daemon) -> None:
    out = run(
        daemon,
        "--pid",
        "host",
        BUSYBOX,
        "sh",
        "-c",
        f"cat /proc/1/comm; test -d /proc/{os.getpid()} && echo sees-us",
    )
    assert out.split("\n")[:2] == [Path("/proc/1/comm").read_text().strip(), "sees-us"]
    target = unique("pid")
    detached(daemon, target, script="exec sleep 3217")
    out = run(daemon, "--pid", f"container:{target}", BUSYBOX, "ps", "-o", "pid,args")
    rows = [line.split(None, 1) for line in out.splitlines()[1:]]
    assert ["1", "sleep 3217"] in rows  # the target's init is pid 1 here too
    own = run(daemon, BUSYBOX, "ps", "-o", "pid,args")
    assert "sleep 3217" not in own
    assert inspect(daemon, target)["HostConfig"]["PidMode"] == ""
    daemon.docker("rm", "-f", target)


def test_uts_host(daemon: Daemon) -> None:
    host_name = os.uname().nodename
    out = run(daemon, "--uts", "host", BUSYBOX, "sh", "-c", "hostname; readlink /proc/self/ns/uts")
    assert out.split("\n")[:2] == [host_name, ns_link("uts")]
    err = fails(daemon, "run", "--rm", "--uts", "host", "--hostname", "other", BUSYBOX, "true")
    assert "conflicting options: hostname and the UTS mode" in err
    assert os.uname().nodename == host_name
    own = run(daemon, BUSYBOX, "hostname").strip()
    assert own != host_name


def test_cgroupns(daemon: Daemon) -> None:
    name = unique("cgns")
    out = daemon.docker(
        "run", "--name", name, "--cgroupns", "private", BUSYBOX, "cat", "/proc/self/cgroup"
    ).stdout
    assert out.strip()
    assert all(line.endswith(":/") for line in out.strip().splitlines())
    assert inspect(daemon, name)["HostConfig"]["CgroupnsMode"] == "private"
    daemon.docker("rm", name)
    out = run(daemon, "--cgroupns", "host", BUSYBOX, "cat", "/proc/self/cgroup")
    assert not any(line.endswith(":/") for line in out.strip().splitlines())
    assert ns_link("cgroup") in run(
        daemon, "--cgroupns", "host", BUSYBOX, "readlink", "/proc/self/ns/cgroup"
    )


def _cgroup_v2_only() -> bool:
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def test_inspect_defaults_and_stored_targets(daemon: Daemon) -> None:
    plain = unique("plain")
    daemon.docker("create", "--name", plain, BUSYBOX)
    hc = inspect(daemon, plain)["HostConfig"]
    wanted_cgroupns = "private" if _cgroup_v2_only() else "host"
    assert (hc["IpcMode"], hc["PidMode"], hc["UTSMode"]) == ("private", "", "")
    assert (hc["CgroupnsMode"], hc["ShmSize"]) == (wanted_cgroupns, 64 * 1024 * 1024)
    plain_id = inspect(daemon, plain)["Id"]
    joiner = unique("joiner")
    daemon.docker(
        "create",
        "--name",
        joiner,
        "--ipc",
        f"container:{plain}",
        "--pid",
        f"container:{plain_id[:12]}",
        "--uts",
        "host",
        BUSYBOX,
    )
    hc = inspect(daemon, joiner)["HostConfig"]
    assert hc["IpcMode"] == hc["PidMode"] == f"container:{plain_id}"  # by id, as dockerd
    assert hc["UTSMode"] == "host"
    daemon.docker("rm", joiner, plain)


def test_bad_values_are_refused_and_nothing_is_created(daemon: Daemon) -> None:
    for argv, message in (
        (("--ipc", "bogus"), "invalid IPC mode: bogus"),
        (("--pid", "bogus"), "--pid: invalid PID mode"),
        (("--uts", "bogus"), "--uts: invalid UTS mode"),
        (("--cgroupns", "bogus"), "--cgroupns: invalid CGROUP mode"),
        (("--shm-size", "-1"), 'invalid argument "-1" for "--shm-size" flag'),
    ):
        res = daemon.docker("run", "--rm", *argv, BUSYBOX, "true", check=False)
        assert res.returncode == 125, (argv, res.stderr)
        assert message in res.stderr, (argv, res.stderr)
    # what the docker CLI does not check, the daemon does (dockerd's messages)
    import docker  # docker-py, a dev dependency

    client = docker.APIClient(base_url=daemon.url, version="1.45", timeout=60)
    try:
        for hc, message in (
            ({"PidMode": "bogus"}, "invalid PID mode: bogus"),
            ({"PidMode": "container:"}, "invalid PID mode: container:"),
            ({"UTSMode": "container:x"}, "invalid UTS mode: container:x"),
            ({"CgroupnsMode": "bogus"}, "invalid cgroup namespace mode: bogus"),
            ({"ShmSize": -1}, "SHM size can not be less than 0"),
        ):
            with pytest.raises(docker.errors.APIError) as info:
                client.create_container(BUSYBOX, "true", host_config=hc)
            assert info.value.status_code == 400, hc
            assert message in str(info.value.explanation), hc
    finally:
        client.close()
    res = daemon.dockyard("run", "--rm", "--pid", "bogus", BUSYBOX, "true", check=False)
    assert res.returncode == 125
    assert "--pid: invalid PID mode" in res.stderr
    assert daemon.docker("ps", "-aq").stdout.split() == []
