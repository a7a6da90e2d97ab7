"""The kernel seam against the real kernel; every test works in a forked child."""

import errno
import os
import socket
from pathlib import Path

import pytest

from dockyard.kernel import caps, mount, namespaces, process
from dockyard.kernel.probe import cgroup_layout, missing, probe
from dockyard.testing.fork import in_child


def test_unshare_uts_and_sethostname() -> None:
    def child() -> tuple[str, str]:
        namespaces.unshare(namespaces.CLONE_NEWUTS)
        process.sethostname("dyt-host")
        process.setdomainname("dyt.example")
        return socket.gethostname(), Path("/proc/sys/kernel/domainname").read_text().strip()

    assert in_child(child) == ("dyt-host", "dyt.example")
    assert socket.gethostname() != "dyt-host"


def test_mount_tmpfs_in_private_namespace_then_pivot(tmp_path: Path) -> None:
    root = tmp_path / "dyt-root"
    root.mkdir()

    def child() -> list[str]:
        namespaces.unshare(namespaces.CLONE_NEWNS)
        mount.mount(None, "/", None, mount.MS_REC | mount.MS_PRIVATE)
        mount.mount("tmpfs", str(root), "tmpfs", mount.MS_NOSUID, "mode=755")
        (root / "marker").write_text("x")
        os.chdir(root)
        mount.pivot_root(".", ".")
        mount.umount(".", mount.MNT_DETACH)
        os.chdir("/")
        return sorted(os.listdir("/"))

    assert in_child(child) == ["marker"]
    assert not (root / "marker").exists()  # the mount never reached the host


def test_mount_failure_names_the_target(tmp_path: Path) -> None:
    def child() -> tuple[int, str | None]:
        try:
            mount.mount("none", str(tmp_path / "missing"), "tmpfs")
        except OSError as e:
            return e.errno, e.filename
        return 0, None

    code, filename = in_child(child)
    assert code == errno.ENOENT
    assert filename == str(tmp_path / "missing")


def test_setns_joins_a_namespace_by_path() -> None:
    def child() -> bool:
        ready_r, ready_w = os.pipe()
        done_r, done_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            namespaces.unshare(namespaces.CLONE_NEWUTS)
            process.sethostname("dyt-joined")
            os.write(ready_w, b"x")
            os.read(done_r, 1)  # stay alive until the parent has joined
            os._exit(0)
        os.read(ready_r, 1)
        namespaces.setns_path(f"/proc/{pid}/ns/uts", namespaces.CLONE_NEWUTS)
        os.write(done_w, b"x")
        os.waitpid(pid, 0)
        return socket.gethostname() == "dyt-joined"

    assert in_child(child)


def test_capabilities_drop_and_read_back() -> None:
    def child() -> tuple[bool, bool, int]:
        keep = caps.mask(["CAP_KILL", "CAP_SETPCAP"])
        caps.drop_bounding(keep)
        caps.capset(caps.CapSets(keep, keep, 0))
        now = caps.capget()
        return (
            caps.bounding_has(caps.CAP_NUMBERS["CAP_KILL"]),
            caps.bounding_has(caps.CAP_NUMBERS["CAP_SYS_ADMIN"]),
            now.effective,
        )

    kill_kept, admin_kept, effective = in_child(child)
    assert kill_kept and not admin_kept
    assert effective == caps.mask(["CAP_KILL", "CAP_SETPCAP"])


def test_unknown_capability_name() -> None:
    with pytest.raises(ValueError, match="unknown capability 'CAP_NOPE'"):
        caps.mask(["CAP_NOPE"])


def test_prctl_flags() -> None:
    def child() -> tuple[int, str]:
        process.set_no_new_privs()
        process.set_name("dyt-name")
        nnp = process.prctl(process.PR_GET_NO_NEW_PRIVS)
        return nnp, Path("/proc/self/comm").read_text().strip()

    assert in_child(child) == (1, "dyt-name")


def test_mknod_makes_a_device_node(tmp_path: Path) -> None:
    def child() -> tuple[int, int]:
        path = str(tmp_path / "null")
        process.mknod(path, 0o20666, 1, 3)
        st = os.stat(path)
        return os.major(st.st_rdev), os.minor(st.st_rdev)

    assert in_child(child) == (1, 3)


def test_probe_sees_this_host() -> None:
    found = probe()
    assert found["root"] is None
    assert found["ns-pid"] is None and found["ns-user"] is None
    assert found["overlay"] is None
    assert cgroup_layout() in ("v1", "v2", "hybrid")
    assert missing(("root", "no-such-feature")) == ["no-such-feature: unknown feature"]
