"""``NetworkEndpoints``: the verbs on a container's endpoints, mixed into
``NetworkService`` (``networks.py``, which owns the records, pools and lock they change).

``connect``/``disconnect`` (the API's, on running or stopped containers), ``join_created``
(create's ``NetworkingConfig``: an address, no link yet), and the container's start and
exit (``attach_container`` makes the links of every network it is on, ``detach_container``
removes them and keeps the endpoints).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.network.ipam import PoolFile

from .events import EventLog
from .networkrecord import ContainerRef, EndpointRecord, NetworkFiles, NetworkRecord, new_id

if TYPE_CHECKING:
    from .networks import Links

log = logging.getLogger(__name__)


class NetworkEndpoints:
    """Connect, disconnect, join at create, attach at start, detach at exit."""

    if TYPE_CHECKING:
        files: NetworkFiles
        links: Links
        events: EventLog
        lookup_container: Callable[[str], Awaitable[ContainerRef]] | None
        _records: dict[str, NetworkRecord]
        _pools: dict[str, PoolFile]
        _lock: asyncio.Lock

        async def start(self) -> None: ...
        def _get(self, ref: str) -> NetworkRecord: ...
        async def _drop_stale(self, rec: NetworkRecord) -> None: ...

    # -- connect / disconnect ------------------------------------------------------------

    async def _container(self, ref: str) -> ContainerRef:
        if self.lookup_container is None:
            raise NotFound(f"No such container: {ref}")
        return await self.lookup_container(ref)

    async def connect(
        self, ref: str, container: str, aliases: Sequence[str] = (), ip: str = ""
    ) -> None:
        await self.start()
        c = await self._container(container)
        async with self._lock:
            rec = self._get(ref)
            if rec.driver in ("host", "null"):
                raise Conflict(
                    f"container cannot be disconnected from host network or connected to "
                    f"{rec.name} network"
                )
            if c.network_mode in ("host", "none") or c.network_mode.startswith("container:"):
                raise Conflict(
                    "container sharing network namespace with another container or host "
                    "cannot be connected to any other network"
                )
            if c.id in rec.endpoints:
                raise Conflict(f"endpoint with name {c.name} already exists in network {rec.name}")
            if ip and rec.predefined:
                raise InvalidArgument(
                    "user specified IP address is supported on user defined networks only"
                )
            await self._drop_stale(rec)
            ep = await self._join(rec, c, list(aliases), ip)
        self.events.emit(
            "network", "connect", rec.id, {"container": c.id, "name": rec.name, "type": rec.driver}
        )
        log.debug("connected %s to %s as %s", c.id[:12], rec.name, ep.address)

    async def _join(
        self,
        rec: NetworkRecord,
        c: ContainerRef,
        aliases: builtins.list[str],
        ip: str,
        mac: str = "",
    ) -> EndpointRecord:
        ep = EndpointRecord(
            c.id, c.name, new_id(), aliases=aliases, requested_ip=ip, requested_mac=mac
        )
        pool = self._pools.get(rec.id)
        if pool is not None:
            addr = await asyncio.to_thread(pool.allocate, ep.endpoint_id, ip)
            ep.address = str(addr)
        try:
            if c.running and c.pid:
                ep.host_ifname = await asyncio.to_thread(self.links.attach, rec, ep, c.pid)
            rec.endpoints[c.id] = ep
            await asyncio.to_thread(self.files.save, rec)
        except BaseException:
            rec.endpoints.pop(c.id, None)
            if pool is not None:
                await asyncio.to_thread(pool.release_owner, ep.endpoint_id)
            if ep.host_ifname:
                await asyncio.to_thread(self.links.detach, rec, ep)
            raise
        return ep

    async def disconnect(self, ref: str, container: str, force: bool = False) -> None:
        await self.start()
        async with self._lock:
            rec = self._get(ref)
            try:
                c = await self._container(container)
                cid = c.id
            except NotFound:
                # force: a container that is gone still leaves its endpoint
                if not force:
                    raise
                cid = next((i for i in rec.endpoints if i.startswith(container)), "")
            if rec.driver in ("host", "null"):
                raise Conflict(f"container cannot be disconnected from {rec.name} network")
            ep = rec.endpoints.get(cid)
            if ep is None:
                raise Conflict(f"container {container} is not connected to network {rec.name}")
            await self._leave(rec, ep)
        self.events.emit(
            "network",
            "disconnect",
            rec.id,
            {"container": cid, "name": rec.name, "type": rec.driver},
        )

    async def _leave(self, rec: NetworkRecord, ep: EndpointRecord) -> None:
        if ep.host_ifname:
            await asyncio.to_thread(self.links.detach, rec, ep)
        pool = self._pools.get(rec.id)
        if pool is not None:
            await asyncio.to_thread(pool.release_owner, ep.endpoint_id)
        rec.endpoints.pop(ep.container_id, None)
        await asyncio.to_thread(self.files.save, rec)

    # -- container start and exit ------------------------------------------------------

    async def attach_container(
        self,
        c: ContainerRef,
        primary: str,
        ip: str = "",
        aliases: Sequence[str] = (),
        mac: str = "",
    ) -> builtins.list[tuple[NetworkRecord, EndpointRecord]]:
        """At start, with the container's init created (``c.pid``): join ``primary``
        (once) and give every endpoint of the container a link; the primary first."""
        await self.start()
        async with self._lock:
            rec = self._get(primary)
            joined = None
            if c.id not in rec.endpoints:
                joined = await self._join(rec, c, list(aliases), ip, mac)  # with its link
                self._emit("connect", rec, c.id)
            done = []
            try:
                for other in [rec, *(r for r in self._records.values() if r is not rec)]:
                    ep = other.endpoints.get(c.id)
                    if ep is None:
                        continue
                    if ep is not joined:  # a name left from an earlier run is stale
                        ep.host_ifname = await asyncio.to_thread(
                            self.links.attach, other, ep, c.pid
                        )
                        await asyncio.to_thread(self.files.save, other)
                    done.append((other, ep))
            except BaseException:
                for other, ep in done:
                    await asyncio.to_thread(self.links.detach, other, ep)
                raise
            return done

    async def detach_container(self, container_id: str) -> None:
        """At exit: the links are gone with the namespace; forget them. The endpoint on
        the default bridge is released (its address is free again), as dockerd does."""
        async with self._lock:
            for rec in builtins.list(self._records.values()):
                ep = rec.endpoints.get(container_id)
                if ep is None:
                    continue
                if rec.predefined:
                    await self._leave(rec, ep)
                    self._emit("disconnect", rec, container_id)
                elif ep.host_ifname:
                    await asyncio.to_thread(self.links.detach, rec, ep)
                    await asyncio.to_thread(self.files.save, rec)

    async def join_created(
        self,
        c: ContainerRef,
        network: str,
        ip: str = "",
        aliases: Sequence[str] = (),
        mac: str = "",
    ) -> None:
        """At create: an endpoint (an address, no link yet) on a user-defined network the
        container names in ``NetworkingConfig``; the default bridge is joined at start."""
        await self.start()
        async with self._lock:
            rec = self._get(network)
            if rec.predefined:
                if ip:
                    raise InvalidArgument(
                        "user specified IP address is supported on user defined networks only"
                    )
                return
            await self._drop_stale(rec)  # a removed container's --ip is free again
            if c.id not in rec.endpoints:
                await self._join(rec, c, list(aliases), ip, mac)

    def _emit(self, action: str, rec: NetworkRecord, container_id: str) -> None:
        attributes = {"container": container_id, "name": rec.name, "type": rec.driver}
        self.events.emit("network", action, rec.id, attributes)
