"""unpack(): tar entries to files, plain whiteouts and opaque dirs, the dest contract."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockyard.errors import Conflict
from dockyard.images import unpack

from .trees import add, make_tar

DIR, SYM, LNK = tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


def _lower(dest: Path) -> None:
    """A parent's tree, as a vfs snapshot holds it before the child is applied."""
    for d in ("etc", "bin", "bin/tools", "a/b/c"):
        (dest / d).mkdir(parents=True)
    for f in ("etc/app.conf", "etc/keep", "bin/app", "bin/tools/one", "a/b/c/bar", "file1"):
        (dest / f).write_text(f)


def test_entries_and_attributes(tmp_path: Path) -> None:
    long = "d" * 120 + "/" + "f" * 150

    def build(t: tarfile.TarFile) -> None:
        add(t, "./", kind=DIR, mode=0o750)
        add(t, "./usr/", kind=DIR, mode=0o755, mtime=1_500_000_000)
        add(t, "./usr/bin/tool", data=b"#!/bin/sh\n", mode=0o755, mtime=1_500_000_001)
        add(t, "./usr/bin/alias", kind=LNK, linkname="usr/bin/tool")
        add(t, "usr/sh", kind=SYM, linkname="/bin/busybox", mtime=1_400_000_000)
        add(t, "usr/rel", kind=SYM, linkname="../usr/bin/tool")
        add(t, "sticky/", kind=DIR, mode=0o1777)
        add(t, "ro/", kind=DIR, mode=0o555)
        add(t, "ro/inner", data=b"x", mode=0o400)
        add(t, long, data=b"long")
        add(t, "fifo", kind=tarfile.FIFOTYPE, mode=0o640)
        add(t, "nano", data=b"", pax_headers={"mtime": "1600000000.123456789"})

    blob = make_tar(build)
    dest = tmp_path / "dyt-dest"
    res = unpack(io.BytesIO(blob), dest, "plain")
    assert res.diff_id == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert res.size == len(blob)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o750
    tool = dest / "usr/bin/tool"
    assert tool.read_bytes() == b"#!/bin/sh\n"
    assert stat.S_IMODE(tool.stat().st_mode) == 0o755
    assert tool.stat().st_mtime == 1_500_000_001
    assert os.path.samefile(tool, dest / "usr/bin/alias")
    assert tool.stat().st_nlink == 2
    assert os.readlink(dest / "usr/sh") == "/bin/busybox"
    assert os.lstat(dest / "usr/sh").st_mtime == 1_400_000_000
    assert os.readlink(dest / "usr/rel") == "../usr/bin/tool"
    assert (dest / "usr").stat().st_mtime == 1_500_000_000  # set after its children
    assert stat.S_IMODE((dest / "sticky").stat().st_mode) == 0o1777
    assert stat.S_IMODE((dest / "ro").stat().st_mode) == 0o555
    assert (dest / long).read_bytes() == b"long"
    assert stat.S_ISFIFO((dest / "fifo").lstat().st_mode)
    assert (dest / "nano").stat().st_mtime_ns == 1_600_000_000_123_456_789
    assert not list(tmp_path.glob(".*unpack*"))


def test_gnu_long_names(tmp_path: Path) -> None:
    name = "x" * 200 + "/" + "y" * 200
    blob = make_tar(lambda t: add(t, name, data=b"gnu"), fmt=tarfile.GNU_FORMAT)
    unpack(io.BytesIO(blob), tmp_path / "dyt-dest")
    assert (tmp_path / "dyt-dest" / name).read_bytes() == b"gnu"


def test_diff_id_covers_the_record_padding(tmp_path: Path) -> None:
    blob = make_tar(lambda t: add(t, "a", data=b"a")) + bytes(10240)
    res = unpack(io.BytesIO(blob), tmp_path / "dyt-dest")
    assert res.diff_id == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert res.size == len(blob)


