"""``BtrfsSnapshotter``: a btrfs subvolume per snapshot, children as btrfs snapshots.

Each snapshot is the subvolume ``<root>/snapshots/<id>``: a child starts as a (writable)
``btrfs subvolume snapshot`` of its parent, so it shares every extent until written;
``commit`` flips the subvolume read-only (``btrfs property set ro true``); a view is a
read-only snapshot of its parent. Mounts are bind mounts. The ``btrfs`` tool
(btrfs-progs) does the work: the ioctls are stable and the tool's errors are clear.

``usage`` counts the blocks of the files in the subvolume, shared extents included (btrfs
only knows exclusive sizes with quotas enabled, which cost on every write).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from dockyard._internal import lazylog
from dockyard.errors import NotSupported

from .driver import DriverBase
from .metadata import Record
from .mount import Mount
from .snapshotter import Kind, Usage
from .tree import disk_usage, run

log = lazylog.getLogger(__name__)


def filesystem_type(path: Path) -> str:
    """The file system type holding ``path`` as statfs(2) names it (``btrfs``, ``ext2/ext3``)."""
    done = subprocess.run(
        ["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def check_host(root: Path) -> None:
    """Raise ``NotSupported`` unless ``root`` (or its nearest existing ancestor) is on
    btrfs and the btrfs tool is installed."""
    if shutil.which("btrfs") is None:
        raise NotSupported("the btrfs storage driver needs the btrfs tool: apt install btrfs-progs")
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    kind = filesystem_type(probe)
    if kind != "btrfs":
        raise NotSupported(
            f"the btrfs storage driver needs its root on btrfs, but {root} is on"
            f" {kind or 'an unknown file system'}: mount a btrfs file system there or pick"
            " another driver (overlay, vfs)"
        )


class BtrfsSnapshotter(DriverBase):
    name = "btrfs"

    def __init__(self, root: Path, durable: bool = True) -> None:
        check_host(Path(root))
        super().__init__(root, durable)

    def _create(self, id_: str, parent: Record | None, kind: Kind) -> None:
        path = self.snapshot_dir_of(id_)
        if parent is None:
            run(["btrfs", "subvolume", "create", str(path)], f"cannot create snapshot {id_}")
            if kind is Kind.VIEW:
                self._set_readonly(path)
            return
        argv = ["btrfs", "subvolume", "snapshot"]
        if kind is Kind.VIEW:
            argv.append("-r")
        run([*argv, str(self.snapshot_dir(parent)), str(path)], f"cannot snapshot {parent.key}")

    def snapshot_dir_of(self, id_: str) -> Path:
        return self.root / "snapshots" / id_

    def _set_readonly(self, path: Path) -> None:
        run(
            ["btrfs", "property", "set", "-ts", str(path), "ro", "true"],
            f"cannot make {path} read-only",
        )

    def _mounts(self, rec: Record) -> list[Mount]:
        mode = "rw" if rec.kind is Kind.ACTIVE else "ro"
        return [Mount("bind", str(self.snapshot_dir(rec)), ("rbind", mode))]

    def _commit(self, rec: Record) -> None:
        self._set_readonly(self.snapshot_dir(rec))

    def _discard(self, rec: Record) -> None:
        path = self.snapshot_dir(rec)
        if path.exists():
            run(["btrfs", "subvolume", "delete", str(path)], f"cannot delete snapshot {rec.key}")

    def _usage(self, rec: Record) -> Usage:
        return disk_usage(self.snapshot_dir(rec))
