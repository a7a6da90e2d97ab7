"""Bad input: every runtime refuses it with a non-zero exit and leaves nothing behind.

The suite-wide leak check catches mounts, cgroups and processes left behind; ours must also
say what went wrong in one line.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.testing.lab import Lab
from dockyard.testing.names import unique
from dockyard.testing.runtimes import Result

pytestmark = pytest.mark.requires("busybox")


def _refused(lab: Lab, res: Result) -> None:
    assert res.returncode != 0, f"{lab.name} accepted it: {res.stdout}"
    if lab.name == "dockyard":
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1, f"want a one-line error, got: {res.stderr!r}"


def test_missing_rootfs(lab: Lab) -> None:
    cid, b = lab.bundle(args=("true",), rootfs=lab.work / "no-such-rootfs")
    _refused(lab, lab.runtime.run(cid, b.path))
    assert lab.runtime.state(cid).returncode != 0


def test_unknown_namespace_type(lab: Lab) -> None:
    cid, b = lab.bundle(args=("true",), namespaces=("pid", "mount", "bogus"))
    _refused(lab, lab.runtime.run(cid, b.path))


def test_namespace_path_that_is_not_a_namespace(lab: Lab) -> None:
    not_ns = lab.work / "plain-file"
    not_ns.write_text("")
    namespaces = [{"type": "network", "path": str(not_ns)}, {"type": "mount"}, {"type": "pid"}]
    cid, b = lab.bundle(args=("true",), namespaces=namespaces)
    _refused(lab, lab.runtime.run(cid, b.path))


def test_overlapping_id_mappings(lab: Lab) -> None:
    mappings = [
        {"containerID": 0, "hostID": 100000, "size": 1000},
        {"containerID": 500, "hostID": 200000, "size": 1000},
    ]
    cid, b = lab.bundle(
        args=("true",),
        namespaces=("pid", "mount", "user"),
        uid_mappings=mappings,
        gid_mappings=mappings,
    )
    _refused(lab, lab.runtime.run(cid, b.path))


def test_user_namespace_without_mappings(lab: Lab) -> None:
    cid, b = lab.bundle(args=("true",), namespaces=("pid", "mount", "user"))
    _refused(lab, lab.runtime.run(cid, b.path))


def test_mount_through_a_symlink_never_leaves_the_rootfs(lab: Lab) -> None:
    # A symlink inside the rootfs that points far outside of it. The destination must be
    # resolved inside the rootfs: runc and crun mount on <rootfs>/tmp/<name> instead
    # (refusing would be fine too); nothing may appear on the host path.
    outside = Path("/tmp") / unique()
    outside.mkdir()
    try:
        rootfs = lab.writable_rootfs()
        (rootfs / "escape").symlink_to(f"../../../../../../..{outside}")
        mount = {"destination": "/escape", "type": "tmpfs", "source": "tmpfs"}
        cid, b = lab.bundle(
            args=("sh", "-c", "touch /escape/pwned && echo in"), rootfs=rootfs, mounts=[mount]
        )
        res = lab.runtime.run(cid, b.path)
        assert os.listdir(outside) == []
        assert not os.path.ismount(outside)
        if res.returncode == 0:
            assert res.stdout == "in\n"
            # the tmpfs (and the file) were inside the container's rootfs, now gone
            assert (rootfs / outside.relative_to("/")).is_dir()
    finally:
        outside.rmdir()


def test_bundle_path_is_a_file(lab: Lab) -> None:
    path = lab.work / "not-a-dir"
    path.write_text("{}")
    cid = unique()
    lab.runtime.created.append(cid)
    _refused(lab, lab.runtime.call("run", "-b", str(path), cid))


def test_bundle_without_config(lab: Lab) -> None:
    cid = unique()
    lab.runtime.created.append(cid)
    _refused(lab, lab.runtime.call("run", "-b", str(lab.dir("empty")), cid))


def test_config_is_not_json(lab: Lab) -> None:
    cid, b = lab.bundle(args=("true",))
    b.config_path.write_text("{not json")
    _refused(lab, lab.runtime.run(cid, b.path))


def test_missing_executable(lab: Lab) -> None:
    res = lab.run("/bin/no-such-program")
    assert res.returncode != 0


def test_duplicate_container_id(lab: Lab) -> None:
    cid = lab.running()
    _, b = lab.bundle(args=("true",))
    _refused(lab, lab.runtime.create(cid, b.path))
    assert lab.runtime.state_json(cid)["status"] == "running"


def test_start_of_a_running_container_fails(lab: Lab) -> None:
    cid = lab.running()
    _refused(lab, lab.runtime.start(cid))
    assert lab.runtime.state_json(cid)["status"] == "running"


def test_start_of_a_stopped_container_fails(lab: Lab) -> None:
    cid = lab.running("true")
    assert lab.runtime.wait_status(cid, "stopped")["status"] == "stopped"
    _refused(lab, lab.runtime.start(cid))


def test_start_of_an_unknown_container_fails(lab: Lab) -> None:
    _refused(lab, lab.runtime.start(unique()))


@pytest.mark.parametrize("cid", ["../escape", "a/b", ""], ids=["dotdot", "slash", "empty"])
def test_invalid_container_id(lab: Lab, cid: str) -> None:
    _, b = lab.bundle(args=("true",))
    _refused(lab, lab.runtime.call("run", "-b", str(b.path), cid))