def test_plain_whiteouts_delete_from_the_lower(tmp_path: Path) -> None:
    dest = tmp_path / "dyt-dest"
    dest.mkdir()
    _lower(dest)
    blob = make_tar(
        lambda t: (
            add(t, ".wh.file1", data=b""),
            add(t, "etc/.wh.app.conf", data=b""),
            add(t, ".wh.bin", data=b""),
            add(t, "etc/.wh.missing", data=b""),
            add(t, "etc/new", data=b"new"),
            add(t, "etc/.wh.new", data=b""),  # same layer: whiteouts only hit lower layers
        )
    )
    unpack(io.BytesIO(blob), dest, "plain")
    assert sorted(os.listdir(dest)) == ["a", "etc"]
    assert sorted(os.listdir(dest / "etc")) == ["keep", "new"]


@pytest.mark.parametrize("opaque_first", [True, False])
def test_plain_opaque_keeps_this_layers_entries(tmp_path: Path, opaque_first: bool) -> None:
    dest = tmp_path / "dyt-dest"
    dest.mkdir()
    _lower(dest)
    entries = [
        lambda t: add(t, "a/", kind=DIR, mode=0o755),
        lambda t: add(t, "a/b/", kind=DIR, mode=0o755),
        lambda t: add(t, "a/b/c/", kind=DIR, mode=0o755),
        lambda t: add(t, "a/b/c/foo", data=b"foo"),
    ]
    marker = [lambda t: add(t, "a/.wh..wh..opq", data=b"")]
    order = marker + entries if opaque_first else entries + marker
    blob = make_tar(lambda t: [e(t) for e in order])
    unpack(io.BytesIO(blob), dest, "plain")
    assert sorted(os.listdir(dest / "a/b/c")) == ["foo"]
    assert (dest / "etc/app.conf").exists()


def test_plain_opaque_purges_lower_contents_of_implicit_dirs(tmp_path: Path) -> None:
    dest = tmp_path / "dyt-dest"
    dest.mkdir()
    _lower(dest)
    blob = make_tar(
        lambda t: (add(t, "bin/tools/two", data=b"2"), add(t, "bin/.wh..wh..opq", data=b""))
    )
    unpack(io.BytesIO(blob), dest, "plain")
    assert os.listdir(dest / "bin") == ["tools"]
    assert os.listdir(dest / "bin/tools") == ["two"]


def test_entries_replace_what_is_there(tmp_path: Path) -> None:
    dest = tmp_path / "dyt-dest"
    dest.mkdir()
    _lower(dest)
    os.link(dest / "etc/keep", dest / "etc/keep-link")
    blob = make_tar(
        lambda t: (
            add(t, "bin", data=b"now a file"),  # a lower dir replaced by a file
            add(t, "file1/", kind=DIR, mode=0o700),  # a lower file replaced by a dir
            add(t, "etc/", kind=DIR, mode=0o711),  # dir over dir: attributes only
            add(t, "etc/keep", data=b"changed"),
        )
    )
    unpack(io.BytesIO(blob), dest, "plain")
    assert (dest / "bin").read_bytes() == b"now a file"
    assert (dest / "file1").is_dir()
    assert stat.S_IMODE((dest / "etc").stat().st_mode) == 0o711
    assert (dest / "etc/app.conf").exists()
    assert (dest / "etc/keep").read_bytes() == b"changed"
    assert (dest / "etc/keep-link").read_text() == "etc/keep"  # unlinked, not written through


def test_dest_contract(tmp_path: Path) -> None:
    blob = make_tar(lambda t: add(t, "a", data=b"a"))
    empty = tmp_path / "dyt-empty"
    empty.mkdir()
    unpack(io.BytesIO(blob), empty)  # an empty dir is replaced atomically
    assert (empty / "a").read_bytes() == b"a"
    with pytest.raises(Conflict, match="not empty"):
        unpack(io.BytesIO(blob), empty, "overlay")
    (tmp_path / "dyt-file").write_text("")
    with pytest.raises(Conflict, match="not a directory"):
        unpack(io.BytesIO(blob), tmp_path / "dyt-file")
