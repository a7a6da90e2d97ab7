"""The snapshot graph of one driver: key -> (id, parent, kind), kept in a JSON file.

Every change is written atomically and durably (temp file, fsync, rename, fsync dir), so
after a crash the file is the old graph or the new one. Drivers create a snapshot's
directories before recording it and forget it before deleting them: a crash leaves at
worst an unreferenced directory, never a record without its data.

``extra`` holds driver-private state that must survive restarts (overlay's link names and
its cache of flattened layers); it is saved with the graph.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dockyard._internal.atomicfile import write_atomic
from dockyard.errors import Conflict, InvalidArgument, NotFound

from .snapshotter import Info, Kind

FORMAT = 1


@dataclass(frozen=True)
class Record:
    """One snapshot: ``id`` names its directory, ``parent`` is a committed snapshot's key."""

    key: str
    id: str
    parent: str | None
    kind: Kind

    def info(self) -> Info:
        return Info(self.key, self.parent, self.kind)


class MetaStore:
    """The persistent graph; callers hold ``lock`` across a check-then-act sequence."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        self.path = path
        self.durable = durable
        self.lock = threading.RLock()
        self._records: dict[str, Record] = {}
        self._next_id = 1
        self.extra: dict[str, Any] = {}
        self._load()

    def _load(self) -> None:
        try:
            raw = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as e:
            raise InvalidArgument(f"unreadable snapshot metadata {self.path}: {e}") from e
        if raw.get("format") != FORMAT:
            raise InvalidArgument(f"snapshot metadata {self.path} has unknown format")
        self._next_id = int(raw["next_id"])
        self.extra = dict(raw.get("extra", {}))
        for key, r in raw["snapshots"].items():
            self._records[key] = Record(key, r["id"], r["parent"], Kind(r["kind"]))

    def save(self) -> None:
        doc = {
            "format": FORMAT,
            "next_id": self._next_id,
            "snapshots": {
                k: {"id": r.id, "parent": r.parent, "kind": str(r.kind)}
                for k, r in self._records.items()
            },
            "extra": self.extra,
        }
        data = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
        write_atomic(str(self.path), data, durable=self.durable)

    # queries

    def get(self, key: str) -> Record:
        try:
            return self._records[key]
        except KeyError:
            raise NotFound(f"no such snapshot: {key}") from None

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def records(self) -> Iterator[Record]:
        return iter(list(self._records.values()))

    def children(self, key: str) -> list[str]:
        return [r.key for r in self._records.values() if r.parent == key]

    def ids(self) -> set[str]:
        return {r.id for r in self._records.values()}

    def chain(self, key: str | None) -> list[Record]:
        """``key`` and its ancestors, top first (empty for None)."""
        out = []
        while key is not None:
            r = self.get(key)
            out.append(r)
            key = r.parent
        return out

    # changes (validate first, then the caller makes directories, then ``add``)

    def check_new(self, key: str, parent: str | None) -> None:
        if not key:
            raise InvalidArgument("a snapshot key must not be empty")
        if key in self._records:
            raise Conflict(f"snapshot {key} already exists")
        if parent is not None:
            p = self.get(parent)
            if p.kind is not Kind.COMMITTED:
                raise Conflict(
                    f"parent snapshot {parent} is {p.kind}, not committed: commit it first"
                )

    def new_id(self) -> str:
        """A fresh id (not yet saved: an id lost to a crash is simply never reused)."""
        value = self._next_id
        self._next_id += 1
        return str(value)

    def add(self, key: str, id_: str, parent: str | None, kind: Kind) -> Record:
        rec = Record(key, id_, parent, kind)
        self._records[key] = rec
        self.save()
        return rec

    def check_commit(self, name: str, key: str) -> Record:
        rec = self.get(key)
        if rec.kind is not Kind.ACTIVE:
            raise Conflict(f"snapshot {key} is {rec.kind}: only an active snapshot commits")
        if name in self._records:
            raise Conflict(f"snapshot {name} already exists")
        if not name:
            raise InvalidArgument("a committed snapshot's name must not be empty")
        return rec

    def commit(self, name: str, key: str) -> Record:
        rec = self.check_commit(name, key)
        del self._records[key]
        done = replace(rec, key=name, kind=Kind.COMMITTED)
        self._records[name] = done
        self.save()
        return done

    def check_remove(self, key: str) -> Record:
        rec = self.get(key)
        kids = self.children(key)
        if kids:
            raise Conflict(
                f"snapshot {key} has {len(kids)} child snapshot(s) ({', '.join(sorted(kids)[:3])}):"
                " remove them first"
            )
        return rec

    def remove(self, key: str) -> Record:
        rec = self.check_remove(key)
        del self._records[key]
        self.save()
        return rec
