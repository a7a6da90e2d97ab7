"""The container's file system view: mount table, /dev, masked and read-only paths, mounts."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.runtime.specgen import default_spec
from dockyard.testing.lab import Lab
from dockyard.testing.observe import MountEntry, mount_table

pytestmark = pytest.mark.requires("busybox")

MASKED = default_spec()["linux"]["maskedPaths"]
READONLY = default_spec()["linux"]["readonlyPaths"]
# The default spec masks paths that may not exist on this kernel (e.g. /proc/kcore without
# CONFIG_PROC_KCORE): a runtime skips those, so only the ones that exist are checked.
MASKED_FILES = [p for p in MASKED if os.path.isfile(p)]
MASKED_DIRS = [p for p in MASKED if os.path.isdir(p)]
CGROUP_DIRS = sorted(
    e.name for e in Path("/sys/fs/cgroup").iterdir() if e.is_dir() and e.name != "unified"
)

EXPECTED_MOUNTS = sorted(
    [
        MountEntry("/", "*", "ro"),
        MountEntry("/proc", "proc", "rw"),
        MountEntry("/dev", "tmpfs", "rw"),
        MountEntry("/dev/pts", "devpts", "rw"),
        MountEntry("/dev/shm", "tmpfs", "rw"),
        MountEntry("/dev/mqueue", "mqueue", "rw"),
        MountEntry("/sys", "sysfs", "ro"),
        MountEntry("/sys/fs/cgroup", "tmpfs", "rw"),
        *(MountEntry(f"/sys/fs/cgroup/{c}", "cgroup", "ro") for c in CGROUP_DIRS),
        *(MountEntry(p, "proc", "ro") for p in READONLY if os.path.exists(p)),
        *(MountEntry(p, "masked", "-") for p in MASKED_FILES + MASKED_DIRS),
    ]
)


def _table(lab: Lab, **changes: object) -> list[MountEntry]:
    table = mount_table(lab.out("cat /proc/self/mountinfo", **changes), MASKED)
    # the root's type is the host's file system type of the rootfs: not the runtime's
    return [e._replace(fstype="*") if e.point == "/" else e for e in table]


def test_mount_table(lab: Lab) -> None:
    assert _table(lab) == EXPECTED_MOUNTS


@pytest.mark.requires("runc")
def test_mount_table_matches_reference(lab: Lab) -> None:
    ours = mount_table(lab.out("cat /proc/self/mountinfo"), MASKED)
    runc = lab.other("runc")
    cid, b = lab.bundle(args=("cat", "/proc/self/mountinfo"))
    ref = runc.run(cid, b.path)
    assert ref.returncode == 0, ref.stderr
    assert ours == mount_table(ref.stdout, MASKED)


def test_readonly_root(lab: Lab) -> None:
    res = lab.sh("touch /x")
    assert res.returncode != 0
    assert "Read-only file system" in res.stderr
    assert not (lab.rootfs / "x").exists()


def test_writable_root(lab: Lab) -> None:
    rootfs = lab.writable_rootfs()
    assert lab.sh("echo hi > /x", rootfs=rootfs, readonly=False).returncode == 0
    assert (rootfs / "x").read_text() == "hi\n"


DEVICES = {
    "null": "1:3",
    "zero": "1:5",
    "full": "1:7",
    "random": "1:8",
    "urandom": "1:9",
    "tty": "5:0",
}


def test_default_devices(lab: Lab) -> None:
    out = lab.out(
        "for d in " + " ".join(DEVICES) + "; do stat -c '%n %F %t:%T %a %u:%g' /dev/$d; done"
    )
    seen = {}
    for line in out.splitlines():
        name, rest = line.split(" ", 1)
        seen[name.removeprefix("/dev/")] = rest
    # stat prints major:minor in hex: these are all below 10
    assert seen == {d: f"character special file {mm} 666 0:0" for d, mm in DEVICES.items()}


def test_dev_symlinks(lab: Lab) -> None:
    links = ("fd", "stdin", "stdout", "stderr", "ptmx")
    out = lab.out("for l in " + " ".join(links) + "; do readlink /dev/$l; done")
    assert out.split() == [
        "/proc/self/fd",
        "/proc/self/fd/0",
        "/proc/self/fd/1",
        "/proc/self/fd/2",
        "pts/ptmx",
    ]


def test_dev_is_a_fresh_tmpfs_with_only_the_default_nodes(lab: Lab) -> None:
    names = set(lab.out("ls -A /dev").split())
    # crun also adds a "core" symlink to /proc/kcore (as Docker does); nothing else
    assert names - {"core"} == {*DEVICES, "fd", "stdin", "stdout", "stderr", "ptmx"} | {
        "pts",
        "shm",
        "mqueue",
    }


@pytest.mark.skipif(not MASKED_FILES, reason="no masked file exists on this kernel")
def test_masked_files_read_empty(lab: Lab) -> None:
    script = "; ".join(f"wc -c < {p}; stat -c '%F %t:%T' {p}" for p in MASKED_FILES)
    out = lab.out(script).splitlines()
    assert out == ["0", "character special file 1:3"] * len(MASKED_FILES)


@pytest.mark.skipif(not MASKED_DIRS, reason="no masked directory exists on this kernel")
def test_masked_dirs_are_empty_readonly(lab: Lab) -> None:
    script = "; ".join(f"ls -A {p} | wc -l; touch {p}/x 2>/dev/null; echo $?" for p in MASKED_DIRS)
    assert lab.out(script).split() == ["0", "1"] * len(MASKED_DIRS)


def test_readonly_paths_refuse_writes(lab: Lab) -> None:
    res = lab.sh("echo 1 > /proc/sys/kernel/domainname")
    assert res.returncode != 0
    assert "Read-only file system" in res.stderr
    assert lab.sh("echo h > /proc/sysrq-trigger").returncode != 0


def test_sys_is_readonly(lab: Lab) -> None:
    res = lab.sh("echo 1 > /sys/kernel/profiling")
    assert res.returncode != 0
    assert "Read-only file system" in res.stderr


def test_dev_shm_is_writable(lab: Lab) -> None:
    assert lab.out("echo x > /dev/shm/f && cat /dev/shm/f && stat -c %a /dev/shm") == "x\n1777\n"


def _bind_src(lab: Lab) -> Path:
    src = lab.dir("src")
    (src / "hello").write_text("hello\n")
    return src


def test_bind_mount_readonly(lab: Lab) -> None:
    src = _bind_src(lab)
    mount = {
        "destination": "/mnt/ro",
        "type": "bind",
        "source": str(src),
        "options": ["bind", "ro"],
    }
    res = lab.sh("cat /mnt/ro/hello; touch /mnt/ro/new", mounts=[mount])
    assert res.stdout == "hello\n"
    assert res.returncode != 0
    assert not (src / "new").exists()


def test_bind_mount_readwrite(lab: Lab) -> None:
    src = _bind_src(lab)
    mount = {"destination": "/mnt/rw", "type": "none", "source": str(src), "options": ["bind"]}
    assert lab.out("echo written > /mnt/rw/new; cat /mnt/rw/hello", mounts=[mount]) == "hello\n"
    assert (src / "new").read_text() == "written\n"


@pytest.fixture
def nested_src(lab: Lab) -> Iterator[Path]:
    """A host dir with a tmpfs mounted on a subdir (what rbind carries and bind does not)."""
    src = _bind_src(lab)
    sub = src / "sub"
    sub.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(sub)], check=True)
    try:
        (sub / "inner").write_text("inner\n")
        yield src
    finally:
        subprocess.run(["umount", "-l", str(sub)], check=True)


@pytest.mark.parametrize(
    ("option", "seen"), [("rbind", "inner\n"), ("bind", "")], ids=["rbind", "bind"]
)
def test_rbind_carries_submounts(lab: Lab, nested_src: Path, option: str, seen: str) -> None:
    src = str(nested_src)
    mount = {"destination": "/mnt/rbind", "type": "bind", "source": src, "options": [option]}
    out = lab.out("cat /mnt/rbind/sub/inner 2>/dev/null; true", mounts=[mount])
    assert out == seen


def test_tmpfs_mount_with_options(lab: Lab) -> None:
    # runc chmods a tmpfs mounted over an existing directory back to that directory's mode,
    # overriding "mode=" (crun does not); on a new mount point both honour "mode=".
    rootfs = lab.writable_rootfs()
    mount = {
        "destination": "/mnt/new/tmpfs",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["nosuid", "nodev", "noexec", "mode=1770", "size=1m", "uid=1", "gid=1"],
    }
    out = lab.out(
        "stat -c '%a %u:%g' /mnt/new/tmpfs; grep ' /mnt/new/tmpfs ' /proc/self/mountinfo",
        mounts=[mount],
        rootfs=rootfs,
    )
    perms, info = out.splitlines()
    assert perms == "1770 1:1"
    fields = info.split()
    mount_opts = set(fields[5].split(","))
    super_opts = set(fields[fields.index("-") + 3].split(","))
    assert {"rw", "nosuid", "nodev", "noexec"} <= mount_opts
    assert {"size=1024k", "mode=1770", "uid=1", "gid=1"} <= super_opts


def test_missing_mount_point_is_created_under_a_readonly_root(lab: Lab) -> None:
    rootfs = lab.writable_rootfs()
    src = _bind_src(lab)
    mount = {"destination": "/a/b/c", "type": "bind", "source": str(src), "options": ["rbind"]}
    assert (
        lab.out("cat /a/b/c/hello; touch /x 2>/dev/null || echo ro", mounts=[mount], rootfs=rootfs)
        == "hello\nro\n"
    )
    assert (rootfs / "a/b/c").is_dir()
