"""Links of the bridge driver through netlink (pyroute2): the bridge with its gateway
address, and one veth pair per endpoint with one end on the bridge and the other moved
into a container's network namespace as ``eth0`` (address, MAC, default route).

Synchronous (the engine calls it through ``asyncio.to_thread``). pyroute2 is imported
lazily: the CLI and the container start path of other modes never load it. Every
function either finishes or leaves nothing behind: a half-made veth is deleted before
the error is raised.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from dockyard.errors import Conflict, SystemFault
from dockyard.kernel import namespaces

T = TypeVar("T")

log = logging.getLogger(__name__)

IFNAMSIZ = 15
MAX_MTU = 65535  # the largest a veth and a bridge take
DEFAULT_MTU = 1500


@dataclass(frozen=True)
class Endpoint:
    """A container's interface: the host end of its veth pair and what is inside."""

    host_ifname: str
    ifname: str
    address: str
    prefixlen: int
    mac: str
    gateway: str


@contextmanager
def _iproute() -> Iterator[Any]:
    """A netlink socket in the calling thread's network namespace."""
    from pyroute2 import IPRoute

    ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def in_netns(netns: str, fn: Callable[[], T]) -> T:
    """``fn()`` in a fresh thread that joined the namespace at ``netns`` first.

    A network namespace is per thread, so only that thread moves, and it ends with
    ``fn``. (pyroute2's own ``IPRoute(netns=...)`` forks a helper process instead; a
    fork of the daemon shares asyncio's signal wake-up pipe, and the helper's
    termination signal reached the daemon's loop as if the daemon had been signalled.)
    """
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            namespaces.setns_path(netns, namespaces.CLONE_NEWNET)
            result.append(fn())
        except BaseException as e:
            failure.append(e)

    thread = threading.Thread(target=run, name="dockyard-netns")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def _netlink_error(what: str, e: Exception) -> SystemFault:
    return SystemFault(f"{what}: {e}")


def mac_for(address: str) -> str:
    """Docker's MAC for an IPv4 address: 02:42 followed by the address's four bytes."""
    packed = ipaddress.IPv4Address(address).packed
    return "02:42:" + ":".join(f"{b:02x}" for b in packed)


def link_exists(name: str) -> bool:
    with _iproute() as ipr:
        return bool(ipr.link_lookup(ifname=name))


def link_kind(name: str) -> str | None:
    """The kind of link ``name`` ("bridge", "veth", "" for a plain device); None if absent."""
    with _iproute() as ipr:
        found = ipr.link_lookup(ifname=name)
        if not found:
            return None
        info = ipr.get_links(found[0])[0].get_attr("IFLA_LINKINFO")
        return str(info.get_attr("IFLA_INFO_KIND") or "") if info else ""


def host_subnets() -> list[ipaddress.IPv4Network]:
    """The IPv4 subnets of the host's own interfaces (a new network must not overlap)."""
    out = []
    with _iproute() as ipr:
        for msg in ipr.get_addr(family=2):
            addr = msg.get_attr("IFA_ADDRESS")
            if addr and not addr.startswith("127."):
                out.append(ipaddress.IPv4Network(f"{addr}/{msg['prefixlen']}", strict=False))
    return out


def uplink_mtu() -> int:
    """The MTU of the host's way out: the device of its default route with the lowest
    metric (``/proc/net/route``); 1500 when the host has no default route."""
    best: tuple[int, str] | None = None
    try:
        with open("/proc/net/route") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if len(fields) > 6 and fields[1] == "00000000" and fields[7] == "00000000":
                    metric = int(fields[6])
                    if best is None or metric < best[0]:
                        best = (metric, fields[0])
        if best is not None:
            with open(f"/sys/class/net/{best[1]}/mtu") as f:
                return int(f.read())
    except (OSError, ValueError):
        pass
    return DEFAULT_MTU


def ensure_bridge(name: str, gateway: str, prefixlen: int, mtu: int = DEFAULT_MTU) -> bool:
    """Make bridge ``name`` exist with ``mtu``, carry ``gateway/prefixlen`` and be up; True
    if created.

    Idempotent, so a restarted daemon re-runs it for every network.
    """
    if len(name) > IFNAMSIZ:
        raise Conflict(f"bridge name {name!r} is longer than {IFNAMSIZ} characters")
    created = False
    with _iproute() as ipr:
        found = ipr.link_lookup(ifname=name)
        try:
            if not found:
                log.debug("netlink: add bridge %s mtu %d", name, mtu)
                ipr.link("add", ifname=name, kind="bridge", mtu=mtu)
                created = True
                found = ipr.link_lookup(ifname=name)
            index = found[0]
            have = {
                (m.get_attr("IFA_ADDRESS"), m["prefixlen"])
                for m in ipr.get_addr(family=2, index=index)
            }
            if (gateway, prefixlen) not in have:
                log.debug("netlink: add address %s/%d to %s", gateway, prefixlen, name)
                ipr.addr("add", index=index, address=gateway, prefixlen=prefixlen)
            log.debug("netlink: set %s up, mtu %d", name, mtu)
            ipr.link("set", index=index, state="up", mtu=mtu)
        except Exception as e:
            if created:
                _delete(ipr, name)
            raise _netlink_error(f"set up bridge {name}", e) from e
    return created


