"""``ContainerMounts``: what a container's mounts need from create to remove.

- create: the mount requests (``mountspecs.plan``) become mount points; named volumes
  are created if missing, anonymous ones (``-v /path``, image ``VOLUME``s, ``--mount``
  without a source) made, and the container is added to each volume's references. A
  failure undoes all of it (references, anonymous volumes).
- start (``activate``): each volume is mounted for the container (option volumes really
  are, on their first user) and a ``mount`` event goes out; ``copy_up`` then fills an
  empty volume with the image's files at its destination (dockerd's copy-up; ``nocopy``
  turns it off). ``deactivate`` undoes it when the container stops or fails to start.
- remove: the references are dropped; ``rm -v`` and ``--rm`` remove the anonymous volumes.

The OCI side is ``mountspecs.oci_mounts``; ``specgen`` calls it with the mount points.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from dockyard.errors import Conflict, NotFound, NotSupported, SystemFault

from .containerrecord import Container, MountPoint, mount_points
from .events import EventLog
from .mountspecs import MountRequest, check_sources, parse_volumes_from, plan
from .volumes import VolumeService

log = logging.getLogger(__name__)


def points_of(c: Container) -> list[MountPoint]:
    """The container's mount points (binds only for a record made before volumes)."""
    if c.mounts is None:
        return list(mount_points(c.host_config))
    return [MountPoint(**m) for m in c.mounts]


def _point(req: MountRequest, source: str = "", name: str = "", driver: str = "") -> MountPoint:
    return MountPoint(
        type=req.type,
        source=source or req.source,
        destination=req.destination,
        mode=req.mode,
        rw=req.rw,
        propagation=req.propagation,
        name=name,
        driver=driver,
        anonymous=req.type == "volume" and not req.source,
        copy_data=req.copy_data,
        recursive=req.recursive,
        data=req.tmpfs_data,
    )


