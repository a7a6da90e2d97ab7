"""``docker cp``'s daemon side outside the chroot: the path-stat header, Docker's path
and tar-name rules, and extraction semantics on a scratch directory."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockyard.api.routes.containerfiles import stat_header
from dockyard.errors import InvalidArgument, NotFound
from dockyard.images import copyarchive as ca


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("etc", "/etc"),
        ("/etc/", "/etc/"),
        ("/etc/.", "/etc/."),
        ("/etc/./", "/etc/./"),
        ("//a/../b", "/b"),
        ("/../..", "/"),
        ("", "/."),  # as Go: Base("") is "."
    ],
)
def test_absolute_path(path: str, expected: str) -> None:
    assert ca.absolute_path(path) == expected


def test_go_file_mode() -> None:
    assert ca.go_file_mode(stat.S_IFDIR | 0o755) == (1 << 31) | 0o755
    assert ca.go_file_mode(stat.S_IFLNK | 0o777) == (1 << 27) | 0o777
    assert ca.go_file_mode(stat.S_IFREG | 0o4755) == (1 << 23) | 0o755
    assert ca.go_file_mode(stat.S_IFCHR | 0o666) == (1 << 26) | (1 << 21) | 0o666
    assert ca.go_file_mode(stat.S_IFDIR | 0o1777) == (1 << 31) | (1 << 20) | 0o777


def test_go_time() -> None:
    assert ca.go_time(0) == "1970-01-01T00:00:00Z"
    assert ca.go_time(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"


def test_stat_header_is_base64_json_that_the_docker_cli_reads(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("hello")
    (tmp_path / "ln").symlink_to("f")
    st = ca.stat_path(str(tmp_path / "f"))
    doc = json.loads(base64.b64decode(stat_header(st)))
    assert doc["name"] == "f" and doc["size"] == 5 and doc["linkTarget"] == ""
    assert doc["mode"] == stat.S_IMODE(os.stat(tmp_path / "f").st_mode)  # a plain file
    assert doc["mtime"] == ca.go_time(os.stat(tmp_path / "f").st_mtime_ns)
    assert set(doc) == {"name", "size", "mode", "mtime", "linkTarget"}
    link = ca.stat_path(str(tmp_path / "ln"))
    assert link.mode & (1 << 27) and link.link_target == str(tmp_path / "f")
    assert ca.PathStat.from_docker(link.docker()) == link
    assert ca.stat_path(str(tmp_path) + "/").is_dir


def test_stat_errors(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotFound):
        ca.stat_path(str(tmp_path / "missing"))
    with pytest.raises(InvalidArgument, match="not a directory"):
        ca.stat_path(str(tmp_path / "f") + "/")


def _names(path: str) -> list[str]:
    buf = io.BytesIO()
    ca.write_tar(path, buf)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        return tar.getnames()


def test_tar_names_follow_docker(tmp_path: Path) -> None:
    d = tmp_path / "d.x"
    (d / "sub.y").mkdir(parents=True)
    (d / "a.txt").write_text("a")
    (d / "sub.y" / "b").write_text("b")
    assert _names(str(d)) == ["d.x", "d.x/a.txt", "d.x/sub.y", "d.x/sub.y/b"]
    assert _names(f"{d}/.") == [".", "./a.txt", "./sub.y", "./sub.y/b"]
    assert _names(f"{d}/a.txt") == ["a.txt"]


def _tar(entries: list[tarfile.TarInfo], data: dict[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info in entries:
            payload = data.get(info.name)
            if payload is not None:
                info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    buf.seek(0)
    return buf


def _file(name: str, mode: int = 0o640, uid: int = os.getuid()) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode, info.uid, info.gid, info.mtime = mode, uid, os.getgid(), 1_000_000
    return info


def test_extract_into_a_dir_through_its_final_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "ln").symlink_to("real")
    tar = _tar([_file("x/new.txt")], {"x/new.txt": b"hi"})
    ca.extract_tar(str(tmp_path / "ln"), tar, ca.ExtractOptions())
    out = tmp_path / "real" / "x" / "new.txt"
    assert out.read_bytes() == b"hi"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert out.stat().st_mtime == 1_000_000


def test_extract_rules(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(InvalidArgument, match="extraction point is not a directory"):
        ca.extract_tar(str(tmp_path / "f"), io.BytesIO(), ca.ExtractOptions())
    with pytest.raises(NotFound):
        ca.extract_tar(str(tmp_path / "missing"), io.BytesIO(), ca.ExtractOptions())
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "sub").mkdir()
    tar = _tar([_file("sub")], {"sub": b"file now"})
    with pytest.raises(InvalidArgument, match="cannot overwrite directory"):
        no_overwrite = ca.ExtractOptions(no_overwrite_dir_non_dir=True)
        ca.extract_tar(str(tmp_path / "d"), tar, no_overwrite)
    tar.seek(0)
    ca.extract_tar(str(tmp_path / "d"), tar, ca.ExtractOptions())  # docker replaces it
    assert (tmp_path / "d" / "sub").read_text() == "file now"
    with pytest.raises(InvalidArgument, match="outside"):
        ca.extract_tar(
            str(tmp_path / "d"), _tar([_file("../up")], {"../up": b"x"}), ca.ExtractOptions()
        )
    assert not (tmp_path / "up").exists()


def test_extract_refuses_writes_to_a_read_only_rootfs(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    options = ca.ExtractOptions(readonly_rootfs=True, writable_mounts=(str(tmp_path / "data"),))
    with pytest.raises(InvalidArgument, match="read-only"):
        ca.extract_tar(str(tmp_path), _tar([_file("a")], {"a": b"x"}), options)
    ca.extract_tar(str(tmp_path / "data"), _tar([_file("a")], {"a": b"x"}), options)
    assert (tmp_path / "data" / "a").read_bytes() == b"x"
