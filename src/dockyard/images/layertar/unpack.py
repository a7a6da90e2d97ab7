"""Apply a layer tar (plain, gzip or zstd) to a directory, computing its diffID on the way.

``unpack(stream, dest, whiteouts)`` — two whiteout conventions:

- ``"overlay"``: ``dest`` becomes an overlayfs upper/lower dir. ``.wh.<name>`` turns into
  the overlay whiteout (a 0/0 character device named ``<name>``), ``.wh..wh..opq`` into
  ``trusted.overlay.opaque=y`` on its directory. Needs CAP_MKNOD and CAP_SYS_ADMIN.
- ``"plain"`` (vfs, btrfs): ``dest`` already holds the parent's full tree; ``.wh.<name>``
  deletes ``<name>``, ``.wh..wh..opq`` empties its directory of everything this layer did
  not write itself, wherever the marker sits in the tar.

Contract on ``dest``: when it does not exist or is an empty directory, the layer is built
in a hidden sibling (``.<name>.unpack-<hex>``) and renamed onto ``dest`` only when
complete, so a refused or interrupted unpack leaves nothing. A non-empty ``dest`` is only
accepted with ``"plain"`` (the snapshot of the parent): the layer is applied in place and
the caller discards that snapshot if unpack raises.

Refused with ``InvalidArgument`` naming the entry: absolute or ``..`` names, symlinks
whose relative target climbs above the root, entries beneath a symlink, hardlinks to
anything that is not already inside the tree. ``trusted.overlay.*`` xattrs in a tar are
dropped: they would steer overlayfs.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dockyard._internal import lazylog
from dockyard.errors import Conflict, DockyardError, InvalidArgument, SystemFault
from dockyard.kernel import process

from .compression import CHUNK, Compression, DigestReader, Readable, decompressed
from .safetree import (
    OPAQUE,
    WHITEOUT_PREFIX,
    SafeTree,
    check_symlink_target,
    entry_path,
    join,
)

log = lazylog.getLogger(__name__)

WhiteoutMode = Literal["overlay", "plain"]
OVERLAY_OPAQUE = "trusted.overlay.opaque"
XATTR_PREFIX = "SCHILY.xattr."
NOFOLLOW_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class UnpackResult:
    diff_id: str  # "sha256:<hex>" of the uncompressed tar
    size: int  # bytes of the uncompressed tar
    compression: Compression


def unpack(
    stream: Readable,
    dest: Path,
    whiteouts: WhiteoutMode = "overlay",
    *,
    preserve_owner: bool | None = None,
) -> UnpackResult:
    """Extract the layer blob read from ``stream`` into ``dest`` (see the module doc).

    ``preserve_owner`` defaults to "when root", like tar's ``--same-owner``.
    """
    if whiteouts not in ("overlay", "plain"):
        raise InvalidArgument(f"unknown whiteout mode {whiteouts!r}: use overlay or plain")
    owner = os.geteuid() == 0 if preserve_owner is None else preserve_owner
    dest = Path(dest)
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise Conflict(f"unpack target {dest} exists and is not a directory")
    if dest.is_dir() and any(dest.iterdir()):
        if whiteouts != "plain":
            raise Conflict(f"unpack target {dest} is not empty: pass a new or empty directory")
        return _apply(stream, str(dest), whiteouts, owner)
    tmp = dest.parent / f".{dest.name}.unpack-{secrets.token_hex(4)}"
    os.mkdir(tmp, 0o755)
    try:
        result = _apply(stream, str(tmp), whiteouts, owner)
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def _apply(stream: Readable, root: str, whiteouts: WhiteoutMode, owner: bool) -> UnpackResult:
    kind, plain = decompressed(stream)
    reader = DigestReader(plain)
    applier = _Applier(SafeTree(root), whiteouts, owner)
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                applier.apply(tar, member)
        reader.drain()
    except tarfile.TarError as e:
        raise InvalidArgument(f"layer is not a valid tar archive: {e}") from e
    try:
        applier.tree.finish_dirs()
    except OSError as e:
        raise SystemFault(f"cannot set directory attributes in {root}: {e}") from e
    log.debug("unpacked %s into %s (%d bytes)", reader.digest, root, reader.size)
    return UnpackResult(reader.digest, reader.size, kind)


def _pax_ns(raw: str) -> int:
    """A PAX time in exact nanoseconds (a float would lose the last digits)."""
    sec, _, frac = raw.partition(".")
    sign = -1 if sec.startswith("-") else 1
    return int(sec) * 1_000_000_000 + sign * int((frac + "000000000")[:9])


def _times(member: tarfile.TarInfo) -> tuple[int, int]:
    """(atime, mtime) in nanoseconds; atime defaults to mtime."""
    pax = member.pax_headers
    mtime = _pax_ns(pax["mtime"]) if "mtime" in pax else int(member.mtime) * 1_000_000_000
    return (_pax_ns(pax["atime"]) if "atime" in pax else mtime), mtime


class _Applier:
    def __init__(self, tree: SafeTree, whiteouts: WhiteoutMode, owner: bool) -> None:
        self.tree = tree
        self.overlay = whiteouts == "overlay"
        self.owner = owner
        self._whited: set[str] = set()

    def apply(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        try:
            self._apply(tar, member)
        except DockyardError:
            raise
        except OSError as e:
            raise SystemFault(f"cannot extract layer entry {member.name!r}: {e}") from e

    def _apply(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        tree = self.tree
        rel = entry_path(member.name)
        base = rel.rpartition("/")[2]
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(rel, member.name)
            return
        if rel:
            tree.parents(rel, member.name)
        if member.isdir():
            self._dir(rel, member)
            return
        if not rel:
            raise InvalidArgument(f"refusing layer entry {member.name!r}: the root is a directory")
        if member.islnk():
            self._hardlink(rel, member)
            return
        self._replace(rel)
        path = tree.abs(rel)
        if member.isreg():
            fd = os.open(path, NOFOLLOW_CREATE, 0o600)
            try:
                src = tar.extractfile(member)
                if src is not None:
                    while chunk := src.read(CHUNK):
                        os.write(fd, chunk)
                self._attrs(fd, member)
            finally:
                os.close(fd)
        elif member.issym():
            check_symlink_target(rel, member.linkname, member.name)
            os.symlink(member.linkname, path)
            self._attrs(path, member)
        elif member.ischr() or member.isblk() or member.isfifo():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            if member.isfifo():
                kind = stat.S_IFIFO
            process.mknod(path, kind | 0o600, member.devmajor, member.devminor)
            self._attrs(path, member)
        else:
            log.warning("skipping layer entry %s of unsupported type %r", member.name, member.type)
            return
        tree.mark(rel)

    def _replace(self, rel: str, want_dir: bool = False) -> bool:
        """Clear the way for ``rel``; True when an existing directory is kept instead."""
        st = self.tree.lstat(rel)
        if st is None:
            return False
        if want_dir and stat.S_ISDIR(st.st_mode):
            return True
        self.tree.remove(rel)
        return False

    def _dir(self, rel: str, member: tarfile.TarInfo) -> None:
        tree = self.tree
        path = tree.abs(rel)
        replaces_whiteout = rel in self._whited
        if rel and not self._replace(rel, want_dir=True):
            os.mkdir(path, 0o700)
        tree.add_dir(rel)
        tree.mark(rel)
        if self.owner:
            os.chown(path, member.uid, member.gid, follow_symlinks=False)
        self._xattrs(path, member)
        if replaces_whiteout:
            # deleted and recreated in one layer: the lower dir must not show through
            os.setxattr(path, OVERLAY_OPAQUE, b"y", follow_symlinks=False)
        tree.dir_attrs[rel] = (member.mode & 0o7777, *_times(member))

    def _hardlink(self, rel: str, member: tarfile.TarInfo) -> None:
        tree = self.tree
        target = entry_path(member.linkname, member.name)
        refuse = f"refusing layer entry {member.name!r}: hardlink target {member.linkname!r}"
        if not target or not tree.parents(target, member.name, create=False):
            raise InvalidArgument(f"{refuse} is not in the layer")
        st = tree.lstat(target)
        if st is None or stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(f"{refuse} is not a file in the layer")
        if target == rel:
            return
        self._replace(rel)
        os.link(tree.abs(target), tree.abs(rel), follow_symlinks=False)
        tree.mark(rel)

    def _whiteout(self, rel: str, name: str) -> None:
        tree = self.tree
        parent, _, base = rel.rpartition("/")
        if base == OPAQUE:
            self._opaque(parent, name)
            return
        if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # aufs bookkeeping (.wh..wh.plnk and friends), meaningless here
        if base == WHITEOUT_PREFIX:
            raise InvalidArgument(f"refusing layer entry {name!r}: a whiteout names nothing")
        victim = join(parent, base[len(WHITEOUT_PREFIX) :])
        if self.overlay:
            tree.parents(victim, name)
            if tree.lstat(victim) is not None:
                return  # written by this layer, which hides the lower one already
            process.mknod(tree.abs(victim), stat.S_IFCHR, 0, 0)
            self._whited.add(victim)
            return
        if not tree.parents(victim, name, create=False) or victim in tree.written:
            return  # whiteouts only remove what lower layers made
        tree.remove(victim)

    def _opaque(self, rel: str, name: str) -> None:
        tree = self.tree
        if rel:
            tree.parents(rel, name)
        st = tree.lstat(rel)
        if st is None or not stat.S_ISDIR(st.st_mode):
            if st is not None:
                tree.remove(rel)
            os.mkdir(tree.abs(rel), 0o755)
        tree.add_dir(rel)
        if self.overlay:
            os.setxattr(tree.abs(rel), OVERLAY_OPAQUE, b"y", follow_symlinks=False)
        else:
            tree.purge(rel)
        tree.mark(rel)

    def _xattrs(self, target: str | int, member: tarfile.TarInfo) -> None:
        for key, value in member.pax_headers.items():
            if not key.startswith(XATTR_PREFIX):
                continue
            attr = key[len(XATTR_PREFIX) :]
            if attr.startswith("trusted.overlay."):
                log.warning("dropping %s of layer entry %s", attr, member.name)
                continue
            raw = value.encode("utf-8", "surrogateescape")
            if isinstance(target, int):
                os.setxattr(target, attr, raw)
            else:
                os.setxattr(target, attr, raw, follow_symlinks=False)

    def _attrs(self, target: str | int, member: tarfile.TarInfo) -> None:
        """Owner, then mode (chown clears setuid), then xattrs (chown clears file caps),
        then times."""
        follow = isinstance(target, int)
        if self.owner:
            os.chown(target, member.uid, member.gid, follow_symlinks=follow)
        if not member.issym():
            os.chmod(target, member.mode & 0o7777)
        self._xattrs(target, member)
        os.utime(target, ns=_times(member), follow_symlinks=follow)