class ContainerMounts:
    """The container service's side of volumes and mounts (see the module doc)."""

    def __init__(
        self,
        volumes: VolumeService,
        events: EventLog,
        lookup: Callable[[str], Container] | None = None,
    ) -> None:
        self.volumes = volumes
        self.events = events
        self._lookup = lookup  # a container by name or id, for --volumes-from

    async def create(
        self, container_id: str, config: Mapping[str, Any], host_config: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """The mount points of a new container (``Container.mounts``), volumes made."""
        inherited = self._volumes_from(host_config)
        requests = plan(config, host_config, {p.destination for p in inherited})
        await asyncio.to_thread(check_sources, requests)
        points: list[MountPoint] = []
        try:
            mine = {r.destination for r in requests}
            for p in inherited:  # a bind or mount on the same path wins (dockerd's order)
                if p.destination not in mine:
                    if p.type == "volume":
                        await self.volumes.create(p.name, p.driver, ref=container_id)
                    points.append(p)
            for req in requests:
                if req.type != "volume":
                    points.append(_point(req))
                    continue
                view = await self.volumes.create(
                    req.source,
                    req.volume_driver,
                    req.volume_options,
                    req.volume_labels,
                    ref=container_id,
                )
                points.append(_point(req, view.mountpoint, view.name, view.driver))
        except BaseException:
            await self.remove(container_id, points, volumes=True)
            raise
        return [asdict(p) for p in points]

    def _volumes_from(self, host_config: Mapping[str, Any]) -> list[MountPoint]:
        """The mount points of ``HostConfig.VolumesFrom`` containers (``:ro`` makes them
        read-only); the volumes are not copied up again."""
        out: dict[str, MountPoint] = {}
        for spec in host_config.get("VolumesFrom") or []:
            ref, rw = parse_volumes_from(str(spec))
            if self._lookup is None:
                raise NotSupported("--volumes-from needs the container service")
            for p in points_of(self._lookup(ref)):
                out[p.destination] = replace(p, rw=p.rw and rw, copy_data=False)
        return list(out.values())

    async def remove(
        self, container_id: str, points: Sequence[MountPoint], volumes: bool = False
    ) -> None:
        """Drop the container's references; ``volumes``: remove its anonymous volumes
        (one another container still uses stays, as with dockerd)."""
        for p in points:
            if p.type != "volume" or not p.name:
                continue
            await self.deactivate_one(container_id, p)
            await self.volumes.release(p.name, container_id)
            if volumes and p.anonymous:
                try:
                    await self.volumes.remove(p.name)
                except (Conflict, NotFound):
                    pass
                except (OSError, SystemFault) as e:
                    log.warning("removing volume %s: %s", p.name, e)

    def restore(self, c: Container) -> None:
        """A container loaded at daemon start holds its volumes again."""
        names = [p.name for p in points_of(c) if p.type == "volume" and p.name]
        self.volumes.restore(c.id, names, c.running)

    async def activate(self, c: Container) -> list[MountPoint]:
        """Mount the container's volumes for a start; returns its mount points."""
        if c.mounts is None:
            c.mounts = await self.create(c.id, c.config, c.host_config)
        points = points_of(c)
        done: list[MountPoint] = []
        try:
            for p in points:
                if p.type == "volume":
                    await self.volumes.mount(p.name, c.id)
                    done.append(p)
                    self.events.emit("volume", "mount", p.name, {
                        "container": c.id, "destination": p.destination, "driver": p.driver,
                        "propagation": p.propagation, "read/write": str(p.rw).lower(),
                    })  # fmt: skip
                elif p.type == "bind" and c.host_config.get("Binds"):
                    await asyncio.to_thread(_make_bind_source, p, c.host_config)
        except BaseException:
            for p in done:
                await self.deactivate_one(c.id, p)
            raise
        return points

    async def deactivate(self, c: Container) -> None:
        """The container stopped (or did not start): unmount its volumes."""
        for p in points_of(c):
            if p.type == "volume" and p.name:
                try:
                    await self.deactivate_one(c.id, p)
                except (OSError, SystemFault) as e:
                    log.warning("unmounting volume %s: %s", p.name, e)

    async def deactivate_one(self, container_id: str, p: MountPoint) -> None:
        if await self.volumes.unmount(p.name, container_id):
            self.events.emit(
                "volume", "unmount", p.name, {"container": container_id, "driver": p.driver}
            )


def _make_bind_source(p: MountPoint, host_config: Mapping[str, Any]) -> None:
    """``-v /host:/ctr`` makes a missing host dir, as dockerd does (``--mount`` does not)."""
    binds = {str(b).split(":")[0] for b in host_config.get("Binds") or []}
    if p.source in binds and not os.path.exists(p.source):
        os.makedirs(p.source, 0o755, exist_ok=True)


def copy_up(rootfs: Path, points: Sequence[MountPoint]) -> None:
    """Fill each empty volume with the image's files at its destination (dockerd's
    copyExistingContents: contents, then the owner and mode of the directory)."""
    from dockyard.runtime.rootfs import resolve_in_root

    for p in points:
        if p.type != "volume" or not p.copy_data or not p.source:
            continue
        src = resolve_in_root(str(rootfs), p.destination)
        if not os.path.isdir(src) or os.path.islink(src):
            continue
        with contextlib.suppress(OSError), os.scandir(p.source) as it:
            if next(it, None) is not None:
                continue
        with os.scandir(src) as it:
            empty = next(it, None) is None
        if not empty:
            res = subprocess.run(
                ["cp", "-a", "--", f"{src}/.", f"{p.source}/"],
                capture_output=True,
                text=True,
                check=False,
            )
            if res.returncode != 0:
                raise SystemFault(
                    f"copying the image's {p.destination} into volume {p.name}: "
                    f"{res.stderr.strip()}"
                )
        st = os.stat(src)
        os.chown(p.source, st.st_uid, st.st_gid)
        os.chmod(p.source, stat.S_IMODE(st.st_mode))
        log.debug("copied %s into volume %s", p.destination, p.name)
