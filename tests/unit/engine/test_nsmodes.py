"""``engine/nsmodes.py`` and the CLI flags: the checks and defaults of create, the targets
a start joins, the spec's namespaces and /dev/shm, and ``--ipc``/``--pid``/``--uts``/
``--cgroupns``/``--shm-size`` in the create body."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.cli.containerconfig import container_config
from dockyard.cli.errors import UsageError
from dockyard.cli.run import RUN
from dockyard.engine import nsmodes
from dockyard.engine.containerrecord import Container
from dockyard.errors import Conflict, InvalidArgument, NotFound

ID = "a" * 64


def box(cid: str, host_config: dict[str, Any], status: str = "running", pid: int = 42) -> Container:
    return Container(
        id=cid, name="/" + cid[:4], created="", created_unix=0.0, path="sh", args=[],
        config={}, host_config=host_config, image="", image_name="busybox", driver="overlay",
        status=status, pid=pid if status == "running" else 0,
    )  # fmt: skip


def full_id(ref: str) -> str:
    if ref in ("web", ID[:12], ID):
        return ID
    raise NotFound(f"No such container: {ref}")


def checked(
    hc: dict[str, Any], config: dict[str, Any] | None = None, v2: bool = False
) -> dict[str, Any]:
    hc = dict(hc)
    nsmodes.check_modes(hc, config or {}, full_id, lambda: v2)
    return hc


def test_create_fills_dockerds_defaults() -> None:
    hc = checked({})
    assert (hc["IpcMode"], hc["ShmSize"], hc["CgroupnsMode"]) == ("private", 67108864, "host")
    assert checked({}, v2=True)["CgroupnsMode"] == "private"
    assert checked({"Privileged": True}, v2=True)["CgroupnsMode"] == "host"
    assert checked({"CgroupnsMode": "private"})["CgroupnsMode"] == "private"
    assert checked({"ShmSize": 1024, "IpcMode": "none"})["ShmSize"] == 1024
    assert "PidMode" not in checked({})  # inspect shows "" for it


def test_targets_are_stored_by_full_id_and_a_missing_one_is_a_bad_request() -> None:
    hc = checked({"IpcMode": "container:web", "PidMode": f"container:{ID[:12]}"})
    assert hc["IpcMode"] == hc["PidMode"] == f"container:{ID}"
    for key in ("IpcMode", "PidMode"):
        with pytest.raises(InvalidArgument, match="No such container: gone"):
            checked({key: "container:gone"})


@pytest.mark.parametrize(
    ("hc", "message"),
    [
        ({"IpcMode": "bogus"}, "invalid IPC mode: bogus"),
        ({"PidMode": "private"}, "invalid PID mode: private"),
        ({"PidMode": "container:"}, "invalid PID mode: container:"),
        ({"UTSMode": "private"}, "invalid UTS mode: private"),
        ({"CgroupnsMode": "shared"}, "invalid cgroup namespace mode: shared"),
        ({"ShmSize": -1}, "SHM size can not be less than 0"),
    ],
)
def test_bad_values(hc: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        checked(hc)


def test_hostname_conflicts_with_the_hosts_uts() -> None:
    with pytest.raises(InvalidArgument, match="conflicting options: hostname and the UTS mode"):
        checked({"UTSMode": "host"}, {"Hostname": "x"})
    assert checked({"UTSMode": "host"}, {"Hostname": ""})["UTSMode"] == "host"


def test_spec_namespaces_and_shm() -> None:
    def kinds(hc: dict[str, Any], joined: nsmodes.Joined | None = None) -> list[Any]:
        return [(n["type"], n.get("path")) for n in nsmodes.namespaces(hc, joined)]

    assert kinds({"IpcMode": "private"}) == [
        ("pid", None), ("ipc", None), ("uts", None), ("mount", None)
    ]  # fmt: skip
    hc = {"IpcMode": "host", "PidMode": "host", "UTSMode": "host", "CgroupnsMode": "private"}
    assert kinds(hc) == [("mount", None), ("cgroup", None)]
    joined = nsmodes.Joined(ipc="/proc/7/ns/ipc", pid="/proc/7/ns/pid", shm="/x/shm")
    hc = {"IpcMode": f"container:{ID}", "PidMode": f"container:{ID}"}
    assert kinds(hc, joined)[:2] == [("pid", "/proc/7/ns/pid"), ("ipc", "/proc/7/ns/ipc")]
    assert nsmodes.shm_mount(hc, joined) == {
        "destination": "/dev/shm", "type": "bind", "source": "/x/shm",
        "options": ["rbind", "rprivate"],
    }  # fmt: skip
    assert nsmodes.shm_mount({"IpcMode": "none"}, None) is None
    private = nsmodes.shm_mount({"IpcMode": "private", "ShmSize": 1048576}, None)
    assert private is not None and "size=1048576" in private["options"]
    assert nsmodes.uts_host({"UTSMode": "host"}) and not nsmodes.uts_host({})


def test_start_resolves_running_targets(tmp_path: Path) -> None:
    boxes = {
        "shared": box("b" * 64, {"IpcMode": "host"}, pid=7),
        "private": box("c" * 64, {"IpcMode": "private"}, pid=8),
        "stopped": box("d" * 64, {"IpcMode": "host"}, status="exited"),
    }

    def find(ref: str) -> Container:
        if ref not in boxes:
            raise NotFound(f"No such container: {ref}")
        return boxes[ref]

    def resolve(hc: dict[str, Any]) -> nsmodes.Joined:
        return nsmodes.resolve(hc, tmp_path, find, lambda cid: tmp_path / cid)

    # joining a host-IPC container shares the host's /dev/shm, as dockerd
    got = resolve({"IpcMode": "container:shared", "PidMode": "container:private"})
    assert got == nsmodes.Joined(ipc="/proc/7/ns/ipc", pid="/proc/8/ns/pid", shm="/dev/shm")
    with pytest.raises(Conflict, match="non-shareable IPC"):
        resolve({"IpcMode": "container:private"})
    with pytest.raises(Conflict, match=f"container {'d' * 64} is not running"):
        resolve({"IpcMode": "container:stopped"})
    with pytest.raises(Conflict, match=f"container {'d' * 64} is not running"):
        resolve({"PidMode": "container:stopped"})
    with pytest.raises(NotFound, match="can't join IPC of container gone"):
        resolve({"IpcMode": "container:gone"})
    with pytest.raises(NotFound, match="cannot join PID of a non running container: gone"):
        resolve({"PidMode": "container:gone"})
    assert resolve({"IpcMode": "private"}) == nsmodes.Joined()


def body(*argv: str) -> dict[str, Any]:
    opts, args = RUN.parse([*argv, "busybox", "true"])
    host: dict[str, Any] = container_config(opts, args, detach=True)["HostConfig"]
    return host


def test_cli_flags() -> None:
    host = body(
        "--ipc", "container:web", "--pid", "host", "--uts", "host", "--cgroupns", "private",
        "--shm-size", "64m",
    )  # fmt: skip
    assert host["IpcMode"] == "container:web"
    assert (host["PidMode"], host["UTSMode"], host["CgroupnsMode"]) == ("host", "host", "private")
    assert host["ShmSize"] == 64 * 1024 * 1024
    assert not {"IpcMode", "PidMode", "UTSMode", "CgroupnsMode", "ShmSize"} & set(body())
    assert body("--ipc", "bogus")["IpcMode"] == "bogus"  # the daemon says no, as with docker
    for argv, message in (
        (("--pid", "bogus"), "--pid: invalid PID mode"),
        (("--pid", "container:"), "--pid: invalid PID mode"),
        (("--uts", "container:x"), "--uts: invalid UTS mode"),
        (("--cgroupns", "shared"), "--cgroupns: invalid CGROUP mode"),
        (("--shm-size", "-1"), 'invalid argument "-1" for "--shm-size" flag'),
    ):
        with pytest.raises(UsageError, match=message):
            body(*argv)
