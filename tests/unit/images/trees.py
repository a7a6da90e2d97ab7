"""Tree snapshots for layer tests: everything a layer must carry, comparable with ==."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path

Entry = tuple[object, ...]


def _xattrs(path: str) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    return {
        n: os.getxattr(path, n, follow_symlinks=False)
        for n in sorted(names)
        if not n.startswith("trusted.overlay.")
    }


def snapshot(root: Path, *, mtimes: bool = True) -> dict[str, Entry]:
    """Per relative path: type, mode, owner, xattrs, link target / content hash / rdev,
    whole-second mtime; plus ``#links`` grouping hardlinked paths."""
    out: dict[str, Entry] = {}
    inodes: dict[int, list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            mode = st.st_mode
            if stat.S_ISREG(mode):
                extra: object = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            elif stat.S_ISLNK(mode):
                extra = os.readlink(path)
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                extra = (os.major(st.st_rdev), os.minor(st.st_rdev))
            else:
                extra = None
            mtime = int(st.st_mtime) if mtimes else 0
            out[rel] = (mode, st.st_uid, st.st_gid, _xattrs(path), extra, mtime)
            if not stat.S_ISDIR(mode) and st.st_nlink > 1:
                inodes.setdefault(st.st_ino, []).append(rel)
    out["#links"] = tuple(sorted(tuple(sorted(v)) for v in inodes.values() if len(v) > 1))
    return out


def make_tar(build: Callable[[tarfile.TarFile], None], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        build(tar)
    return buf.getvalue()


def add(
    tar: tarfile.TarFile,
    name: str,
    *,
    data: bytes | None = None,
    kind: bytes = tarfile.REGTYPE,
    linkname: str = "",
    mode: int = 0o644,
    mtime: int = 1_600_000_000,
    **kw: object,
) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = mtime
    info.linkname = linkname
    for k, v in kw.items():
        setattr(info, k, v)
    if data is not None:
        info.size = len(data)
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def tree_outside(root: Path) -> set[str]:
    """Every path under ``root`` (to prove nothing was written next to a dest)."""
    return {
        os.path.relpath(os.path.join(d, n), root) for d, ds, fs in os.walk(root) for n in ds + fs
    }
