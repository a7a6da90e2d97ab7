"""diff_plain(): changes between two full trees, deterministic, and applying it round-trips."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path

from dockyard.images import diff_plain, unpack

from .trees import snapshot


def _tree(root: Path) -> Path:
    (root / "etc/app.d").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "gone/deep").mkdir(parents=True)
    (root / "etc/app.conf").write_text("v1")
    (root / "etc/hosts").write_text("127.0.0.1")
    (root / "bin/tool").write_text("tool")
    os.link(root / "bin/tool", root / "bin/tool2")
    (root / "bin/sh").symlink_to("/bin/busybox")
    (root / "gone/deep/x").write_text("x")
    (root / "file1").write_text("1")
    return root


def _names(blob: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        return tar.getnames()


def test_diff_from_nothing_then_unpack_round_trips(tmp_path: Path) -> None:
    src = _tree(tmp_path / "dyt-src")
    out = io.BytesIO()
    res = diff_plain(None, src, out)
    blob = out.getvalue()
    assert res.size == len(blob)
    assert unpack(io.BytesIO(blob), tmp_path / "dyt-dest", "plain").diff_id == res.diff_id
    assert snapshot(tmp_path / "dyt-dest") == snapshot(src)
    names = _names(blob)
    assert names == sorted(names, key=lambda n: n.split("/"))  # depth first, sorted
    assert "bin/tool2" in names


def test_changes_whiteouts_and_parents(tmp_path: Path) -> None:
    lower = _tree(tmp_path / "dyt-lower")
    upper = tmp_path / "dyt-upper"
    shutil.copytree(lower, upper, symlinks=True)
    os.link(upper / "bin/tool", upper / "bin/tool3")  # keep grouping: copytree split it
    os.unlink(upper / "bin/tool2")
    os.link(upper / "bin/tool", upper / "bin/tool2")
    shutil.copystat(lower / "bin", upper / "bin")
    shutil.rmtree(upper / "gone")
    (upper / "file1").unlink()
    (upper / "etc/app.conf").write_text("v2")
    (upper / "etc/app.d/new.cfg").write_text("new")
    os.utime(upper / "etc/app.d", ns=(0, os.stat(lower / "etc/app.d").st_mtime_ns))
    out = io.BytesIO()
    diff_plain(lower, upper, out)
    names = _names(out.getvalue())
    assert ".wh.gone" in names and ".wh.file1" in names
    assert "gone/deep/x" not in names and "gone/deep" not in names
    assert "etc/app.conf" in names and "etc/app.d/new.cfg" in names
    assert "etc/app.d" in names  # unchanged parent, written so the tar applies alone
    assert "etc/hosts" not in names and "bin/sh" not in names
    # applying the diff to a copy of the lower gives the upper
    applied = tmp_path / "dyt-applied"
    shutil.copytree(lower, applied, symlinks=True)
    os.unlink(applied / "bin/tool2")
    os.link(applied / "bin/tool", applied / "bin/tool2")
    unpack(io.BytesIO(out.getvalue()), applied, "plain")
    want, got = snapshot(upper), snapshot(applied)
    want.pop("#links"), got.pop("#links")  # tool3 links only within the diff's own entries
    assert got == want


def test_same_stats_different_content_is_a_change(tmp_path: Path) -> None:
    lower, upper = tmp_path / "dyt-lower", tmp_path / "dyt-upper"
    for root, text in ((lower, "aaaa"), (upper, "bbbb")):
        root.mkdir()
        (root / "f").write_text(text)
        os.utime(root / "f", (1_600_000_000, 1_600_000_000))  # whole seconds: compare bytes
        os.utime(root, (1_600_000_000, 1_600_000_000))
    out = io.BytesIO()
    diff_plain(lower, upper, out)
    assert _names(out.getvalue()) == ["f"]
    (upper / "f").write_text("aaaa")
    os.utime(upper / "f", (1_600_000_000, 1_600_000_000))
    out = io.BytesIO()
    diff_plain(lower, upper, out)
    assert _names(out.getvalue()) == []


def test_output_is_deterministic_and_mtimes_clamp(tmp_path: Path) -> None:
    src = _tree(tmp_path / "dyt-src")
    a, b = io.BytesIO(), io.BytesIO()
    assert diff_plain(None, src, a).diff_id == diff_plain(None, src, b).diff_id
    assert a.getvalue() == b.getvalue()
    c = io.BytesIO()
    diff_plain(None, src, c, clamp_mtime=1000)
    with tarfile.open(fileobj=io.BytesIO(c.getvalue())) as tar:
        assert {m.mtime for m in tar.getmembers()} == {1000}
        assert {m.uname for m in tar.getmembers()} == {""}
