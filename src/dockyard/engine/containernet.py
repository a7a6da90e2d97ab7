"""The links behind ``NetworkService``: a network's bridge and firewall rules, made when
its first container joins, and one veth pair per running container endpoint.

Synchronous (the service calls it through ``asyncio.to_thread``). The firewall backend
(the daemon's ``--firewall-backend``: iptables, nftables, or whichever is installed) is
chosen and set up once per daemon, on first use and before any bridge is made: a daemon
whose containers never join a bridge network leaves the host's rules untouched, and a
host without either program gets a clear error and no link.

MTU: a network with ``com.docker.network.driver.mtu`` (the default bridge has it under
the daemon's ``--mtu``) gets that MTU on its bridge and veths, as Docker's. Otherwise the
links take the largest MTU (65535) and each container's default route the MTU of the
host's uplink: traffic between containers on one bridge, and between them and the host,
moves in 64 KiB packets (a 1500-byte veth carries busybox nc's 1 KiB writes at a
seventh of loopback's speed), while what leaves through the gateway is sized for the
uplink (Docker's fixed 1500 is too large on a host whose uplink is smaller).
"""

from __future__ import annotations

import logging
import os
import threading

from dockyard.network import bridge
from dockyard.network.firewall import (
    BridgeNetwork,
    NoFirewall,
    PacketFilter,
    PublishedPort,
    open_firewall,
)
from dockyard.network.ipam import IPv4Network

from .networkrecord import (
    ICC_OPTION,
    MASQUERADE_OPTION,
    MTU_OPTION,
    EndpointRecord,
    NetworkRecord,
    bool_option,
    parse_mtu,
)

log = logging.getLogger(__name__)


class BridgeLinks:
    """``networks.Links`` on the host's kernel: pyroute2 links and iptables rules."""

    def __init__(self, firewall_backend: str = "", iptables: bool = True) -> None:
        self._backend = firewall_backend  # "", "iptables" or "nftables"
        self._iptables = iptables  # False: the daemon's --iptables=false, no rules
        self._firewall: PacketFilter | None = None
        self._ready: set[str] = set()  # networks whose bridge and rules exist
        self._mutex = threading.Lock()

    def host_subnets(self) -> list[IPv4Network]:
        return bridge.host_subnets()

    def link_kind(self, name: str) -> str | None:
        return bridge.link_kind(name)

    def _firewall_ready(self) -> PacketFilter:
        if self._firewall is None:
            fw = open_firewall(self._backend) if self._iptables else NoFirewall()
            fw.setup()
            self._firewall = fw
        return self._firewall

    def network_ready(self, rec: NetworkRecord) -> None:
        """The network's bridge and firewall rules exist (made once per daemon run)."""
        with self._mutex:
            if rec.id in self._ready:
                return
            fw = self._firewall_ready()
            link_mtu, _ = self._mtus(rec)
            created = bridge.ensure_bridge(rec.bridge, rec.gateway, rec.prefixlen, link_mtu)
            try:
                fw.add_network(_rules_of(rec))
            except BaseException:
                if created:
                    bridge.delete_link(rec.bridge)
                raise
            self._ready.add(rec.id)

    def attach(self, rec: NetworkRecord, ep: EndpointRecord, pid: int) -> str:
        """Connect the namespace of process ``pid`` to ``rec``; the host end's name."""
        self.network_ready(rec)
        netns = f"/proc/{pid}/ns/net"
        # the first network a container joins is eth0 with the default route; the
        # next ones are eth1, eth2, ... (as Docker), without a default route
        names = _links_of(pid)
        index = 0
        while f"eth{index}" in names:
            index += 1
        link_mtu, route_mtu = self._mtus(rec)
        done = bridge.attach(
            rec.bridge,
            netns,
            ep.address,
            rec.prefixlen,
            rec.gateway,
            ifname=f"eth{index}",
            mtu=link_mtu,
            default_route=index == 0 and not rec.internal,
            mac=ep.requested_mac,
            route_mtu=route_mtu,
        )
        ep.mac = done.mac
        return done.host_ifname

    def _mtus(self, rec: NetworkRecord) -> tuple[int, int]:
        """(MTU of the network's links, MTU of a container's default route or 0)."""
        given = rec.options.get(MTU_OPTION)
        if given:
            return parse_mtu(given), 0
        return bridge.MAX_MTU, bridge.uplink_mtu()

    def detach(self, rec: NetworkRecord, ep: EndpointRecord) -> None:
        del rec
        # after an exit the pair went with the namespace: nothing to ask netlink then
        if ep.host_ifname and os.path.exists(f"/sys/class/net/{ep.host_ifname}"):
            bridge.delete_link(ep.host_ifname)
        ep.host_ifname = ""

    def remove_network(self, rec: NetworkRecord) -> None:
        with self._mutex:
            was_ready = rec.id in self._ready
            self._ready.discard(rec.id)
            if was_ready and self._firewall is not None:
                self._firewall.remove_network(_rules_of(rec))
            # only a bridge: a name given with -o ...bridge.name could be any device
            if rec.bridge and bridge.link_kind(rec.bridge) == "bridge":
                log.debug("removing bridge %s of network %s", rec.bridge, rec.name)
                bridge.delete_link(rec.bridge)

    def publish(self, port: PublishedPort) -> None:
        with self._mutex:
            self._firewall_ready().add_port(port)

    def unpublish(self, port: PublishedPort) -> None:
        with self._mutex:
            if self._firewall is not None:
                self._firewall.remove_port(port)

    def close(self) -> None:
        """Remove Dockyard's firewall chains (daemon shutdown); bridges stay, as Docker's."""
        with self._mutex:
            if self._firewall is not None:
                self._firewall.cleanup()
                self._firewall = None
            self._ready.clear()


def _rules_of(rec: NetworkRecord) -> BridgeNetwork:
    """What the firewall needs of a network (its ``enable_icc`` and
    ``enable_ip_masquerade`` options included)."""
    return BridgeNetwork(
        rec.bridge,
        rec.subnet,
        rec.internal,
        icc=bool_option(rec.options, ICC_OPTION),
        masquerade=bool_option(rec.options, MASQUERADE_OPTION),
    )


def _links_of(pid: int) -> set[str]:
    """The interface names in the network namespace of ``pid``: its ``/proc/PID/net/dev``
    (no netlink socket and no thread in the namespace, which each start would pay for)."""
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            return {line.split(":")[0].strip() for line in f.readlines()[2:]}
    except OSError:
        return set(bridge.list_links(f"/proc/{pid}/ns/net"))
