"""One suite for every storage driver: vfs, overlay and btrfs behave the same.

Everything is observed through real mounts of what the snapshotter hands out. The btrfs
driver runs on a loop-mounted 512 MiB btrfs made once per session.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from dockyard.errors import Conflict, NotFound
from dockyard.kernel.probe import missing
from dockyard.snapshots import Kind, Mount, Snapshotter, make_snapshotter, mount_all, unmount_all
from dockyard.testing.btrfs import loop_btrfs
from dockyard.testing.names import unique

DRIVER_PARAMS = [
    pytest.param("vfs", id="vfs"),
    pytest.param("overlay", id="overlay", marks=pytest.mark.requires("overlay")),
    pytest.param("btrfs", id="btrfs", marks=pytest.mark.requires("btrfs")),
]

Mounter = Callable[[Sequence[Mount]], Path]


@pytest.fixture(scope="session", autouse=True)
def btrfs_root(request: pytest.FixtureRequest) -> Iterator[Path | None]:
    """A loop-mounted btrfs under a ``dyt-`` dir, made only if a btrfs case was selected;
    unmounted and detached at the end of the session. Autouse, so that it exists before
    the first test's leak check looks at the mounts."""
    wanted = any(i.nodeid.endswith("[btrfs]") for i in request.session.items)
    if not wanted or missing(("root", "btrfs")):
        yield None
        return
    with loop_btrfs() as point:
        yield point


@pytest.fixture(params=DRIVER_PARAMS)
def driver_root(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    driver: str = request.param
    if driver == "btrfs":
        base = request.getfixturevalue("btrfs_root")
        assert base is not None, "no btrfs file system for this session"
        root = base / unique("snap")
    else:
        root = tmp_path / unique("snap")
    return driver, root


@pytest.fixture
def sn(driver_root: tuple[str, Path]) -> Snapshotter:
    return make_snapshotter(*driver_root)


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Mounter]:
    """Mount a snapshot's mounts at a fresh ``dyt-`` dir; everything unmounts afterwards."""
    targets: list[Path] = []

    def do(mounts: Sequence[Mount]) -> Path:
        target = tmp_path / unique("mnt")
        target.mkdir()
        targets.append(target)
        mount_all(mounts, target)
        return target

    yield do
    for target in reversed(targets):
        unmount_all(target)


def build_base(sn: Snapshotter, mount: Mounter, name: str = "base") -> None:
    m = mount(sn.prepare("base-work", None))
    (m / "etc").mkdir()
    (m / "etc" / "hostname").write_text("base\n")
    (m / "data").mkdir()
    (m / "data" / "keep").write_text("keep")
    (m / "data" / "drop").write_text("drop")
    (m / "gone").write_text("gone")
    unmount_all(m)
    sn.commit(name, "base-work")


def test_prepare_commit_chain_shows_parent_files(sn: Snapshotter, mount: Mounter) -> None:
    build_base(sn, mount)
    m = mount(sn.prepare("mid-work", "base"))
    assert (m / "etc" / "hostname").read_text() == "base\n"
    (m / "mid").write_text("mid")
    (m / "etc" / "hostname").write_text("mid\n")
    unmount_all(m)
    sn.commit("mid", "mid-work")
    top = mount(sn.prepare("top", "mid"))
    assert (top / "mid").read_text() == "mid"
    assert (top / "etc" / "hostname").read_text() == "mid\n"
    assert (top / "data" / "keep").read_text() == "keep"
    (top / "new").write_text("new")
    # writes in the active snapshot never reach its parents
    view = mount(sn.view("v", "mid"))
    assert not (view / "new").exists()
    assert (view / "mid").read_text() == "mid"


def test_deleting_parent_files_in_child_hides_them(sn: Snapshotter, mount: Mounter) -> None:
    build_base(sn, mount)
    m = mount(sn.prepare("child-work", "base"))
    (m / "gone").unlink()
    (m / "data" / "drop").unlink()
    shutil.rmtree(m / "etc")
    (m / "etc").mkdir()  # a directory replaced by a new, empty one
    unmount_all(m)
    sn.commit("child", "child-work")
    view = mount(sn.view("v", "child"))
    assert sorted(os.listdir(view)) == ["data", "etc"]
    assert os.listdir(view / "data") == ["keep"]
    assert os.listdir(view / "etc") == []
    base_view = mount(sn.view("bv", "base"))
    assert (base_view / "gone").exists()
    assert (base_view / "etc" / "hostname").exists()