def _delete(ipr: Any, name: str) -> bool:
    found = ipr.link_lookup(ifname=name)
    if not found:
        return False
    log.debug("netlink: delete link %s", name)
    try:
        ipr.link("del", index=found[0])
    except Exception as e:
        if getattr(e, "code", None) != errno.ENODEV:
            raise
    return True


def delete_link(name: str) -> bool:
    """Delete link ``name`` (a bridge, or a veth with its peer); False if it was gone."""
    with _iproute() as ipr:
        try:
            return _delete(ipr, name)
        except Exception as e:
            raise _netlink_error(f"delete link {name}", e) from e


def new_host_ifname() -> str:
    return "vd" + secrets.token_hex(6)  # 14 characters, within IFNAMSIZ


def attach(
    bridge: str,
    netns: str,
    address: str,
    prefixlen: int,
    gateway: str = "",
    ifname: str = "eth0",
    mtu: int = DEFAULT_MTU,
    default_route: bool = True,
    mac: str = "",
    route_mtu: int = 0,
) -> Endpoint:
    """A veth pair from ``bridge`` into the namespace at ``netns`` (e.g. /proc/PID/ns/net):
    ``ifname`` inside with ``address``, ``mac`` (Docker's from the address unless given),
    both ends with ``mtu``, and (``default_route``) a route via ``gateway`` (with its own
    MTU ``route_mtu`` unless 0).
    """
    host_ifname = new_host_ifname()
    mac = mac or mac_for(address)
    with _iproute() as ipr:
        found = ipr.link_lookup(ifname=bridge)
        if not found:
            raise SystemFault(f"bridge {bridge} does not exist; restart the daemon to recreate it")
        # the peer starts under a temporary unique name: a namespace may already hold eth0
        peer_tmp = "vp" + host_ifname[2:]
        try:
            log.debug("netlink: add veth %s <-> %s", host_ifname, peer_tmp)
            ipr.link(
                "add",
                ifname=host_ifname,
                kind="veth",
                mtu=mtu,
                peer={"ifname": peer_tmp, "mtu": mtu},
            )
            host_index = ipr.link_lookup(ifname=host_ifname)[0]
            ipr.link("set", index=host_index, master=found[0], state="up")
            peer_index = ipr.link_lookup(ifname=peer_tmp)[0]
            log.debug("netlink: move %s into %s", peer_tmp, netns)
            fd = _open_ns(netns)
            try:
                ipr.link("set", index=peer_index, net_ns_fd=fd)
            finally:
                os.close(fd)
            route = Route(gateway, route_mtu) if default_route and gateway else None
            in_netns(netns, lambda: _configure(peer_tmp, ifname, address, prefixlen, mac, route))
        except Exception as e:
            try:
                _delete(ipr, host_ifname)
            except Exception:
                log.warning("could not remove half-made veth %s", host_ifname, exc_info=True)
            if isinstance(e, SystemFault | Conflict):
                raise
            raise _netlink_error(f"connect {netns} to bridge {bridge}", e) from e
    return Endpoint(host_ifname, ifname, address, prefixlen, mac, gateway)


def _open_ns(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise SystemFault(f"open network namespace {path}: {e.strerror}") from e


@dataclass(frozen=True)
class Route:
    """A container's default route: via ``gateway``, with an MTU of its own unless 0."""

    gateway: str
    mtu: int = 0


def _configure(
    tmp_name: str, ifname: str, address: str, prefixlen: int, mac: str, route: Route | None
) -> None:
    with _iproute() as inner:
        if inner.link_lookup(ifname=ifname):
            raise Conflict(f"the container already has an interface {ifname}")
        index = inner.link_lookup(ifname=tmp_name)[0]
        log.debug(
            "netlink (netns): %s -> %s, mac %s, %s/%d", tmp_name, ifname, mac, address, prefixlen
        )
        inner.link("set", index=index, ifname=ifname, address=mac)
        inner.addr("add", index=index, address=address, prefixlen=prefixlen)
        inner.link("set", index=index, state="up")
        lo = inner.link_lookup(ifname="lo")
        if lo:
            inner.link("set", index=lo[0], state="up")
        if route is not None:
            log.debug("netlink (netns): default via %s mtu %d", route.gateway, route.mtu)
            metrics = {"metrics": {"mtu": route.mtu}} if route.mtu else {}
            inner.route("add", dst="default", gateway=route.gateway, **metrics)


def detach(endpoint: Endpoint) -> bool:
    """Remove the endpoint's veth pair (its peer goes with it); False if already gone,
    e.g. because the container's namespace died and took the pair along."""
    return delete_link(endpoint.host_ifname)


def list_links(netns: str | None = None) -> list[str]:
    """The interface names of the current (or ``netns``'s) network namespace."""

    def names() -> list[str]:
        with _iproute() as ipr:
            return [str(m.get_attr("IFLA_IFNAME")) for m in ipr.get_links()]

    return in_netns(netns, names) if netns else names()
