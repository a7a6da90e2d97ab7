"""IP address management: one pool per network (subnet, gateway, ip-range), the addresses
handed out from it, and the choice of a free subnet for a network created without one.

Pure logic plus a JSON file per pool, written atomically: the allocations survive a
daemon restart, so a restarted daemon never hands out an address twice. The gateway,
the network and the broadcast address are never allocated.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard._internal.atomicfile import write_atomic
from dockyard.errors import Conflict, InvalidArgument, NotFound

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address

DEFAULT_BRIDGE_SUBNET = "172.30.0.0/16"


def _candidate_subnets() -> Iterator[IPv4Network]:
    """Docker's default address pools, minus the default bridge's: 172.17-31/16, then
    192.168.0.0/16 cut into /20s."""
    for second in range(17, 32):
        yield IPv4Network(f"172.{second}.0.0/16")
    yield from IPv4Network("192.168.0.0/16").subnets(new_prefix=20)


def parse_subnet(text: str) -> IPv4Network:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError as e:
        raise InvalidArgument(f"invalid subnet {text!r}: {e}") from None
    if not isinstance(net, IPv4Network):
        raise InvalidArgument(f"invalid subnet {text!r}: only IPv4 subnets are supported")
    if str(net.network_address) != text.partition("/")[0]:
        raise InvalidArgument(f"invalid subnet {text}: it has host bits set; use {net} instead")
    if net.prefixlen > 30:
        raise InvalidArgument(f"invalid subnet {text}: too small, use a /30 or larger")
    return net


def parse_address(text: str, what: str = "address") -> IPv4Address:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidArgument(f"invalid {what} {text!r}: not an IPv4 address") from None
    if not isinstance(addr, IPv4Address):
        raise InvalidArgument(f"invalid {what} {text!r}: only IPv4 is supported")
    return addr


def check_overlap(subnet: IPv4Network, others: Iterable[tuple[str, IPv4Network]]) -> None:
    """Conflict if ``subnet`` overlaps any (owner, subnet) in ``others``; the owner says
    whose subnet it is ("network web", "a host interface")."""
    for owner, other in others:
        if subnet.overlaps(other):
            raise Conflict(
                f"subnet {subnet} overlaps with {other} of {owner}; choose another --subnet"
            )


def pick_subnet(taken: Iterable[IPv4Network]) -> IPv4Network:
    """The first default-pool subnet that overlaps nothing in ``taken``."""
    used = list(taken)
    for candidate in _candidate_subnets():
        if not any(candidate.overlaps(t) for t in used):
            return candidate
    raise Conflict("all predefined address pools are in use; create the network with --subnet")


@dataclass
class Pool:
    """The addresses of one network. ``allocated`` maps address -> owner (an endpoint id)."""

    subnet: IPv4Network
    gateway: IPv4Address
    ip_range: IPv4Network | None = None
    allocated: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, subnet: str, gateway: str = "", ip_range: str = "") -> Pool:
        """A pool from the user's --subnet/--gateway/--ip-range, checked for consistency."""
        net = parse_subnet(subnet)
        gw = parse_address(gateway, "gateway") if gateway else net.network_address + 1
        if gw not in net or gw in (net.network_address, net.broadcast_address):
            raise InvalidArgument(f"gateway {gw} is not a host address of subnet {net}")
        rng = None
        if ip_range:
            rng = parse_subnet(ip_range)
            if not rng.subnet_of(net):
                raise InvalidArgument(f"ip-range {rng} is not inside subnet {net}")
        return cls(net, gw, rng)

    def usable(self, addr: IPv4Address) -> bool:
        return (
            addr in self.subnet
            and addr not in (self.subnet.network_address, self.subnet.broadcast_address)
            and addr != self.gateway
        )

    def allocate(self, owner: str, preferred: str = "") -> IPv4Address:
        """A free address for ``owner`` (``preferred`` if given, Conflict if taken)."""
        if preferred:
            addr = parse_address(preferred, "ip address")
            if not self.usable(addr):
                raise InvalidArgument(
                    f"address {addr} is not a free host address of subnet {self.subnet}"
                )
            if str(addr) in self.allocated:
                raise Conflict(f"address {addr} is already in use on this network")
            self.allocated[str(addr)] = owner
            return addr
        source = self.ip_range or self.subnet
        for addr in source.hosts():
            if self.usable(addr) and str(addr) not in self.allocated:
                self.allocated[str(addr)] = owner
                return addr
        raise Conflict(f"no free address left in {source}; disconnect a container first")

    def release(self, addr: str) -> None:
        if self.allocated.pop(addr, None) is None:
            raise NotFound(f"address {addr} is not allocated in {self.subnet}")

    def release_owner(self, owner: str) -> list[str]:
        """Release every address of ``owner``; the addresses released."""
        gone = [a for a, o in self.allocated.items() if o == owner]
        for a in gone:
            del self.allocated[a]
        return gone

    def to_json(self) -> dict[str, Any]:
        return {
            "subnet": str(self.subnet),
            "gateway": str(self.gateway),
            "ip_range": str(self.ip_range) if self.ip_range else "",
            "allocated": dict(sorted(self.allocated.items())),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Pool:
        return cls(
            IPv4Network(doc["subnet"]),
            IPv4Address(doc["gateway"]),
            IPv4Network(doc["ip_range"]) if doc.get("ip_range") else None,
            {str(k): str(v) for k, v in doc.get("allocated", {}).items()},
        )


class PoolFile:
    """A pool persisted at ``path``: every change is written before it is reported."""

    def __init__(self, path: Path, pool: Pool) -> None:
        self.path = path
        self.pool = pool

    @classmethod
    def load(cls, path: Path) -> PoolFile:
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise NotFound(f"no address pool at {path}") from None
        return cls(path, Pool.from_json(doc))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(self.pool.to_json(), indent=1).encode()
        write_atomic(str(self.path), data, mode=0o644, durable=True)

    def allocate(self, owner: str, preferred: str = "") -> IPv4Address:
        addr = self.pool.allocate(owner, preferred)
        try:
            self.save()
        except BaseException:
            self.pool.allocated.pop(str(addr), None)
            raise
        return addr

    def release_owner(self, owner: str) -> list[str]:
        gone = self.pool.release_owner(owner)
        if gone:
            self.save()
        return gone
