"""``dockyard cp``'s local side: docker's destination rules, entry renames and the host
extraction that never writes through a symlink below the destination."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from dockyard.cli.copying import (
    LocalExtract,
    copy_info_destination,
    prepare_copy,
    rebase,
    resolve_local_path,
    split_cp_arg,
    split_path_dir_entry,
)
from dockyard.cli.errors import CommandFailed
from dockyard.cli.files import split_reference


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("web:/etc/passwd", ("web", "/etc/passwd")),
        ("/abs/path:x", ("", "/abs/path:x")),
        ("./file:name.txt", ("", "./file:name.txt")),
        ("relative.txt", ("", "relative.txt")),
        ("web:", ("web", "")),
    ],
)
def test_split_cp_arg(arg: str, expected: tuple[str, str]) -> None:
    assert split_cp_arg(arg) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/a/b", ("/a", "b")),
        ("/a/b/", ("/a", "b")),
        ("/a/b/.", ("/a/b", ".")),
        ("/", ("/", "/")),
        ("b", (".", "b")),
    ],
)
def test_split_path_dir_entry(path: str, expected: tuple[str, str]) -> None:
    assert split_path_dir_entry(path) == expected


# (src, src is dir, dst, dst exists, dst is dir) -> (extract into, rename) or the error
CASES = [
    # an existing directory: extract into it as is
    ("/s/file", False, "/d", True, True, ("/d", None)),
    ("/s/dir", True, "/d", True, True, ("/d", None)),
    ("/s/dir/.", True, "/d", True, True, ("/d", None)),
    # an existing file: a file replaces it under the destination's name
    ("/s/file", False, "/d/f", True, False, ("/d", ("file", "f"))),
    # nothing there: the parent gets the entry, renamed to the destination's name
    ("/s/file", False, "/d/new", False, False, ("/d", ("file", "new"))),
    ("/s/dir", True, "/d/new", False, False, ("/d", ("dir", "new"))),
    ("/s/dir/.", True, "/d/new", False, False, ("/d", (".", "new"))),
    ("/s/dir", True, "/d/new/", False, False, ("/d", ("dir", "new"))),
]


@pytest.mark.parametrize(("src", "src_dir", "dst", "exists", "is_dir", "expected"), CASES)
def test_prepare_copy(
    src: str,
    src_dir: bool,
    dst: str,
    exists: bool,
    is_dir: bool,
    expected: tuple[str, tuple[str, str] | None],
) -> None:
    assert prepare_copy(src, src_dir, dst, exists, is_dir) == expected


def test_prepare_copy_errors_as_docker() -> None:
    with pytest.raises(CommandFailed, match="cannot copy directory"):
        prepare_copy("/s/dir", True, "/d/file", True, False)
    with pytest.raises(CommandFailed, match="no such directory"):
        prepare_copy("/s/file", False, "/d/missing/", False, False)


def test_prepare_copy_with_a_rebase_name() -> None:
    # cp -L of a link "ln" whose target is "real": the archive's entries say "real"
    assert prepare_copy("/s/real", False, "/d/x", False, False, "ln") == ("/d", ("ln", "x"))


def test_rebase_renames_the_first_occurrence_only() -> None:
    assert rebase("dir/sub/dir", ("dir", "new")) == "new/sub/dir"
    assert rebase(".", (".", "new")) == "new"
    assert rebase("./a.b", (".", "new")) == "new/a.b"
    assert rebase("/bin/sh", ("/", "root")) == "root/bin/sh"
    assert rebase("x", None) == "x"


def test_resolve_local_path_keeps_trailing_markers(tmp_path: Path) -> None:
    assert resolve_local_path(f"{tmp_path}/a/") == f"{tmp_path}/a/"
    assert resolve_local_path(f"{tmp_path}/a/.") == f"{tmp_path}/a/."
    assert resolve_local_path(f"{tmp_path}/a/../b") == f"{tmp_path}/b"


def test_copy_info_destination(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to("dir")
    assert copy_info_destination(str(tmp_path / "dir")) == (str(tmp_path / "dir"), True, True)
    assert copy_info_destination(str(tmp_path / "link")) == (str(tmp_path / "dir"), True, True)
    assert copy_info_destination(str(tmp_path / "new")) == (str(tmp_path / "new"), False, False)
    with pytest.raises(CommandFailed):
        copy_info_destination(str(tmp_path / "no" / "parent"))


def test_split_reference() -> None:
    assert split_reference("repo:tag") == ("repo", "tag")
    assert split_reference("localhost:5000/repo") == ("localhost:5000/repo", None)
    assert split_reference("localhost:5000/repo:t") == ("localhost:5000/repo", "t")


def _tar(*entries: tuple[str, str, str]) -> tarfile.TarFile:
    """A tar read back in stream mode: (name, kind, data or link target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif kind == "sym":
                info.type = tarfile.SYMTYPE
                info.linkname = data
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data.encode()))
    buf.seek(0)
    return tarfile.open(fileobj=buf, mode="r|")


def test_local_extract_renames_and_merges(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    tar = _tar(("d", "dir", ""), ("d/a.txt", "file", "A"), ("d/sub/b.txt", "file", "B"))
    LocalExtract(str(dest)).run(tar, ("d", "copy"))
    assert (dest / "copy" / "a.txt").read_text() == "A"
    assert (dest / "copy" / "sub" / "b.txt").read_text() == "B"


def test_local_extract_never_writes_through_a_symlink(tmp_path: Path) -> None:
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    tar = _tar(("evil", "sym", str(outside)), ("evil/planted", "file", "x"))
    with pytest.raises(CommandFailed, match="symlink"):
        LocalExtract(str(dest)).run(tar, None)
    assert list(outside.iterdir()) == []


def test_local_extract_refuses_parent_entries(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(CommandFailed, match="leaves"):
        LocalExtract(str(dest)).run(_tar(("../up.txt", "file", "x")), None)
    assert not (tmp_path / "up.txt").exists()


def test_local_extract_keeps_a_dir_from_becoming_a_file(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    (dest / "x").mkdir(parents=True)
    with pytest.raises(CommandFailed, match="cannot overwrite"):
        LocalExtract(str(dest)).run(_tar(("x", "file", "data")), None)
    assert (dest / "x").is_dir()
