"""``NetworkService``: the networks of the Engine API — the predefined ``bridge``, ``host``
and ``none``, and user-defined bridge networks — with their address pools and the
containers connected to them.

Records and pools are files under ``<data_root>/networks/`` (``networkrecord.py``,
``network/ipam.py``); an address is written to its pool before anyone sees it, so a
restarted daemon never hands it out twice. The Linux bridge of a network and its
firewall rules are made when the first container joins (``containernet.py``), not at
``network create``: a network nobody uses costs the host nothing. ``network rm``
removes the bridge if one exists.
"""

from __future__ import annotations

import asyncio
import builtins
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.network.ipam import (
    DEFAULT_BRIDGE_SUBNET,
    IPv4Address,
    IPv4Network,
    Pool,
    PoolFile,
    check_overlap,
    parse_subnet,
    pick_subnet,
)
from dockyard.shim.logs import rfc3339_nano

from .containerrecord import ContainerView
from .events import EventLog
from .networkendpoints import NetworkEndpoints
from .networkrecord import (
    BRIDGE_NAME_OPTION,
    DRIVERS,
    HOST_BINDING_OPTION,
    ICC_OPTION,
    MASQUERADE_OPTION,
    MTU_OPTION,
    PREDEFINED,
    ContainerRef,
    CreateRequest,
    EndpointRecord,
    NetworkFiles,
    NetworkRecord,
    NetworkSettings,
    bool_option,
    check_name,
    created_unix,
    labels_match,
    matches,
    new_id,
    parse_mtu,
    until_filter,
)

log = logging.getLogger(__name__)


class Links(Protocol):
    """The links of a network's endpoints (``containernet.py``; a fake in unit tests)."""

    def host_subnets(self) -> list[IPv4Network]: ...
    def link_kind(self, name: str) -> str | None: ...
    def attach(self, rec: NetworkRecord, ep: EndpointRecord, pid: int) -> str: ...
    def detach(self, rec: NetworkRecord, ep: EndpointRecord) -> None: ...
    def remove_network(self, rec: NetworkRecord) -> None: ...
    def close(self) -> None: ...


