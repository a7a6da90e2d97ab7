"""``DriverBase``: the snapshot life cycle every driver shares, over a ``MetaStore``.

It validates each request against the graph, calls the driver's hooks to make, seal or
delete the data, and records the result. Drivers implement the ``_``-prefixed hooks only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from dockyard._internal import lazylog
from dockyard.errors import Conflict

from .metadata import MetaStore, Record
from .mount import Mount
from .snapshotter import Info, Kind, Usage

log = lazylog.getLogger(__name__)

METADATA = "metadata.json"


class DriverBase:
    """Shared life cycle; ``root`` is the driver's own directory (created if missing)."""

    name = "base"

    def __init__(self, root: Path, durable: bool = True) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "snapshots").mkdir(exist_ok=True)
        self.meta = MetaStore(self.root / METADATA, durable)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r})"

    def snapshot_dir(self, rec: Record) -> Path:
        return self.root / "snapshots" / rec.id

    # the Snapshotter protocol

    def prepare(self, key: str, parent: str | None) -> list[Mount]:
        return self._new(key, parent, Kind.ACTIVE)

    def view(self, key: str, parent: str | None) -> list[Mount]:
        return self._new(key, parent, Kind.VIEW)

    def _new(self, key: str, parent: str | None, kind: Kind) -> list[Mount]:
        with self.meta.lock:
            self.meta.check_new(key, parent)
            id_ = self.meta.new_id()
            parent_rec = self.meta.get(parent) if parent is not None else None
            log.debug("%s: new %s snapshot %s (id %s) on %s", self.name, kind, key, id_, parent)
            self._create(id_, parent_rec, kind)
            rec = self.meta.add(key, id_, parent, kind)
            return self._mounts(rec)

    def commit(self, name: str, key: str) -> None:
        with self.meta.lock:
            rec = self.meta.check_commit(name, key)
            self._commit(rec)
            self.meta.commit(name, key)

    def mounts(self, key: str) -> list[Mount]:
        with self.meta.lock:
            rec = self.meta.get(key)
            if rec.kind is Kind.COMMITTED:
                raise Conflict(f"snapshot {key} is committed: mount a view or prepare on it")
            return self._mounts(rec)

    def remove(self, key: str) -> None:
        with self.meta.lock:
            rec = self.meta.remove(key)
            self._discard(rec)

    def usage(self, key: str) -> Usage:
        with self.meta.lock:
            rec = self.meta.get(key)
        return self._usage(rec)

    def stat(self, key: str) -> Info:
        with self.meta.lock:
            return self.meta.get(key).info()

    def walk(self) -> Iterator[Info]:
        with self.meta.lock:
            infos = [r.info() for r in self.meta.records()]
        return iter(infos)

    def upper_dir(self, key: str) -> Path | None:
        with self.meta.lock:
            rec = self.meta.get(key)
        return self._upper_dir(rec)

    # driver hooks

    def _create(self, id_: str, parent: Record | None, kind: Kind) -> None:
        raise NotImplementedError

    def _mounts(self, rec: Record) -> list[Mount]:
        raise NotImplementedError

    def _commit(self, rec: Record) -> None:
        """Seal the data of an active snapshot that becomes committed (default: nothing)."""

    def _discard(self, rec: Record) -> None:
        raise NotImplementedError

    def _usage(self, rec: Record) -> Usage:
        raise NotImplementedError

    def _upper_dir(self, rec: Record) -> Path | None:
        return None
