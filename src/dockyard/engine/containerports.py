"""A running container's network at start and exit: joining its network (``NetworkMode``:
``bridge``/``default`` or a user-defined network) between the shim's create and start,
its published ports (iptables DNAT plus the userland proxy), its ``/etc/hosts`` line, the
embedded DNS of a user-defined network (``resolv.conf`` points at 127.0.0.11), and
undoing all of it when the container exits.

``ContainerService`` calls ``attach``/``release`` (a line each) when a ``networking`` is
set; everything else lives here and in ``NetworkService``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dockyard.errors import Conflict, InvalidArgument
from dockyard.network import ports
from dockyard.network.dns import DnsServer
from dockyard.network.firewall import PublishedPort
from dockyard.network.portproxy import PortProxy

from . import etcfiles, links
from .containernet import BridgeLinks
from .containerrecord import Container
from .networkrecord import HOST_BINDING_OPTION, ContainerRef, EndpointRecord, NetworkRecord
from .networks import NetworkService

log = logging.getLogger(__name__)

RANDOM_PORT_TRIES = 16


@dataclass
class _Published:
    rule: PublishedPort | None  # None: no DNAT (an IPv6 host address)
    proxy: PortProxy


class ContainerNetworking:
    """The network side of container start and exit (see the module doc)."""

    def __init__(
        self, networks: NetworkService, links: BridgeLinks, dns: Sequence[str] = ()
    ) -> None:
        self.networks = networks
        self.links = links
        self.dns = tuple(dns)  # the daemon's --dns
        self._published: dict[str, list[_Published]] = {}
        self._dns: dict[str, DnsServer] = {}

    def check_mode(
        self,
        mode: str,
        hc: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """Create's check of ``NetworkMode`` (and of what a shared namespace excludes, as
        dockerd); its warnings."""
        self.networks.check_mode(mode)
        if mode.startswith("container:") or mode == "host":
            _check_shared(mode, hc or {}, config or {})
        if self._primary(mode) is None and mode in ("bridge", "default"):
            return [
                f"network mode {mode!r}: the daemon has no default bridge (--bridge none); "
                "the container gets only a loopback interface"
            ]
        return []

    def _primary(self, mode: str) -> str | None:
        if mode in ("host", "none") or mode.startswith("container:"):
            return None
        if mode in ("bridge", "default", ""):
            return "bridge" if self.networks.has_network("bridge") else None
        return mode

    async def attach(self, c: Container, pid: int, hosts_file: Path, hostname: str) -> None:
        """Connect the created (not yet started) container ``c`` whose init is ``pid``."""
        mode = str(c.host_config.get("NetworkMode") or "default")
        primary = self._primary(mode)
        if primary is None:
            return
        ref = ContainerRef(c.id, c.name.lstrip("/"), True, pid, mode)
        mac = str(c.config.get("MacAddress") or "")
        joined = await self.networks.attach_container(ref, primary, mac=mac)
        try:
            rec, ep = joined[0]
            if ep.address:
                names = etcfiles.own_names(hostname, str(c.config.get("Domainname") or ""))
                etcfiles.add_hosts_line(hosts_file, ep.address, names)
            if not rec.predefined:  # user-defined networks resolve names (network/dns.py)
                await self._serve_dns(c, pid)
            await self._publish(c, rec, ep)
        except BaseException:
            await self.release(c)
            raise

    async def created(self, c: Container, networking_config: Any) -> None:
        """At create: the endpoints ``NetworkingConfig.EndpointsConfig`` asks for (``--ip``,
        ``--network-alias``) on the container's network."""
        mode = str(c.host_config.get("NetworkMode") or "default")
        primary = self._primary(mode)
        if primary is None:
            return
        ip, aliases, mac = _endpoint_config(networking_config, primary, mode)
        if mac:  # the record keeps it where API < 1.44 sent it; attach reads it there
            c.config["MacAddress"] = mac
        mac = str(c.config.get("MacAddress") or "")
        ref = ContainerRef(c.id, c.name.lstrip("/"), False, 0, mode)
        await self.networks.join_created(ref, primary, ip, aliases, mac)

    def write_etc_files(
        self,
        c: Container,
        files: Path,
        hostname: str,
        mode: str,
        linked: Sequence[links.Link] = (),
    ) -> None:
        """The container's hostname, hosts and resolv.conf (``etcfiles.py``): the embedded
        DNS on a user-defined network, ``host-gateway`` as the default bridge's gateway,
        a line per ``--link`` on the default bridge."""
        primary = self._primary(mode)
        linked_hosts = [
            (address, links.hosts_names(link))
            for link, address in self._on_bridge(primary, linked)
            if address
        ]
        embedded = primary is not None and self.networks.is_user_network(primary)
        gateway = self.networks.gateway_of("bridge") or (
            self.networks.gateway_of(primary) if primary else ""
        )
        etcfiles.write_etc_files(
            files,
            hostname,
            mode,
            host_config=c.host_config,
            daemon_dns=self.dns,
            host_gateway=gateway,
            embedded=embedded,
            linked_hosts=linked_hosts,
        )

    def _on_bridge(
        self, primary: str | None, linked: Sequence[links.Link]
    ) -> list[tuple[links.Link, str]]:
        """Each link with its target's address on the default bridge; none unless the
        container itself is on the default bridge (links elsewhere are DNS names only)."""
        if primary != "bridge":
            return []
        out = []
        for link in linked:
            joined = self.networks.endpoints_of(link.target.id).get("bridge")
            out.append((link, joined[1].address if joined else ""))
        return out

    def link_env(self, c: Container, linked: Sequence[links.Link]) -> list[str]:
        """dockerd's variables of the container's links (default bridge only)."""
        primary = self._primary(str(c.host_config.get("NetworkMode") or "default"))
        return [e for link, address in self._on_bridge(primary, linked)
                for e in links.env(link, address)]  # fmt: skip

    async def restore(self, c: Container) -> None:
        """A container still running from before a daemon restart: its links are there,
        the rules of its networks and its published ports are made again (a port without
        a fixed host port may get another one)."""
        primary = self._primary(str(c.host_config.get("NetworkMode") or "default"))
        joined = self.networks.endpoints_of(c.id)
        try:
            for rec, ep in joined.values():
                if ep.host_ifname:
                    await asyncio.to_thread(self.links.network_ready, rec)
            if primary is not None and primary in joined:
                rec, ep = joined[primary]
                if not rec.predefined and ep.host_ifname:
                    await self._serve_dns(c, c.pid)  # resolv.conf points at it
                await self._publish(c, rec, ep)
        except Exception as e:
            log.warning("restoring the network of container %s: %s", c.id[:12], e)

    async def release(self, c: Container) -> None:
        """After exit (or a failed start): ports unpublished, links forgotten."""
        server = self._dns.pop(c.id, None)
        if server is not None:
            server.close()
        for item in self._published.pop(c.id, []):
            await item.proxy.close()
            if item.rule is not None:
                await asyncio.to_thread(self.links.unpublish, item.rule)
        await self.networks.detach_container(c.id)

    async def _serve_dns(self, c: Container, pid: int) -> None:
        try:
            host_text = Path("/etc/resolv.conf").read_text()
        except OSError:
            host_text = ""
        container_id = c.id
        dns = [str(d) for d in c.host_config.get("Dns") or []]
        aliases = links.dns_aliases(c.host_config)  # --link: names for this container only
        server = DnsServer(
            f"/proc/{pid}/ns/net",
            lambda name: self.networks.resolve(container_id, aliases.get(name.lower(), name)),
            etcfiles.upstream_resolvers(host_text, dns, self.dns),
        )
        await server.start()
        self._dns[container_id] = server

    def ports_of(self, container_id: str) -> dict[str, list[dict[str, str]]]:
        """``NetworkSettings.Ports`` of a running container's published ports."""
        out: dict[str, list[dict[str, str]]] = {}
        for item in self._published.get(container_id, []):
            p = item.proxy
            key = f"{p.target[1]}/{p.proto}"
            out.setdefault(key, []).append({"HostIp": p.host_ip, "HostPort": str(p.host_port)})
        return out

    async def _publish(self, c: Container, rec: NetworkRecord, ep: EndpointRecord) -> None:
        hc = c.host_config
        mappings = ports.from_bindings(hc.get("PortBindings"))
        if hc.get("PublishAllPorts"):
            bound = {m.key for m in mappings}
            exposed = [k for k in (c.config.get("ExposedPorts") or {}) if k not in bound]
            mappings += ports.exposed_mappings(exposed)
        if not mappings or rec.internal or not ep.address:
            return
        default_ip = rec.options.get(HOST_BINDING_OPTION, "")
        if default_ip and default_ip != "0.0.0.0":  # dockyardd --ip, or the network's option
            mappings = [m if m.host_ip else replace(m, host_ip=default_ip) for m in mappings]
        done = self._published.setdefault(c.id, [])
        for m in mappings:
            if m.proto not in ("tcp", "udp"):
                raise Conflict(f"cannot publish {m.key}: only tcp and udp ports can be published")
            done.append(await self._publish_one(m, rec, ep))

    async def _publish_one(
        self, m: ports.PortMapping, rec: NetworkRecord, ep: EndpointRecord
    ) -> _Published:
        tries = 1 if m.host_port else RANDOM_PORT_TRIES
        for attempt in range(tries):
            taken = {
                (i.proxy.proto, i.proxy.host_port)
                for items in self._published.values()
                for i in items
            }
            host_port = ports.choose_host_port(m, taken)
            proxy = PortProxy(m.proto, m.host_ip, host_port, (ep.address, m.container_port))
            try:
                await proxy.start()  # binding it first: a port in use is an error, no rule
            except Conflict:
                if attempt + 1 == tries:
                    raise
                continue
            rule = None
            if ":" not in m.host_ip:  # iptables rules are IPv4
                rule = PublishedPort(
                    rec.bridge, m.proto, m.host_ip, host_port, ep.address, m.container_port
                )
                try:
                    await asyncio.to_thread(self.links.publish, rule)
                except BaseException:
                    await proxy.close()
                    raise
            log.debug(
                "published %s:%d -> %s:%d", m.host_ip, host_port, ep.address, m.container_port
            )
            return _Published(rule, proxy)
        raise Conflict(f"no free host port for {m.key}")  # not reached: the loop raises


