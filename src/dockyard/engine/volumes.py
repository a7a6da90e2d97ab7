"""``VolumeService``: the volumes of the ``local`` driver, their references and mounts.

A volume is ``<data_root>/volumes/<name>/_data`` plus its record ``volume.json`` (name,
driver, creation time, labels, driver options), written atomically and durably *after*
``_data`` exists: the record is the commit point, so a directory without one is a
half-made (or half-removed) volume and is cleared at load. Removal deletes the record
first, then the tree.

References are container ids, held in memory and rebuilt from the container records at
daemon start (as dockerd does): a referenced volume is "in use" and cannot be removed,
even with force. A volume with driver options (``type``/``device``/``o``, e.g. a tmpfs or
a bind of a host directory, as dockerd's local driver) is mounted on ``_data`` when the
first container using it starts and unmounted when the last one stops.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dockyard._internal.atomicfile import write_atomic
from dockyard.errors import Conflict, InvalidArgument, NotFound, SystemFault

from .events import EventLog
from .localvolume import (
    RECORD,
    check_name,
    check_options,
    disk_size,
    is_mounted,
    labels_match,
    mount_local,
    remove_tree,
    unmount,
)

log = logging.getLogger(__name__)

ANONYMOUS_LABEL = "com.docker.volume.anonymous"
DRIVER = "local"
LIST_FILTERS = ("dangling", "driver", "label", "name")
PRUNE_FILTERS = ("label", "label!", "all")


@dataclass(frozen=True)
class VolumeView:
    """One volume as the API shows it; ``size``/``ref_count`` are -1 unless asked for."""

    name: str
    driver: str
    mountpoint: str
    created_at: str
    labels: dict[str, str] | None
    options: dict[str, str] | None
    refs: tuple[str, ...] = ()
    size: int = -1
    ref_count: int = -1
    scope: str = "local"

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in (self.labels or {})


@dataclass
class VolumeRecord:
    name: str
    driver: str
    created_at: str
    labels: dict[str, str] | None = None
    options: dict[str, str] | None = None


class VolumeService:
    """The Engine API's volume backend (see the module doc)."""

    def __init__(self, data_root: Path, events: EventLog | None = None) -> None:
        self.root = data_root / "volumes"
        self.events = events or EventLog()
        self._records: dict[str, VolumeRecord] = {}
        self._refs: dict[str, set[str]] = {}
        self._active: dict[str, set[str]] = {}  # container ids that have it mounted
        self._lock = asyncio.Lock()
        self._loaded = False

    # -- life of the service -----------------------------------------------------------

    async def start(self) -> None:
        """Load the records (once); clear what a crash left half made."""
        if not self._loaded:
            await asyncio.to_thread(self._load)
            self._loaded = True

    def _load(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o701)
        for entry in sorted(self.root.iterdir()):
            if not entry.is_dir():
                continue
            try:
                doc = json.loads((entry / RECORD).read_text())
                rec = VolumeRecord(**{k: doc[k] for k in VolumeRecord.__dataclass_fields__})
            except FileNotFoundError:
                log.warning("removing half-made volume dir %s", entry)
                remove_tree(entry)
                continue
            except (OSError, ValueError, TypeError, KeyError) as e:
                log.warning("skipping volume dir %s: %s", entry, e)
                continue
            self._records[rec.name] = rec

    def restore(self, container_id: str, names: Sequence[str], running: bool) -> None:
        """A container loaded at daemon start: its references (and mounts, if it runs)."""
        for name in names:
            if name in self._records:
                self._refs.setdefault(name, set()).add(container_id)
                if running:
                    self._active.setdefault(name, set()).add(container_id)

    async def settle(self) -> None:
        """Unmount the option volumes that no running container uses (after a crash)."""
        async with self._lock:
            for rec in self._records.values():
                if rec.options and not self._active.get(rec.name):
                    path = self._data(rec.name)
                    if is_mounted(path):
                        await asyncio.to_thread(unmount, path)

    # -- paths and views ---------------------------------------------------------------

    def _data(self, name: str) -> Path:
        return self.root / name / "_data"

    def _view(self, rec: VolumeRecord, usage: bool = False) -> VolumeView:
        refs = tuple(sorted(self._refs.get(rec.name, ())))
        return VolumeView(
            name=rec.name,
            driver=rec.driver,
            mountpoint=str(self._data(rec.name)),
            created_at=rec.created_at,
            labels=None if rec.labels is None else dict(rec.labels),
            options=None if rec.options is None else dict(rec.options),
            refs=refs,
            size=disk_size(self._data(rec.name)) if usage else -1,
            ref_count=len(refs) if usage else -1,
        )

    def _get(self, name: str) -> VolumeRecord:
        rec = self._records.get(name)
        if rec is None:
            raise NotFound(f"get {name}: no such volume")
        return rec

    # -- the API verbs -----------------------------------------------------------------

    async def create(
        self,
        name: str = "",
        driver: str = "",
        options: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        *,
        ref: str = "",
    ) -> VolumeView:
        """Create a volume, or return the existing one of that name (dockerd's rule);
        ``ref`` (a container id) is added to its references in the same step."""
        async with self._lock:
            rec = self._records.get(name) if name else None
            if rec is None:
                rec = await self._create(name, driver or DRIVER, options, labels)
            elif driver and driver != rec.driver:
                raise Conflict(
                    f"create {name}: volume name must be unique: a volume {name} exists with "
                    f"driver {rec.driver!r}"
                )
            if ref:
                self._refs.setdefault(rec.name, set()).add(ref)
            return self._view(rec)

    async def _create(
        self,
        name: str,
        driver: str,
        options: Mapping[str, str] | None,
        labels: Mapping[str, str] | None,
    ) -> VolumeRecord:
        if driver != DRIVER:
            raise NotFound(
                f'create {name}: error looking up volume plugin {driver}: plugin "{driver}" '
                "not found"
            )
        labels = None if labels is None else {str(k): str(v) for k, v in labels.items()}
        if not name:
            name = secrets.token_hex(32)
            labels = {**(labels or {}), ANONYMOUS_LABEL: ""}
        check_name(name)
        options = None if options is None else {str(k): str(v) for k, v in options.items()}
        check_options(name, options or {})
        rec = VolumeRecord(
            name=name,
            driver=driver,
            created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            labels=labels,
            options=options,
        )
        await asyncio.to_thread(self._write_new, rec)
        self._records[name] = rec
        self.events.emit("volume", "create", name, {"driver": driver})
        log.info("created volume %s", name)
        return rec

    def _write_new(self, rec: VolumeRecord) -> None:
        top = self.root / rec.name
        try:
            top.mkdir(mode=0o701)
            (top / "_data").mkdir(mode=0o755)
            data = json.dumps(asdict(rec), indent=1).encode()
            write_atomic(str(top / RECORD), data, mode=0o600, durable=True)
        except BaseException:
            remove_tree(top)
            raise

    async def inspect(self, name: str) -> VolumeView:
        return self._view(self._get(name))

    async def list(
        self, filters: Mapping[str, Sequence[str]] | None = None
    ) -> builtins.list[VolumeView]:
        filters = dict(filters or {})
        for key in filters:
            if key not in LIST_FILTERS:
                raise InvalidArgument(f"invalid filter '{key}'")
        dangling: bool | None = None
        for value in filters.get("dangling", []):
            if value.lower() in ("true", "1"):
                dangling = True
            elif value.lower() in ("false", "0"):
                dangling = False
            else:
                raise InvalidArgument(f"invalid filter 'dangling={value}'")
        out = []
        for rec in sorted(self._records.values(), key=lambda r: r.name):
            in_use = bool(self._refs.get(rec.name))
            labels = rec.labels or {}
            if dangling is not None and in_use == dangling:
                continue
            if filters.get("name") and not any(n in rec.name for n in filters["name"]):
                continue
            if filters.get("driver") and rec.driver not in filters["driver"]:
                continue
            if not all(labels_match(labels, s) for s in filters.get("label", [])):
                continue
            out.append(self._view(rec))
        return out

    async def remove(self, name: str, force: bool = False) -> None:
        """Remove an unused volume; ``force`` only makes a missing one no error."""
        async with self._lock:
            rec = self._records.get(name)
            if rec is None:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            await self._remove(rec)

    async def _remove(self, rec: VolumeRecord) -> None:
        refs = self._refs.get(rec.name)
        if refs:
            raise Conflict(f"remove {rec.name}: volume is in use - [{', '.join(sorted(refs))}]")
        top = self.root / rec.name
        await asyncio.to_thread(remove_tree, top)
        del self._records[rec.name]
        self._refs.pop(rec.name, None)
        self._active.pop(rec.name, None)
        self.events.emit("volume", "destroy", rec.name, {"driver": rec.driver})
        log.info("removed volume %s", rec.name)

    async def prune(self, filters: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
        """Remove the unused anonymous volumes (all unused ones with ``all=true``)."""
        filters = dict(filters or {})
        for key in filters:
            if key not in PRUNE_FILTERS:
                raise InvalidArgument(f"invalid filter '{key}'")
        all_ = False
        for value in filters.get("all", []):
            if value.lower() not in ("true", "1", "false", "0"):
                raise InvalidArgument(f"invalid filter 'all={value}'")
            all_ = value.lower() in ("true", "1")
        deleted: builtins.list[str] = []
        reclaimed = 0
        async with self._lock:
            for rec in sorted(self._records.values(), key=lambda r: r.name):
                labels = rec.labels or {}
                if self._refs.get(rec.name) or (not all_ and ANONYMOUS_LABEL not in labels):
                    continue
                if not all(labels_match(labels, s) for s in filters.get("label", [])):
                    continue
                if any(labels_match(labels, s) for s in filters.get("label!", [])):
                    continue
                size = await asyncio.to_thread(disk_size, self._data(rec.name))
                try:
                    await self._remove(rec)
                except (OSError, SystemFault) as e:
                    log.warning("prune: cannot remove volume %s: %s", rec.name, e)
                    continue
                deleted.append(rec.name)
                reclaimed += size
        self.events.emit("volume", "prune", "", {"reclaimed": str(reclaimed)})
        return {"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}

    async def df(self) -> builtins.list[VolumeView]:
        """Every volume with its size and reference count (``GET /system/df``)."""
        recs = sorted(self._records.values(), key=lambda r: r.name)
        return await asyncio.to_thread(lambda: [self._view(r, usage=True) for r in recs])

    # -- what containers do with volumes -----------------------------------------------

    async def release(self, name: str, container_id: str) -> None:
        """A container that no longer exists stops referencing the volume."""
        async with self._lock:
            self._refs.get(name, set()).discard(container_id)
            self._active.get(name, set()).discard(container_id)

    async def mount(self, name: str, container_id: str) -> str:
        """The volume's host path for a starting container; mounts an option volume
        (tmpfs, bind, ...) for its first user."""
        async with self._lock:
            rec = self._get(name)
            users = self._active.setdefault(name, set())
            path = self._data(name)
            if rec.options and not users and not is_mounted(path):
                await asyncio.to_thread(mount_local, rec.options, path)
            users.add(container_id)
            return str(path)

    async def unmount(self, name: str, container_id: str) -> bool:
        """A container stopped using the volume; unmounts an option volume after its last
        user. False if the container did not have it mounted."""
        async with self._lock:
            users = self._active.get(name)
            if not users or container_id not in users:
                return False
            users.discard(container_id)
            rec = self._records.get(name)
            path = self._data(name)
            if rec is not None and rec.options and not users and is_mounted(path):
                await asyncio.to_thread(unmount, path)
            return True
