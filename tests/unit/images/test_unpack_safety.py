"""Hostile layer tars: each is refused naming the entry, and nothing lands outside dest."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.images import unpack

from .trees import add, make_tar, tree_outside

SYM, LNK, DIR = tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE
Build = Callable[[tarfile.TarFile], None]

CASES: dict[str, tuple[Build, str]] = {
    "dotdot": (lambda t: add(t, "../dyt-sentinel/pwned", data=b"x"), "../dyt-sentinel/pwned"),
    "dotdot-inner": (
        lambda t: add(t, "a/../../dyt-sentinel/pwned", data=b"x"),
        "a/../../dyt-sentinel/pwned",
    ),
    "absolute": (lambda t: add(t, "/tmp/dyt-pwned", data=b"x"), "/tmp/dyt-pwned"),
    "write-through-symlink": (
        lambda t: (
            add(t, "a", kind=SYM, linkname="/etc"),
            add(t, "a/passwd", data=b"root::0:0::/:/bin/sh\n"),
        ),
        "a/passwd",
    ),
    "write-through-relative-symlink": (
        lambda t: (
            add(t, "d/", kind=DIR, mode=0o755),
            add(t, "d/up", kind=SYM, linkname=".."),
            add(t, "d/up/x", data=b"x"),
        ),
        "d/up/x",
    ),
    "dir-replaced-by-symlink": (
        lambda t: (
            add(t, "a/", kind=DIR, mode=0o755),
            add(t, "a", kind=SYM, linkname="/etc"),
            add(t, "a/shadow", data=b"x"),
        ),
        "a/shadow",
    ),
    "hardlink-outside": (lambda t: add(t, "pw", kind=LNK, linkname="/etc/passwd"), "pw"),
    "hardlink-dotdot": (
        lambda t: add(t, "pw", kind=LNK, linkname="../dyt-sentinel/file"),
        "pw",
    ),
    "hardlink-not-in-layer": (lambda t: add(t, "pw", kind=LNK, linkname="etc/passwd"), "pw"),
    "hardlink-through-symlink": (
        lambda t: (
            add(t, "e", kind=SYM, linkname="/etc"),
            add(t, "pw", kind=LNK, linkname="e/passwd"),
        ),
        "pw",
    ),
    "whiteout-through-symlink": (
        lambda t: (
            add(t, "s", kind=SYM, linkname="../dyt-sentinel"),
            add(t, "s/.wh.file", data=b""),
        ),
        "s",
    ),
    "whiteout-of-nothing": (lambda t: add(t, "etc/.wh.", data=b""), "etc/.wh."),
}


@pytest.fixture
def sentinel(tmp_path: Path) -> Path:
    s = tmp_path / "dyt-sentinel"
    s.mkdir()
    (s / "file").write_text("keep")
    return s


@pytest.mark.parametrize("whiteouts", ["overlay", "plain"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_entry_is_refused(
    tmp_path: Path, sentinel: Path, case: str, whiteouts: str
) -> None:
    build, entry = CASES[case]
    blob = make_tar(build)
    before = tree_outside(tmp_path)
    dest = tmp_path / "dyt-dest"
    with pytest.raises(InvalidArgument) as err:
        unpack(io.BytesIO(blob), dest, whiteouts)  # type: ignore[arg-type]
    assert repr(entry) in str(err.value)
    assert not dest.exists()
    assert tree_outside(tmp_path) == before
    assert (sentinel / "file").read_text() == "keep"
    assert not Path("/tmp/dyt-pwned").exists()


def test_plain_in_place_refuses_a_parent_symlink_from_the_lower(tmp_path: Path) -> None:
    """dest holds the parent's tree; its symlink must not be written through either."""
    outside = tmp_path / "dyt-outside"
    outside.mkdir()
    dest = tmp_path / "dyt-dest"
    dest.mkdir()
    (dest / "lib").symlink_to(outside)
    (dest / "rel").symlink_to("../dyt-outside")
    (outside / "keep").write_text("keep")
    for name in ("lib/x", "rel/x", "rel/.wh.keep", "lib/sub/.wh..wh..opq"):
        blob = make_tar(lambda t, n=name: add(t, n, data=b"x"))
        with pytest.raises(InvalidArgument, match="is a symlink"):
            unpack(io.BytesIO(blob), dest, "plain")
    assert [p.name for p in outside.iterdir()] == ["keep"]


def test_opaque_marker_under_a_lower_symlink_replaces_it_with_a_dir(tmp_path: Path) -> None:
    outside = tmp_path / "dyt-outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    dest = tmp_path / "dyt-dest"
    dest.mkdir()
    (dest / "lib").symlink_to(outside)
    unpack(io.BytesIO(make_tar(lambda t: add(t, "lib/.wh..wh..opq", data=b""))), dest, "plain")
    assert (dest / "lib").is_dir() and not (dest / "lib").is_symlink()
    assert list((dest / "lib").iterdir()) == []
    assert [p.name for p in outside.iterdir()] == ["keep"]


def test_replacing_a_lower_symlink_does_not_follow_it(tmp_path: Path) -> None:
    victim = tmp_path / "dyt-victim"
    victim.write_text("keep")
    dest = tmp_path / "dyt-dest"
    dest.mkdir()
    (dest / "f").symlink_to(victim)
    (dest / "d").symlink_to(tmp_path)
    blob = make_tar(lambda t: (add(t, "f", data=b"new"), add(t, "d/", kind=DIR, mode=0o700)))
    unpack(io.BytesIO(blob), dest, "plain")
    assert victim.read_text() == "keep"
    assert (dest / "f").read_bytes() == b"new" and not (dest / "f").is_symlink()
    assert (dest / "d").is_dir() and not (dest / "d").is_symlink()


def test_not_a_tar_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="not a valid tar"):
        unpack(io.BytesIO(b"hello, not a tar" * 100), tmp_path / "dyt-dest")
    assert list(tmp_path.iterdir()) == []


def test_a_refusal_midway_removes_what_was_extracted(tmp_path: Path) -> None:
    blob = make_tar(
        lambda t: (
            add(t, "ok/", kind=DIR, mode=0o755),
            add(t, "ok/file", data=b"fine"),
            add(t, "../evil", data=b"x"),
        )
    )
    with pytest.raises(InvalidArgument, match=r"'\.\./evil'"):
        unpack(io.BytesIO(blob), tmp_path / "dyt-dest")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("whiteouts", ["overlay", "plain"])
def test_a_link_that_climbs_is_kept_as_data(tmp_path: Path, sentinel: Path, whiteouts: str) -> None:
    """As in Docker: a symlink may point anywhere; only following it is refused."""
    blob = make_tar(lambda t: add(t, "a/evil", kind=SYM, linkname="../../dyt-sentinel"))
    dest = tmp_path / "dyt-dest"
    unpack(io.BytesIO(blob), dest, whiteouts)  # type: ignore[arg-type]
    assert os.readlink(dest / "a" / "evil") == "../../dyt-sentinel"
    assert (sentinel / "file").read_text() == "keep"
