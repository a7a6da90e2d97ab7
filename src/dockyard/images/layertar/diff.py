"""Layer tars out of directories: the changes of an overlay upper, or of two full trees.

``diff_overlay(upper, out)`` reads an overlayfs upper dir: its files are the changes,
0/0 character devices are whiteouts (``.wh.<name>``), ``trusted.overlay.opaque=y``
directories get ``.wh..wh..opq``. The upper must come from a mount with metacopy and
redirect_dir off (a metacopy file has no data in the upper; a redirected directory
would need a rename): both are refused with NotSupported.

``diff_plain(lower, upper, out)`` compares the parent's full tree with the child's
(vfs, btrfs): added and changed entries, ``.wh.<name>`` for deleted ones. Every changed
entry's parent directories are written too, so the tar applies on its own. Files count
as changed when type, mode, owner, size, device, link target, xattrs or mtime differ;
with equal stats the contents are compared only when the mtime has no sub-second part
(a file system that truncates times would hide an edit).

Order is deterministic: depth first, the opaque marker and whiteouts of a directory
before its other children, names sorted by their bytes.
"""

from __future__ import annotations

import os
import stat

from dockyard.errors import DockyardError, NotSupported, SystemFault

from .compression import CHUNK, Writable
from .safetree import join
from .tarwriter import DiffResult, LayerTarWriter, xattrs

OVERLAY_OPAQUE = "trusted.overlay.opaque"
UNSUPPORTED = ("trusted.overlay.metacopy", "trusted.overlay.redirect")


def _sorted(path: str) -> list[str]:
    return sorted(os.listdir(path), key=os.fsencode)


def _getxattr(path: str, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError as e:
        if e.errno in (61, 95):  # ENODATA, ENOTSUP
            return None
        raise


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def diff_overlay(
    upper: os.PathLike[str] | str, out: Writable, *, clamp_mtime: int | None = None
) -> DiffResult:
    """Write the layer tar of overlay upper dir ``upper`` to ``out``."""
    root = os.fspath(upper)
    writer = LayerTarWriter(out, clamp_mtime=clamp_mtime)
    try:
        if _getxattr(root, OVERLAY_OPAQUE) == b"y":
            writer.add_opaque("", os.lstat(root))
        _walk_upper(writer, root, "")
    except DockyardError:
        raise
    except OSError as e:
        raise SystemFault(f"cannot read overlay upper {root}: {e}") from e
    return writer.close()


def _walk_upper(writer: LayerTarWriter, root: str, rel: str) -> None:
    base = join(root, rel) if rel else root
    entries = [(name, os.lstat(f"{base}/{name}")) for name in _sorted(base)]
    for name, st in entries:
        if _is_whiteout(st):
            writer.add_whiteout(join(rel, name), st)
    for name, st in entries:
        if _is_whiteout(st):
            continue
        path, child = f"{base}/{name}", join(rel, name)
        for attr in UNSUPPORTED:
            if _getxattr(path, attr) is not None:
                raise NotSupported(
                    f"cannot diff {path}: it carries {attr}; mount overlay with "
                    "metacopy=off,redirect_dir=off"
                )
        writer.add(path, child, st)
        if stat.S_ISDIR(st.st_mode):
            if _getxattr(path, OVERLAY_OPAQUE) == b"y":
                writer.add_opaque(child, st)
            _walk_upper(writer, root, child)


def diff_plain(
    lower: os.PathLike[str] | str | None,
    upper: os.PathLike[str] | str,
    out: Writable,
    *,
    clamp_mtime: int | None = None,
) -> DiffResult:
    """Write the changes from full tree ``lower`` (None: empty) to ``upper`` to ``out``."""
    writer = LayerTarWriter(out, clamp_mtime=clamp_mtime)
    walk = _PlainWalk(writer)
    try:
        walk.compare(None if lower is None else os.fspath(lower), os.fspath(upper), "")
    except DockyardError:
        raise
    except OSError as e:
        raise SystemFault(f"cannot compare {lower} with {upper}: {e}") from e
    return writer.close()


def _same_content(a: str, b: str) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            ca, cb = fa.read(CHUNK), fb.read(CHUNK)
            if ca != cb:
                return False
            if not ca:
                return True


def _differs(lp: str, ls: os.stat_result, up: str, us: os.stat_result, is_dir: bool) -> bool:
    if (ls.st_dev, ls.st_ino) == (us.st_dev, us.st_ino):
        return False
    if (ls.st_mode, ls.st_uid, ls.st_gid, ls.st_mtime_ns) != (
        us.st_mode,
        us.st_uid,
        us.st_gid,
        us.st_mtime_ns,
    ):
        return True
    if xattrs(lp) != xattrs(up):
        return True
    if is_dir:
        return False
    if (ls.st_size, ls.st_rdev) != (us.st_size, us.st_rdev):
        return True
    if stat.S_ISLNK(us.st_mode):
        return os.readlink(lp) != os.readlink(up)
    if stat.S_ISREG(us.st_mode) and us.st_mtime_ns % 1_000_000_000 == 0:
        return not _same_content(lp, up)
    return False


class _PlainWalk:
    def __init__(self, writer: LayerTarWriter) -> None:
        self.writer = writer
        self._pending: list[tuple[str, str, os.stat_result]] = []

    def _flush_parents(self) -> None:
        """Write the directories on the way to a change that are not written yet."""
        for path, rel, st in self._pending:
            self.writer.add(path, rel, st)
        self._pending.clear()

    def _emit(self, path: str, rel: str, st: os.stat_result) -> None:
        self._flush_parents()
        self.writer.add(path, rel, st)

    def compare(self, lower: str | None, upper: str, rel: str) -> None:
        lnames = set(os.listdir(lower)) if lower is not None else set()
        unames = _sorted(upper)
        for name in sorted(lnames.difference(unames), key=os.fsencode):
            self._flush_parents()
            self.writer.add_whiteout(join(rel, name))
        for name in unames:
            up, child = f"{upper}/{name}", join(rel, name)
            us = os.lstat(up)
            lp = f"{lower}/{name}" if name in lnames else None
            ls = os.lstat(lp) if lp is not None else None
            is_dir = stat.S_ISDIR(us.st_mode)
            if not is_dir:
                if lp is None or ls is None or _differs(lp, ls, up, us, False):
                    self._emit(up, child, us)
                continue
            if lp is None or ls is None or not stat.S_ISDIR(ls.st_mode):
                self._emit(up, child, us)
                self.compare(None, up, child)
                continue
            depth = len(self._pending)
            if _differs(lp, ls, up, us, True):
                self._emit(up, child, us)
            else:
                self._pending.append((up, child, us))
            self.compare(lp, up, child)
            del self._pending[depth:]
