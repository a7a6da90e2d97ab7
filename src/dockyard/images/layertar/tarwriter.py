"""Writing layer tars: one entry per file system object, whiteouts, and the diffID.

Entries are PAX tars as Docker and containerd write them: names relative to the layer
root without ``./``, numeric uid/gid with empty user and group names, whole-second
mtimes (optionally clamped, like SOURCE_DATE_EPOCH), xattrs as ``SCHILY.xattr.*``
(except ``trusted.overlay.*``, which is overlayfs bookkeeping), hardlinks as type ``1``
entries pointing at the first path of the same inode written to this tar. Sockets are
skipped, as Docker does. The same input gives the same bytes.
"""

from __future__ import annotations

import os
import stat
import tarfile
from dataclasses import dataclass

from dockyard.errors import InvalidArgument

from .compression import DigestWriter, Writable
from .safetree import OPAQUE, WHITEOUT_PREFIX

OVERLAY_XATTRS = "trusted.overlay."
XATTR_PREFIX = "SCHILY.xattr."


@dataclass(frozen=True)
class DiffResult:
    diff_id: str  # "sha256:<hex>" of the uncompressed tar written
    size: int  # bytes written


def xattrs(path: str) -> dict[str, bytes]:
    """The xattrs a layer carries for ``path`` (never following a symlink)."""
    out = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno in (95, 61):  # ENOTSUP, ENODATA
            return {}
        raise
    for name in sorted(names):
        if name.startswith(OVERLAY_XATTRS):
            continue
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError as e:
            if e.errno != 61:
                raise
    return out


class LayerTarWriter:
    """Writes entries to ``out`` as an uncompressed tar; ``close()`` answers the diffID."""

    def __init__(self, out: Writable, *, clamp_mtime: int | None = None) -> None:
        self._out = DigestWriter(out)
        self._tar = tarfile.open(  # type: ignore[call-overload]  # noqa: SIM115
            fileobj=self._out, mode="w|", format=tarfile.PAX_FORMAT
        )
        self._clamp = clamp_mtime
        self._links: dict[tuple[int, int], str] = {}
        self._names: set[str] = set()

    def _mtime(self, st: os.stat_result | None) -> int:
        mtime = int(st.st_mtime) if st is not None else 0
        if self._clamp is not None and mtime > self._clamp:
            return self._clamp
        return mtime

    def _info(self, name: str, st: os.stat_result | None) -> tarfile.TarInfo:
        if name in self._names:
            raise InvalidArgument(f"duplicate layer entry {name!r}")
        self._names.add(name)
        info = tarfile.TarInfo(name)
        info.uname = info.gname = ""
        info.mtime = self._mtime(st)
        if st is not None:
            info.mode = stat.S_IMODE(st.st_mode)
            info.uid, info.gid = st.st_uid, st.st_gid
        return info

    def add(self, path: str, name: str, st: os.stat_result) -> None:
        """Add the object at host ``path`` (stat ``st``, from lstat) as entry ``name``."""
        base = name.rpartition("/")[2]
        if base.startswith(WHITEOUT_PREFIX):
            raise InvalidArgument(f"cannot put {path} in a layer: names starting .wh. are reserved")
        mode = st.st_mode
        if stat.S_ISSOCK(mode):
            return
        info = self._info(name, st)
        info.pax_headers = {
            XATTR_PREFIX + key: value.decode("utf-8", "surrogateescape")
            for key, value in xattrs(path).items()
        }
        if stat.S_ISDIR(mode):
            info.type = tarfile.DIRTYPE
            self._tar.addfile(info)
            return
        inode = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and inode in self._links:
            info.type = tarfile.LNKTYPE
            info.linkname = self._links[inode]
            self._tar.addfile(info)
            return
        if st.st_nlink > 1:
            self._links[inode] = name
        if stat.S_ISREG(mode):
            info.size = st.st_size
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as f:
                self._tar.addfile(info, f)
            return
        if stat.S_ISLNK(mode):
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(path)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(mode):
            info.type = tarfile.FIFOTYPE
        self._tar.addfile(info)

    def add_whiteout(self, name: str, st: os.stat_result | None = None) -> None:
        """A ``.wh.`` entry deleting ``name``; ``st`` (the overlay whiteout) gives its
        owner and time, else root and the epoch."""
        parent, _, base = name.rpartition("/")
        wh = f"{parent}/{WHITEOUT_PREFIX}{base}" if parent else WHITEOUT_PREFIX + base
        info = self._info(wh, st)
        info.mode = 0o644 if st is None else stat.S_IMODE(st.st_mode)
        self._tar.addfile(info)

    def add_opaque(self, dirname: str, st: os.stat_result | None = None) -> None:
        """The ``.wh..wh..opq`` entry hiding every lower child of ``dirname``."""
        info = self._info(f"{dirname}/{OPAQUE}" if dirname else OPAQUE, st)
        info.mode = 0o644
        self._tar.addfile(info)

    def close(self) -> DiffResult:
        self._tar.close()
        return DiffResult(self._out.digest, self._out.size)
