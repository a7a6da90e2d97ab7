"""Layer tars against the real kernel: owners, devices, xattrs, and overlayfs itself.

Overlay mounts happen in a forked child in a private mount namespace; the child's
mounts vanish with it, so nothing can leak even when an assertion fails.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from dockyard.images import diff_overlay, diff_plain, unpack
from dockyard.kernel import mount, namespaces
from dockyard.testing.fork import in_child
from dockyard.testing.names import unique
from dockyard.testing.rootfs import make_busybox_rootfs
from tests.unit.images.trees import Entry, add, make_tar, snapshot

CAP = b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"


def _private_ns() -> None:
    namespaces.unshare(namespaces.CLONE_NEWNS)
    mount.mount(None, "/", None, mount.MS_REC | mount.MS_PRIVATE)


def _overlay(target: Path, lowers: list[Path], upper: Path | None = None) -> None:
    opts = "lowerdir=" + ":".join(map(str, lowers))
    if upper is not None:
        work = upper.parent / f"{upper.name}-work"
        work.mkdir(exist_ok=True)
        opts += f",upperdir={upper},workdir={work},redirect_dir=off,metacopy=off,index=off"
    target.mkdir(exist_ok=True)
    mount.mount("overlay", target, "overlay", 0, opts)


def _rich(t: tarfile.TarFile) -> None:
    add(t, "bin/", kind=tarfile.DIRTYPE, mode=0o755)
    add(t, "bin/su", data=b"su", mode=0o4755, uid=0, gid=0)
    add(
        t,
        "bin/ping",
        data=b"ping",
        mode=0o755,
        pax_headers={"SCHILY.xattr.security.capability": CAP.decode("utf-8", "surrogateescape")},
    )
    add(t, "bin/sg", data=b"sg", mode=0o2711, uid=0, gid=42)
    add(t, "home/", kind=tarfile.DIRTYPE, mode=0o755)
    add(
        t,
        "home/user/",
        kind=tarfile.DIRTYPE,
        mode=0o700,
        uid=1000,
        gid=1000,
        pax_headers={"SCHILY.xattr.user.note": "hi"},
    )
    add(
        t,
        "home/user/f",
        data=b"mine",
        mode=0o600,
        uid=1000,
        gid=1000,
        pax_headers={"SCHILY.xattr.trusted.tag": "t"},
    )
    add(t, "home/user/ln", kind=tarfile.SYMTYPE, linkname="f", uid=1000, gid=1001)
    add(t, "home/user/hard", kind=tarfile.LNKTYPE, linkname="home/user/f")
    add(t, "tmp/", kind=tarfile.DIRTYPE, mode=0o1777)
    add(t, "dev/", kind=tarfile.DIRTYPE, mode=0o755)
    add(t, "dev/null", kind=tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3)
    add(t, "dev/loop9", kind=tarfile.BLKTYPE, mode=0o660, devmajor=7, devminor=9, gid=6)
    add(t, "dev/pipe", kind=tarfile.FIFOTYPE, mode=0o620, uid=5)
    add(
        t,
        "evil/",
        kind=tarfile.DIRTYPE,
        mode=0o755,
        pax_headers={"SCHILY.xattr.trusted.overlay.opaque": "y"},
    )


def test_owners_modes_devices_xattrs(tmp_path: Path) -> None:
    dest = tmp_path / unique("dest")
    unpack(io.BytesIO(make_tar(_rich)), dest)
    st = os.lstat(dest / "bin/su")
    assert stat.S_IMODE(st.st_mode) == 0o4755
    assert stat.S_IMODE(os.lstat(dest / "bin/sg").st_mode) == 0o2711
    assert os.lstat(dest / "bin/sg").st_gid == 42
    assert os.getxattr(dest / "bin/ping", "security.capability") == CAP
    assert stat.S_IMODE(os.lstat(dest / "tmp").st_mode) == 0o1777
    user = os.lstat(dest / "home/user")
    assert (user.st_uid, user.st_gid, stat.S_IMODE(user.st_mode)) == (1000, 1000, 0o700)
    assert os.getxattr(dest / "home/user", "user.note") == b"hi"
    assert os.getxattr(dest / "home/user/f", "trusted.tag") == b"t"
    link = os.lstat(dest / "home/user/ln")
    assert (link.st_uid, link.st_gid) == (1000, 1001)
    assert os.lstat(dest / "home/user/hard").st_ino == os.lstat(dest / "home/user/f").st_ino
    null = os.lstat(dest / "dev/null")
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
    loop = os.lstat(dest / "dev/loop9")
    assert stat.S_ISBLK(loop.st_mode) and loop.st_rdev == os.makedev(7, 9) and loop.st_gid == 6
    assert stat.S_ISFIFO(os.lstat(dest / "dev/pipe").st_mode)
    assert "trusted.overlay.opaque" not in os.listxattr(dest / "evil")  # dropped


@pytest.mark.parametrize("mode", ["overlay", "plain"])
def test_round_trip_unpack_of_diff(tmp_path: Path, mode: str) -> None:
    first = tmp_path / unique("first")
    unpack(io.BytesIO(make_tar(_rich)), first, mode)  # type: ignore[arg-type]
    out = io.BytesIO()
    res = diff_overlay(first, out) if mode == "overlay" else diff_plain(None, first, out)
    second = tmp_path / unique("second")
    assert unpack(io.BytesIO(out.getvalue()), second, mode).diff_id == res.diff_id  # type: ignore[arg-type]
    assert snapshot(second) == snapshot(first)


def _layer2(t: tarfile.TarFile) -> None:
    add(t, "etc/", kind=tarfile.DIRTYPE, mode=0o755)
    add(t, "etc/.wh.secret", data=b"")
    add(t, ".wh.gone", data=b"")
    add(t, "opq/", kind=tarfile.DIRTYPE, mode=0o755)
    add(t, "opq/new", data=b"new")
    add(t, "opq/.wh..wh..opq", data=b"")  # after its sibling: order must not matter
    add(t, ".wh.redo", data=b"")
    add(t, "redo/", kind=tarfile.DIRTYPE, mode=0o755)
    add(t, "redo/only", data=b"only")


def _layer1(root: Path) -> Path:
    for d in ("etc", "gone/sub", "opq/old", "redo"):
        (root / d).mkdir(parents=True)
    for f in ("etc/secret", "etc/keep", "gone/sub/f", "opq/old/f", "opq/oldfile", "redo/stale"):
        (root / f).write_text(f)
    return root


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_overlay_whiteouts_hide_lower_files_in_a_real_mount(tmp_path: Path) -> None:
    l1 = _layer1(tmp_path / unique("l1"))
    l2 = tmp_path / unique("l2")
    unpack(io.BytesIO(make_tar(_layer2)), l2, "overlay")
    wo = os.lstat(l2 / "etc/secret")
    assert stat.S_ISCHR(wo.st_mode) and wo.st_rdev == 0
    assert os.getxattr(l2 / "opq", "trusted.overlay.opaque") == b"y"
    assert os.getxattr(l2 / "redo", "trusted.overlay.opaque") == b"y"

    def child(upper: bool) -> list[str]:
        _private_ns()
        merged = tmp_path / unique("merged")
        if upper:  # the layer as the upper dir of a container over its parent
            _overlay(merged, [l1], l2)
        else:  # the layer as a lower of the next snapshot
            _overlay(merged, [l2, l1])
        return _listing(merged)

    want = ["etc", "etc/keep", "opq", "opq/new", "redo", "redo/only"]
    assert in_child(lambda: child(False)) == want
    assert in_child(lambda: child(True)) == want
    # plain whiteouts on a copy of the parent give the same tree
    copy = tmp_path / unique("copy")
    shutil.copytree(l1, copy)
    unpack(io.BytesIO(make_tar(_layer2)), copy, "plain")
    assert _listing(copy) == want


def test_overlay_round_trip_through_a_mounted_container(tmp_path: Path) -> None:
    """Changes made through a real overlay mount, diffed from the upper and unpacked as a
    new layer, give the same merged tree."""
    base = tmp_path / unique("base")
    unpack(io.BytesIO(make_tar(_rich)), base, "overlay")
    (base / "etc/sub").mkdir(parents=True)
    (base / "etc/sub/old").write_text("old")
    (base / "etc/motd").write_text("hello")
    upper = tmp_path / unique("upper")
    upper.mkdir()

    def change() -> dict[str, Entry]:
        _private_ns()
        merged = tmp_path / unique("merged")
        _overlay(merged, [base], upper)
        (merged / "etc/motd").unlink()
        shutil.rmtree(merged / "etc/sub")
        (merged / "etc/sub").mkdir()  # recreated: opaque in the upper
        (merged / "etc/sub/new").write_text("new")
        os.chown(merged / "home/user/f", 7, 8)  # metadata-only copy-up
        (merged / "bin/su").write_text("patched")
        os.mknod(merged / "dev/zero", stat.S_IFCHR | 0o666, os.makedev(1, 5))
        os.setxattr(merged / "bin/ping", "user.x", b"1")
        return snapshot(merged)

    before = in_child(change)
    out = io.BytesIO()
    res = diff_overlay(upper, out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        names = tar.getnames()
    assert "etc/.wh.motd" in names and "etc/sub/.wh..wh..opq" in names
    layer = tmp_path / unique("layer")
    assert unpack(io.BytesIO(out.getvalue()), layer, "overlay").diff_id == res.diff_id

    def view() -> dict[str, Entry]:
        _private_ns()
        merged = tmp_path / unique("merged2")
        _overlay(merged, [layer, base])
        return snapshot(merged)

    assert in_child(view) == before


def _gnu_tar(src: Path) -> bytes:
    cmd = ["tar", "--numeric-owner", "--xattrs", "-C", str(src), "-cf", "-", "."]
    return subprocess.run(cmd, capture_output=True, check=True).stdout


@pytest.mark.parametrize("compress", [None, ["gzip", "-c"], ["zstd", "-c", "-q"]])
def test_gnu_tar_of_busybox_unpacks_and_runs(tmp_path: Path, compress: list[str] | None) -> None:
    src = make_busybox_rootfs(tmp_path / unique("src"))
    plain = _gnu_tar(src)
    blob = plain
    if compress is not None:
        blob = subprocess.run(compress, input=plain, capture_output=True, check=True).stdout
    dest = tmp_path / unique("rootfs")
    res = unpack(io.BytesIO(blob), dest, "overlay")
    assert res.diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()
    assert snapshot(dest) == snapshot(src)

    def run() -> str:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.dup2(w, 1)
            os.chroot(dest)
            os.chdir("/")
            os.execv("/bin/sh", ["sh", "-c", "echo hello from $(busybox | head -1 | cut -c1-7)"])
        os.close(w)
        with os.fdopen(r) as f:
            text = f.read()
        os.waitpid(pid, 0)
        return text

    assert in_child(run).strip() == "hello from BusyBox"


def test_plain_mode_whiteouts_on_btrfs_style_copy_keep_owners(tmp_path: Path) -> None:
    first = tmp_path / unique("first")
    unpack(io.BytesIO(make_tar(_rich)), first, "plain")
    child = tmp_path / unique("child")
    subprocess.run(["cp", "-a", "--", str(first), str(child)], check=True)

    def build(t: tarfile.TarFile) -> None:
        add(t, "dev/.wh.null", data=b"")
        add(t, "home/user/g", data=b"g", uid=1000, gid=1000)

    unpack(io.BytesIO(make_tar(build)), child, "plain")
    assert not (child / "dev/null").exists()
    assert os.lstat(child / "home/user/g").st_uid == 1000
    assert os.lstat(child / "dev/loop9").st_rdev == os.makedev(7, 9)