def test_upper_dir_holds_only_the_changes(sn: Snapshotter, mount: Mounter) -> None:
    build_base(sn, mount)
    m = mount(sn.prepare("work", "base"))
    (m / "gone").unlink()
    (m / "added").write_text("added")
    upper = sn.upper_dir("work")
    if sn.stat("work").kind is Kind.ACTIVE and "overlay" in type(sn).__name__.lower():
        assert upper is not None
        assert sorted(os.listdir(upper)) == ["added", "gone"]
        st = os.lstat(upper / "gone")
        assert stat.S_ISCHR(st.st_mode)
        assert st.st_rdev == os.makedev(0, 0)  # overlay's whiteout
    else:
        assert upper is None
    sn.commit("done", "work")
    assert sn.upper_dir("done") is None


def test_copies_keep_ownership_modes_links_and_devices(sn: Snapshotter, mount: Mounter) -> None:
    m = mount(sn.prepare("w", None))
    (m / "owned").write_text("x")
    os.chown(m / "owned", 1234, 5678)
    os.chmod(m / "owned", 0o4750)
    os.link(m / "owned", m / "hard")
    os.symlink("owned", m / "soft")
    os.mknod(m / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.setxattr(m / "owned", "user.dyt", b"v")
    unmount_all(m)
    sn.commit("c", "w")
    top = mount(sn.prepare("t", "c"))
    st = os.lstat(top / "owned")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 5678, 0o4750)
    assert os.lstat(top / "hard").st_ino == st.st_ino
    assert os.readlink(top / "soft") == "owned"
    assert os.lstat(top / "null").st_rdev == os.makedev(1, 3)
    assert os.getxattr(top / "owned", "user.dyt") == b"v"


def test_view_is_read_only(sn: Snapshotter, mount: Mounter) -> None:
    build_base(sn, mount)
    view = mount(sn.view("v", "base"))
    with pytest.raises(OSError) as e:
        (view / "x").write_text("x")
    assert e.value.errno == errno.EROFS
    assert sn.stat("v").kind is Kind.VIEW


def test_remove_is_refused_while_children_exist(sn: Snapshotter, mount: Mounter) -> None:
    build_base(sn, mount)
    sn.prepare("child", "base")
    with pytest.raises(Conflict):
        sn.remove("base")
    sn.remove("child")
    sn.remove("base")
    with pytest.raises(NotFound):
        sn.stat("base")
    assert list(sn.walk()) == []


def test_invalid_transitions(sn: Snapshotter, mount: Mounter) -> None:
    build_base(sn, mount)
    sn.prepare("a", "base")
    with pytest.raises(Conflict):
        sn.prepare("a", "base")  # the key is taken
    with pytest.raises(Conflict):
        sn.prepare("b", "a")  # the parent is not committed
    with pytest.raises(NotFound):
        sn.prepare("c", "missing")
    with pytest.raises(Conflict):
        sn.commit("base", "a")  # the name is taken
    with pytest.raises(Conflict):
        sn.mounts("base")  # committed snapshots are not mounted directly
    sn.view("v", "base")
    with pytest.raises(Conflict):
        sn.commit("v2", "v")  # only active snapshots commit


def test_usage_grows_with_written_data(sn: Snapshotter, mount: Mounter) -> None:
    m = mount(sn.prepare("w", None))
    before = sn.usage("w")
    (m / "blob").write_bytes(os.urandom(1024 * 1024))
    (m / "more").write_text("x")
    os.sync()
    after = sn.usage("w")
    assert after.size_bytes >= before.size_bytes + 1024 * 1024
    assert after.inodes >= before.inodes + 2


def test_walk_and_stat_report_every_kind(sn: Snapshotter, mount: Mounter) -> None:
    build_base(sn, mount)
    sn.prepare("active", "base")
    sn.view("view", "base")
    infos = {i.name: i for i in sn.walk()}
    assert set(infos) == {"base", "active", "view"}
    assert infos["base"].kind is Kind.COMMITTED
    assert infos["base"].parent is None
    assert infos["active"].kind is Kind.ACTIVE
    assert infos["active"].parent == "base"
    assert sn.stat("view").kind is Kind.VIEW
    assert sn.stat("view").kind == "view"


def test_metadata_survives_a_restart(
    sn: Snapshotter, mount: Mounter, driver_root: tuple[str, Path]
) -> None:
    build_base(sn, mount)
    m = mount(sn.prepare("active", "base"))
    (m / "state").write_text("kept")
    unmount_all(m)
    before = sorted(sn.walk(), key=lambda i: i.name)
    again = make_snapshotter(*driver_root)
    assert sorted(again.walk(), key=lambda i: i.name) == before
    m2 = mount(again.mounts("active"))
    assert (m2 / "state").read_text() == "kept"
    assert (m2 / "etc" / "hostname").read_text() == "base\n"
    again.commit("second", "active")
    assert again.stat("second").parent == "base"
