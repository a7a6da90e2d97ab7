"""Mount destinations are resolved inside the rootfs; escapes are refused."""

import os
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.kernel import mount as km
from dockyard.runtime.rootfs import parse_options, resolve_in_root


def test_plain_and_missing_paths(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    assert resolve_in_root(str(tmp_path), "/etc/x/y") == str(tmp_path / "etc/x/y")
    assert resolve_in_root(str(tmp_path), "/") == str(tmp_path)


def test_absolute_symlink_stays_in_root(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "var").mkdir()
    os.symlink("/run", tmp_path / "var/run")
    assert resolve_in_root(str(tmp_path), "/var/run/lock") == str(tmp_path / "run/lock")


def test_relative_symlink_inside_root(tmp_path: Path) -> None:
    (tmp_path / "a/b").mkdir(parents=True)
    os.symlink("../a/b", tmp_path / "a/link")
    assert resolve_in_root(str(tmp_path), "/a/link/c") == str(tmp_path / "a/b/c")


def test_symlink_climbing_out_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mnt").mkdir()
    os.symlink("../../../../../tmp/host", tmp_path / "mnt/escape")
    with pytest.raises(InvalidArgument, match=r"symlink /mnt/escape -> .* outside the rootfs"):
        resolve_in_root(str(tmp_path), "/mnt/escape", "mount destination")


def test_symlink_loop_is_refused(tmp_path: Path) -> None:
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    with pytest.raises(InvalidArgument, match="too many levels of symlinks"):
        resolve_in_root(str(tmp_path), "/a")


def test_dotdot_in_destination_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"'\.\.' leaves the rootfs"):
        resolve_in_root(str(tmp_path), "/../etc")


def test_parse_options() -> None:
    flags, prop, data = parse_options(["nosuid", "ro", "rw", "rbind", "rprivate", "mode=755"])
    assert flags == km.MS_NOSUID | km.MS_BIND | km.MS_REC
    assert prop == [km.MS_PRIVATE | km.MS_REC]
    assert data == "mode=755"
    with pytest.raises(InvalidArgument, match="'idmap' is not supported"):
        parse_options(["idmap"])