class NetworkService(NetworkEndpoints):
    """The Engine API's network backend (see the module doc); the verbs on a container's
    endpoints come from ``NetworkEndpoints`` (``networkendpoints.py``)."""

    def __init__(
        self,
        data_root: Path,
        settings: NetworkSettings,
        links: Links,
        events: EventLog | None = None,
    ) -> None:
        self.files = NetworkFiles(data_root / "networks")
        self.settings = settings
        self.links = links
        self.events = events or EventLog()
        self.lookup_container: Callable[[str], Awaitable[ContainerRef]] | None = None
        # whether a container id exists or is being created (ContainerService.known)
        self.container_known: Callable[[str], bool] | None = None
        self._records: dict[str, NetworkRecord] = {}
        self._pools: dict[str, PoolFile] = {}
        self._lock = asyncio.Lock()
        self._loaded = False

    # -- life of the service -----------------------------------------------------------

    async def start(self) -> None:
        if not self._loaded:
            await asyncio.to_thread(self.load)

    def load(self) -> None:
        """Read the networks (once); the daemon calls it while wiring, before any create."""
        if not self._loaded:
            self._load()
            self._loaded = True

    def close(self) -> None:
        """Release what the links hold on the host (the firewall chains)."""
        self.links.close()

    def _load(self) -> None:
        for rec in self.files.load_all():
            self._records[rec.id] = rec
            if rec.subnet:
                try:
                    self._pools[rec.id] = PoolFile.load(self.files.pool(rec.id))
                except NotFound:
                    pool = PoolFile(self.files.pool(rec.id), self._new_pool(rec))
                    pool.save()
                    self._pools[rec.id] = pool
        for name in PREDEFINED:
            if name == "bridge" and self.settings.bridge == "none":
                continue
            found = self._by_name(name)
            if found is None:
                self._add(self._predefined(name))
            elif name == "bridge":
                self._follow_flags(found)

    def _follow_flags(self, rec: NetworkRecord) -> None:
        """The default bridge as this run's --bridge/--bip/--fixed-cidr say (the id stays);
        addresses of live containers that still fit are kept."""
        want = self._predefined("bridge")
        same = (want.bridge, want.subnet, want.gateway, want.ip_range)
        if (rec.bridge, rec.subnet, rec.gateway, rec.ip_range) == same:
            if rec.options != want.options:  # --mtu changed
                rec.options = want.options
                self.files.save(rec)
            return
        log.info(
            "default bridge: %s %s (was %s %s)", want.bridge, want.subnet, rec.bridge, rec.subnet
        )
        rec.bridge, rec.subnet, rec.gateway, rec.ip_range = same
        rec.options = want.options
        pool = self._new_pool(rec)
        old = self._pools.get(rec.id)
        for addr, owner in (old.pool.allocated if old else {}).items():
            if pool.usable(IPv4Address(addr)):
                pool.allocated[addr] = owner
        for cid, ep in list(rec.endpoints.items()):
            if ep.address not in pool.allocated:
                del rec.endpoints[cid]
        self._pools[rec.id] = PoolFile(self.files.pool(rec.id), pool)
        self._pools[rec.id].save()
        self.files.save(rec)

    def _predefined(self, name: str) -> NetworkRecord:
        rec = NetworkRecord(new_id(), name, DRIVERS[name], rfc3339_nano(time.time_ns()))
        if name == "bridge":
            if self.settings.bip:
                iface = ipaddress.IPv4Interface(self.settings.bip)
                rec.subnet, rec.gateway = str(iface.network), str(iface.ip)
            else:
                rec.subnet = DEFAULT_BRIDGE_SUBNET
                rec.gateway = str(IPv4Network(DEFAULT_BRIDGE_SUBNET).network_address + 1)
            rec.ip_range = self.settings.fixed_cidr
            rec.bridge = self.settings.bridge
            rec.options = {
                "com.docker.network.bridge.default_bridge": "true",
                ICC_OPTION: str(self.settings.icc).lower(),
                MASQUERADE_OPTION: str(self.settings.ip_masq).lower(),
                HOST_BINDING_OPTION: self.settings.ip,
                BRIDGE_NAME_OPTION: rec.bridge,
            }
            if self.settings.mtu:
                rec.options[MTU_OPTION] = str(self.settings.mtu)
        return rec

    @staticmethod
    def _new_pool(rec: NetworkRecord) -> Pool:
        return Pool.create(rec.subnet, rec.gateway, rec.ip_range)

    def _add(self, rec: NetworkRecord) -> None:
        """Persist a new record with its pool: the pool first, the record is the commit."""
        if rec.subnet:
            pool = PoolFile(self.files.pool(rec.id), self._new_pool(rec))
            self.files.dir(rec.id).mkdir(parents=True, exist_ok=True)
            pool.save()
            self._pools[rec.id] = pool
        self.files.save(rec)
        self._records[rec.id] = rec

    # -- lookup ------------------------------------------------------------------------

    def _by_name(self, name: str) -> NetworkRecord | None:
        for rec in self._records.values():
            if rec.name == name:
                return rec
        return None

    def _get(self, ref: str) -> NetworkRecord:
        """By full id, then name, then unique id prefix (as dockerd)."""
        if ref in self._records:
            return self._records[ref]
        found = self._by_name(ref)
        if found is not None:
            return found
        if ref:
            prefixed = [r for i, r in self._records.items() if i.startswith(ref)]
            if len(prefixed) == 1:
                return prefixed[0]
            if len(prefixed) > 1:
                raise InvalidArgument(f"network {ref} is ambiguous ({len(prefixed)} matches found)")
        raise NotFound(f"network {ref} not found")

    async def list(self, filters: dict[str, builtins.list[str]]) -> builtins.list[NetworkRecord]:
        await self.start()
        return sorted(
            (r for r in self._records.values() if matches(r, filters)), key=lambda r: r.name
        )

    async def inspect(self, ref: str) -> NetworkRecord:
        await self.start()
        async with self._lock:
            rec = self._get(ref)
            await self._drop_stale(rec)
        return rec

    async def _drop_stale(self, rec: NetworkRecord) -> None:
        """Forget the endpoints of containers that were removed (the container service
        does not tell this service yet; checked whenever a network is looked at)."""
        if self.container_known is None:
            return
        for cid, ep in list(rec.endpoints.items()):
            if not self.container_known(cid):
                log.debug("dropping endpoint of removed container %s on %s", cid[:12], rec.name)
                await self._leave(rec, ep)

    def pool_of(self, rec: NetworkRecord) -> Pool | None:
        pool = self._pools.get(rec.id)
        return pool.pool if pool else None

    def endpoints_of(self, container_id: str) -> dict[str, tuple[NetworkRecord, EndpointRecord]]:
        """Network name -> (network, endpoint) for one container (its NetworkSettings).
        Also called from a container start's worker thread: it iterates copies."""
        return {
            r.name: (r, ep)
            for r in list(self._records.values())
            if (ep := r.endpoints.get(container_id)) is not None
        }

    # -- create / remove ---------------------------------------------------------------

    async def create(self, req: CreateRequest) -> tuple[NetworkRecord, str]:
        """A new user-defined network; its record and a warning ("" if none)."""
        await self.start()
        check_name(req.name)
        driver = req.driver or "bridge"
        if driver in ("host", "null"):
            raise Conflict(f'only one instance of "{driver}" network is allowed')
        if driver != "bridge":
            raise NotFound(f"plugin {driver!r} not found: the only network driver is bridge")
        if (req.gateway or req.ip_range) and not req.subnet:
            raise InvalidArgument("--gateway and --ip-range need a --subnet")
        if MTU_OPTION in req.options:
            parse_mtu(req.options[MTU_OPTION])
        for key in (ICC_OPTION, MASQUERADE_OPTION):
            bool_option(req.options, key)
        if req.options.get(HOST_BINDING_OPTION):
            try:
                ipaddress.ip_address(req.options[HOST_BINDING_OPTION])
            except ValueError:
                raise InvalidArgument(
                    f"{HOST_BINDING_OPTION}={req.options[HOST_BINDING_OPTION]!r}: use an IP address"
                ) from None
        host = await asyncio.to_thread(self.links.host_subnets)
        wanted = req.options.get(BRIDGE_NAME_OPTION, "")
        if wanted and await asyncio.to_thread(self.links.link_kind, wanted) not in (None, "bridge"):
            raise InvalidArgument(
                f"{wanted} exists and is not a bridge: choose another bridge name"
            )
        async with self._lock:
            if self._by_name(req.name) is not None:
                raise Conflict(f"network with name {req.name} already exists")
            net_id = new_id()
            bridge = wanted or f"dy-{net_id[:12]}"
            if len(bridge) > 15:
                raise InvalidArgument(f"bridge name {bridge!r} is longer than 15 characters")
            for other in self._records.values():
                if other.bridge == bridge:
                    raise Conflict(f"bridge name {bridge} is already used by network {other.name}")
            taken = [
                (f"network {r.name}", IPv4Network(r.subnet))
                for r in self._records.values()
                if r.subnet
            ]
            taken += [("a host interface", net) for net in host]
            if req.subnet:
                subnet = parse_subnet(req.subnet)
                check_overlap(subnet, taken)
            else:
                subnet = pick_subnet(net for _, net in taken)
            pool = Pool.create(str(subnet), req.gateway, req.ip_range)  # checks gateway/range
            rec = NetworkRecord(
                net_id,
                req.name,
                driver,
                rfc3339_nano(time.time_ns()),
                bridge=bridge,
                subnet=str(subnet),
                gateway=str(pool.gateway),
                ip_range=req.ip_range,
                internal=req.internal,
                attachable=req.attachable,
                labels=dict(req.labels),
                options=dict(req.options),
            )
            await asyncio.to_thread(self._add, rec)
        self.events.emit("network", "create", rec.id, {"name": rec.name, "type": rec.driver})
        return rec, ""

    async def remove(self, ref: str) -> None:
        await self.start()
        async with self._lock:
            rec = self._get(ref)
            if rec.predefined:
                raise Conflict(f"{rec.name} is a pre-defined network and cannot be removed")
            await self._drop_stale(rec)
            if rec.endpoints:
                raise Conflict(
                    f"error while removing network: network {rec.name} id {rec.id} has active "
                    "endpoints; disconnect or remove its containers first"
                )
            await self._drop(rec)
        self.events.emit("network", "destroy", rec.id, {"name": rec.name, "type": rec.driver})

    async def _drop(self, rec: NetworkRecord) -> None:
        await asyncio.to_thread(self.links.remove_network, rec)
        await asyncio.to_thread(self.files.delete, rec.id)
        self._records.pop(rec.id, None)
        self._pools.pop(rec.id, None)

    async def prune(self, filters: dict[str, builtins.list[str]]) -> builtins.list[str]:
        """Remove the unused user-defined networks; their names."""
        await self.start()
        unknown = set(filters) - {"until", "label", "label!"}
        if unknown:
            raise InvalidArgument(f"invalid filter {sorted(unknown)[0]!r} for network prune")
        until = until_filter(filters.get("until", []))
        gone = []
        async with self._lock:
            for rec in sorted(self._records.values(), key=lambda r: r.name):
                if not rec.predefined:
                    await self._drop_stale(rec)
                if rec.predefined or rec.endpoints:
                    continue
                if until is not None and created_unix(rec.created) >= until:
                    continue
                if not labels_match(
                    rec.labels, filters.get("label", []), filters.get("label!", [])
                ):
                    continue
                await self._drop(rec)
                gone.append(rec)
        for rec in gone:
            self.events.emit("network", "destroy", rec.id, {"name": rec.name, "type": rec.driver})
        self.events.emit("network", "prune", "", {})
        return [r.name for r in gone]

    def resolve(self, container_id: str, name: str) -> builtins.list[str]:
        """What the embedded DNS answers ``container_id`` for ``name``: the addresses of
        running containers on its user-defined networks with that name, alias or id."""
        name = name.lower()
        out: builtins.list[str] = []
        for rec in self._records.values():
            if rec.predefined or container_id not in rec.endpoints:
                continue
            for ep in rec.endpoints.values():
                if not ep.host_ifname or not ep.address:
                    continue
                names = {ep.container_name.lower(), ep.container_id[:12]}
                names.update(a.lower() for a in ep.aliases)
                if name in names and ep.address not in out:
                    out.append(ep.address)
        return out

    def is_user_network(self, name: str) -> bool:
        """``name`` is a user-defined network (its containers use the embedded DNS)."""
        rec = self._by_name(name) or self._records.get(name)
        return rec is not None and not rec.predefined

    def gateway_of(self, name: str) -> str:
        """The gateway address of a bridge network, or "" (no such network)."""
        rec = self._by_name(name) or self._records.get(name)
        return rec.gateway if rec is not None else ""

    def has_network(self, name: str) -> bool:
        return self._by_name(name) is not None

    def check_mode(self, mode: str) -> None:
        """A container's ``NetworkMode``: a predefined mode or an existing network."""
        if mode in ("default", "bridge", "host", "none") or mode.startswith("container:"):
            return  # container:<id>: the container service checks the other container
        if self._by_name(mode) is None and mode not in self._records:
            raise NotFound(f"network {mode} not found")


def container_lookup(
    inspect: Callable[[str], Awaitable[ContainerView]],
) -> Callable[[str], Awaitable[ContainerRef]]:
    """``NetworkService.lookup_container`` on top of the container service's inspect."""

    async def lookup(ref: str) -> ContainerRef:
        v = await inspect(ref)
        mode = str(v.host_config.get("NetworkMode") or "default")
        return ContainerRef(v.id, v.name.lstrip("/"), v.state.running, v.state.pid, mode)

    return lookup