def _endpoint_config(networking_config: Any, *names: str) -> tuple[str, list[str], str]:
    """``NetworkingConfig.EndpointsConfig`` of create for the container's network (by its
    name or as ``NetworkMode`` spells it): (--ip, --network-alias, --mac-address)."""
    doc = networking_config if isinstance(networking_config, dict) else {}
    configs = doc.get("EndpointsConfig")
    configs = configs if isinstance(configs, dict) else {}
    mine = next((configs[n] for n in names if configs.get(n)), None) or {}
    ipam = mine.get("IPAMConfig") or {}
    aliases = [str(a) for a in mine.get("Aliases") or []]
    mac = str(mine.get("MacAddress") or "")
    if mac and not _is_mac(mac):
        raise InvalidArgument(
            f"invalid MAC address {mac!r}: use six hex pairs, e.g. 02:42:ac:11:00:02"
        )
    return str(ipam.get("IPv4Address") or ""), aliases, mac.lower()


def _is_mac(text: str) -> bool:
    parts = text.split(":")
    return len(parts) == 6 and all(
        len(p) == 2 and all(ch in "0123456789abcdefABCDEF" for ch in p) for p in parts
    )


def _check_shared(mode: str, hc: Mapping[str, Any], config: Mapping[str, Any]) -> None:
    """What dockerd refuses with a namespace of another container (or the host's)."""
    if mode == "host":
        if config.get("MacAddress"):
            raise InvalidArgument("conflicting options: mac-address and the network mode")
        return
    for present, what in (
        (config.get("Hostname"), "hostname"),
        (hc.get("Dns") or hc.get("DnsSearch") or hc.get("DnsOptions"), "dns"),
        (hc.get("ExtraHosts"), "custom host-to-IP mapping"),
        (hc.get("PortBindings") or hc.get("PublishAllPorts"), "port publishing"),
        (config.get("MacAddress"), "mac-address"),
    ):
        if present:
            raise InvalidArgument(f"conflicting options: {what} and the network mode")


def joined_netns(other: Container) -> str:
    """``container:<id>``: the namespace of the other container, which must run."""
    if not other.running or not other.pid:
        raise Conflict(
            f"cannot join network namespace of a non running container {other.id[:12]}: "
            "start it first"
        )
    return f"/proc/{other.pid}/ns/net"
