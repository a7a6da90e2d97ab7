"""``ContainerCreation``: the create verb, mixed into ``ContainerService``.

``create`` checks the request as dockerd does (``_check_host_config``: network mode,
limits, devices, restart policy, namespace modes, links), merges the image's config,
picks the name and id, prepares the writable snapshot, volumes and network endpoints, and
commits the record last: a failure leaves no record, snapshot, volume or directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.images.config import load_config
from dockyard.images.imagestore import ImageStore
from dockyard.images.rootfs import prepare_container, remove_container
from dockyard.shim.logs import rfc3339_nano

from . import cgrouprules, devices, links, names, nsmodes, specgen, specprocess
from .containerrecord import Container
from .events import EventLog
from .mounts import ContainerMounts, points_of
from .restarts import check_policy
from .runtimes import RuntimeRegistry

if TYPE_CHECKING:
    from .containerports import ContainerNetworking
    from .containers import ContainerSettings

log = logging.getLogger(__name__)

NETWORK_MODES = ("none", "host", "bridge", "default")


class ContainerCreation:
    """Create; mixed into ``ContainerService``, which owns the state it changes."""

    if TYPE_CHECKING:
        store: ImageStore
        settings: ContainerSettings
        networking: ContainerNetworking | None
        runtimes: RuntimeRegistry
        mounts: ContainerMounts
        events: EventLog
        _containers: dict[str, Container]
        _names: dict[str, str]
        _creating: set[str]
        _lock: asyncio.Lock

        def _get(self, ref: str) -> Container: ...
        def _data_dir(self, cid: str) -> Path: ...

    async def create(self, body: dict[str, Any], name: str | None) -> tuple[str, list[str]]:
        image_ref = body.get("Image")
        if not image_ref or not isinstance(image_ref, str):
            raise InvalidArgument("no image given: set Image")
        host_config = dict(body.get("HostConfig") or {})
        warnings = self._check_host_config(host_config, body)
        self.runtimes.choose(host_config)  # HostConfig.Runtime: the name, checked

        def find_image() -> tuple[str, dict[str, Any]]:
            try:
                record = self.store.image(image_ref)
            except NotFound:
                raise NotFound(f"No such image: {image_ref}") from None
            return str(record.id), load_config(self.store, record).get("config") or {}

        image_id, image_config = await asyncio.to_thread(find_image)
        config = specgen.merge_config(image_config, body)
        config["Image"] = image_ref
        args = specgen.command_of(config)
        async with self._lock:
            wanted = names.check_name(name) if name else None
            if wanted and wanted in self._names:
                other = self._names[wanted]
                raise Conflict(
                    f'Conflict. The container name "{wanted}" is already in use by container '
                    f'"{other}". You have to remove (or rename) that container to be able to '
                    "reuse that name."
                )
            retry = 0
            while wanted is None or wanted in self._names:
                wanted = names.generate(retry)
                retry += 1
            mode = str(host_config.get("NetworkMode") or self.settings.default_network)
            if self.networking is not None:  # --link (links.py), as dockerd stores it
                host_config["Links"] = links.normalize(
                    host_config.get("Links"), wanted, mode, self._get
                )
            cid = new_id(self._containers)
            if not config.get("Hostname") and not mode.startswith("container:"):
                # inspect shows the hostname the container gets, as dockerd's
                config["Hostname"] = specgen.hostname_of(cid, config, mode)
            now = time.time_ns()
            c = Container(
                id=cid,
                name=wanted,
                created=rfc3339_nano(now),
                created_unix=now / 1e9,
                path=args[0],
                args=args[1:],
                config=config,
                host_config=host_config,
                image=image_id,
                image_name=image_ref,
                driver=self.store.driver,
            )
            data_dir = self._data_dir(cid)
            data_dir.mkdir(parents=True, mode=0o710)
            self._creating.add(cid)  # known() while its network endpoint exists unregistered
            try:
                c.mounts = await self.mounts.create(cid, config, host_config)
                await asyncio.to_thread(prepare_container, self.store, cid, image_id)
                if self.networking is not None:  # --ip, --network-alias (containerports.py)
                    await self.networking.created(c, body.get("NetworkingConfig"))
                await asyncio.to_thread(c.save, data_dir)
            except BaseException:
                await self.mounts.remove(cid, points_of(c), volumes=True)
                shutil.rmtree(data_dir, ignore_errors=True)
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(remove_container, self.store, cid)
                raise
            finally:
                self._creating.discard(cid)
            self._containers[cid] = c
            self._names[c.name] = cid
        log.info("created container %s (%s) from %s", cid[:12], c.name, image_ref)
        self.events.container(c, "create")
        return cid, warnings

    def _check_host_config(
        self, hc: dict[str, Any], body: dict[str, Any] | None = None
    ) -> list[str]:
        warnings: list[str] = []
        mode = hc.get("NetworkMode") or self.settings.default_network
        if self.networking is not None:  # networks by name (containerports.py)
            warnings += self.networking.check_mode(mode, hc, body)
            if str(mode).startswith("container:"):  # stored as dockerd does: by full id
                mode = "container:" + self._get(str(mode).partition(":")[2]).id
        elif mode not in NETWORK_MODES:
            raise InvalidArgument(
                f"network mode {mode!r} is not supported: use none, host, bridge or default"
            )
        elif mode in ("bridge", "default"):
            warnings.append(
                f"network mode {mode!r}: container networking is not implemented yet; "
                "the container gets its own network namespace with only a loopback interface"
            )
        hc["NetworkMode"] = mode
        memory = int(hc.get("Memory") or 0)
        if memory and memory < 6 * 1024 * 1024:
            raise InvalidArgument("Minimum memory limit allowed is 6MB")
        swap = int(hc.get("MemorySwap") or 0)
        if memory and swap > 0 and swap < memory:
            raise InvalidArgument(
                "Minimum memoryswap limit should be larger than memory limit, see usage"
            )
        log_config = hc.get("LogConfig") or {}
        if log_config.get("Type") not in (None, "", "json-file"):
            raise InvalidArgument(
                f"logging driver {log_config.get('Type')!r} is not supported: use json-file"
            )
        specprocess.check_host_config(hc, self.settings.init_path)
        if not hc.get("Privileged"):  # as dockerd, inspect shows them
            hc["MaskedPaths"], hc["ReadonlyPaths"] = specgen.system_paths(hc)
        warnings += devices.check_resources(hc)
        warnings += cgrouprules.check(hc)  # --device-cgroup-rule, --oom-kill-disable
        check_policy(hc)  # restart policy names, counts, --rm
        nsmodes.check_modes(hc, body or {}, lambda ref: self._get(ref).id)  # --ipc, --pid, ...
        return warnings


def new_id(taken: dict[str, Container]) -> str:
    while True:
        cid = secrets.token_hex(32)
        # as dockerd: a short id that reads as a number would be taken for one
        if cid not in taken and not cid[:12].isdigit():
            return cid
