"""``VfsSnapshotter``: every snapshot a plain directory holding the whole tree.

The reference driver: it works on any file system and needs no kernel feature beyond a
bind mount. ``prepare`` copies the parent's tree (``tree.copy_tree``: ownership, modes,
xattrs, device nodes, symlinks and in-tree hardlinks kept; extents shared where the file
system can reflink), so it costs a full copy per layer. A view is a read-only bind of the
parent's directory itself, which stays put while the view exists (a parent with children
cannot be removed). ``upper_dir`` is None: a diff compares the tree with its parent's.

Layout: ``<root>/snapshots/<id>/`` and ``<root>/metadata.json``.
"""

from __future__ import annotations

from pathlib import Path

from .driver import DriverBase
from .metadata import Record
from .mount import Mount
from .snapshotter import Kind, Usage
from .tree import copy_tree, disk_usage, remove_tree


class VfsSnapshotter(DriverBase):
    name = "vfs"

    def __init__(self, root: Path, durable: bool = True) -> None:
        super().__init__(root, durable)

    def _create(self, id_: str, parent: Record | None, kind: Kind) -> None:
        path = self.root / "snapshots" / id_
        path.mkdir()
        if parent is not None and kind is Kind.ACTIVE:
            try:
                copy_tree(self.snapshot_dir(parent), path)
            except BaseException:
                remove_tree(path)
                raise

    def _mounts(self, rec: Record) -> list[Mount]:
        if rec.kind is Kind.VIEW:
            source = self.snapshot_dir(self.meta.get(rec.parent)) if rec.parent else None
            path = source or self.snapshot_dir(rec)
            return [Mount("bind", str(path), ("rbind", "ro"))]
        return [Mount("bind", str(self.snapshot_dir(rec)), ("rbind", "rw"))]

    def _discard(self, rec: Record) -> None:
        remove_tree(self.snapshot_dir(rec))

    def _usage(self, rec: Record) -> Usage:
        return disk_usage(self.snapshot_dir(rec))
