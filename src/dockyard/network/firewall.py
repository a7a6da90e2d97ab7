"""Packet filter rules of the bridge driver, in iptables chains of Dockyard's own.

Chains (each reached by one jump from a built-in chain, so removing Dockyard removes
everything): ``nat DOCKYARD`` (DNAT of published ports; from PREROUTING and OUTPUT for
local destinations), ``nat DOCKYARD-POSTROUTING`` (masquerade of each non-internal
subnet), ``filter DOCKYARD-FORWARD`` (what may cross each bridge: everything between
its own containers, outbound and replies unless ``--internal``, and published ports),
``filter DOCKYARD-ISOLATION-1``/``-2`` (Docker's DOCKER-ISOLATION stages, checked before
the rest: a packet that leaves one of our bridges for another of our bridges is dropped,
so two bridge networks never reach each other).

Rules are added with a check first (``-C``) so every call is idempotent; ``setup()``
flushes our chains, so a restarted daemon rebuilds them from its networks and running
containers. iptables is run as a program (``-w`` waits for the xtables lock); with the
nf_tables backend that is what Debian 12 ships. The backend is chosen once, at
construction: a host without iptables gets NotSupported with what to install.
``open_firewall()`` picks this class or ``nftables.NftFirewall`` (a host with only nft).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from dockyard.errors import InvalidArgument, NotSupported, SystemFault

log = logging.getLogger(__name__)

NAT_CHAIN = "DOCKYARD"
POSTROUTING_CHAIN = "DOCKYARD-POSTROUTING"
FORWARD_CHAIN = "DOCKYARD-FORWARD"
ISOLATION_CHAIN = "DOCKYARD-ISOLATION-1"
ISOLATION_DROP_CHAIN = "DOCKYARD-ISOLATION-2"

# (table, chain, jump rule in the built-in chain)
_JUMPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("nat", "PREROUTING", ("-m", "addrtype", "--dst-type", "LOCAL", "-j", NAT_CHAIN)),
    (
        "nat",
        "OUTPUT",
        ("!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL", "-j", NAT_CHAIN),
    ),
    ("nat", "POSTROUTING", ("-j", POSTROUTING_CHAIN)),
    ("filter", "FORWARD", ("-j", FORWARD_CHAIN)),
    ("filter", "FORWARD", ("-j", ISOLATION_CHAIN)),  # inserted last: checked first
)
# in this order: a chain is deleted only after the chains that jump to it
_CHAINS = (
    ("nat", NAT_CHAIN),
    ("nat", POSTROUTING_CHAIN),
    ("filter", FORWARD_CHAIN),
    ("filter", ISOLATION_CHAIN),
    ("filter", ISOLATION_DROP_CHAIN),
)


@dataclass(frozen=True)
class PublishedPort:
    """One DNAT: ``host_ip:host_port/proto`` to ``container_ip:container_port`` on ``bridge``."""

    bridge: str
    proto: str
    host_ip: str
    host_port: int
    container_ip: str
    container_port: int


# where a daemon started without the sbin directories on its PATH still finds the tools
_SBIN = ("/usr/sbin", "/sbin")


@dataclass(frozen=True)
class BridgeNetwork:
    """What a bridge network's rules depend on: its bridge and subnet, ``internal``
    (nothing in or out), ``icc`` (its containers reach each other: the daemon's
    ``--icc``, the network's ``enable_icc``) and ``masquerade`` (``--ip-masq``,
    ``enable_ip_masquerade``)."""

    bridge: str
    subnet: str
    internal: bool = False
    icc: bool = True
    masquerade: bool = True


def find_program(name: str, search: str | None = None) -> str | None:
    """``name`` on ``search`` (a PATH-like string; default: $PATH, then /usr/sbin, /sbin)."""
    if search is None:
        search = os.pathsep.join([os.environ.get("PATH", os.defpath), *_SBIN])
    return shutil.which(name, path=search)


def find_iptables(search: str | None = None) -> str:
    found = find_program("iptables", search)
    if found:
        return found
    raise NotSupported(
        "iptables is not installed: container networking needs it (apt-get install iptables), "
        "or run containers with --network none or host"
    )


class PacketFilter(Protocol):
    """What the bridge driver asks of a firewall backend (``Firewall``, ``NftFirewall``)."""

    def setup(self) -> None: ...
    def cleanup(self) -> None: ...
    def add_network(self, net: BridgeNetwork) -> None: ...
    def remove_network(self, net: BridgeNetwork) -> None: ...
    def add_port(self, p: PublishedPort) -> None: ...
    def remove_port(self, p: PublishedPort) -> None: ...
    def rules(self, table: str, chain: str) -> list[str]: ...


BACKENDS = ("iptables", "nftables")


class NoFirewall:
    """The daemon's ``--iptables=false``: no rules and no forwarding; published ports
    are reached through the userland proxy only, as dockerd's."""

    def setup(self) -> None:
        pass

    def cleanup(self) -> None:
        pass

    def add_network(self, net: BridgeNetwork) -> None:
        pass

    def remove_network(self, net: BridgeNetwork) -> None:
        pass

    def add_port(self, p: PublishedPort) -> None:
        pass

    def remove_port(self, p: PublishedPort) -> None:
        pass

    def rules(self, table: str, chain: str) -> list[str]:
        return []


def open_firewall(backend: str = "", search: str | None = None) -> PacketFilter:
    """The firewall backend, chosen once: ``"iptables"``, ``"nftables"``, or ``""`` for
    iptables if installed, else nftables. iptables is preferred because its ACCEPTs reach
    the built-in FORWARD chain other engines share (see ``nftables.py``). Nothing is run:
    a missing program is a NotSupported here, before any bridge or rule is made.
    ``search`` is a PATH-like string to look in (default: $PATH, /usr/sbin, /sbin)."""
    if backend not in ("", *BACKENDS):
        raise InvalidArgument(
            f"unknown firewall backend {backend!r}: use iptables or nftables (or leave it "
            "empty to pick whichever is installed)"
        )
    # lazily: nftables.py imports this module
    from .nftables import NftFirewall, find_nft

    if backend == "iptables":
        return Firewall(find_iptables(search))
    if backend == "nftables":
        return NftFirewall(find_nft(search))
    iptables = find_program("iptables", search)
    if iptables:
        return Firewall(iptables)
    nft = find_program("nft", search)
    if nft:
        return NftFirewall(nft)
    raise NotSupported(
        "neither iptables nor nftables is installed: container networking needs one "
        "(apt-get install iptables, or apt-get install nftables); containers with "
        "--network none or host still run"
    )


class Firewall:
    """iptables rules for bridge networks and published ports (IPv4)."""

    def __init__(self, iptables: str | None = None) -> None:
        self.iptables = iptables or find_iptables()
        # the batch form of the same backend (iptables -> iptables-restore): a published
        # port's rules in one program run instead of a check and an insert per rule
        restore = os.path.join(
            os.path.dirname(self.iptables), os.path.basename(self.iptables) + "-restore"
        )
        self.restore: str | None = restore if os.access(restore, os.X_OK) else None

    def _run(self, table: str, *args: str, check: bool = True) -> bool:
        argv = [self.iptables, "-w", "-t", table, *args]
        log.debug("firewall: %s", " ".join(argv[1:]))
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
        except OSError as e:
            raise SystemFault(f"run {self.iptables}: {e.strerror}") from e
        if done.returncode != 0 and check:
            raise SystemFault(f"iptables -t {table} {' '.join(args)} failed: {done.stderr.strip()}")
        return done.returncode == 0

    def _ensure(self, table: str, chain: str, rule: Sequence[str], insert: bool = False) -> None:
        if not self._run(table, "-C", chain, *rule, check=False):
            self._run(table, "-I" if insert else "-A", chain, *rule)

    def _remove(self, table: str, chain: str, rule: Sequence[str]) -> None:
        while self._run(table, "-C", chain, *rule, check=False):
            self._run(table, "-D", chain, *rule)

    def _batch(self, op: str, rules: Sequence[tuple[str, str, tuple[str, ...]]]) -> bool:
        """Apply ``op`` (-I/-D) to ``rules`` in one ``iptables-restore --noflush`` (all or
        nothing: a ``-D`` of a missing rule fails the lot); False when that failed."""
        if self.restore is None:
            return False
        lines: list[str] = []
        for table in dict.fromkeys(t for t, _, _ in rules):
            lines.append(f"*{table}")
            lines += [f"{op} {chain} {' '.join(rule)}" for t, chain, rule in rules if t == table]
            lines.append("COMMIT")
        text = "\n".join(lines) + "\n"
        log.debug("firewall (batch): %s", text.replace("\n", "; "))
        try:
            done = subprocess.run(
                [self.restore, "--noflush"], input=text, capture_output=True, text=True, check=False
            )
        except OSError:
            return False
        return done.returncode == 0

    def _has_chain(self, table: str, chain: str) -> bool:
        return self._run(table, "-n", "-L", chain, check=False)

    # -- whole-ruleset lifetime -------------------------------------------------------

    def setup(self) -> None:
        """Create (or flush) our chains and jump to them; enable IPv4 forwarding."""
        for table, chain in _CHAINS:
            if self._has_chain(table, chain):
                self._run(table, "-F", chain)
            else:
                self._run(table, "-N", chain)
        for table, builtin, rule in _JUMPS:
            self._ensure(table, builtin, rule, insert=True)
        _enable_forwarding()

    def cleanup(self) -> None:
        """Remove every rule and chain Dockyard made."""
        for table, builtin, rule in _JUMPS:
            self._remove(table, builtin, rule)
        for table, chain in _CHAINS:
            if self._has_chain(table, chain):
                self._run(table, "-F", chain)
                self._run(table, "-X", chain)

    # -- networks ---------------------------------------------------------------------

    @staticmethod
    def _network_rules(net: BridgeNetwork) -> list[tuple[str, str, tuple[str, ...]]]:
        """A network's rules; ``icc`` False drops what goes between its containers,
        ``masquerade`` False leaves what leaves it with the container's address."""
        bridge, subnet = net.bridge, net.subnet
        between = "ACCEPT" if net.icc else "DROP"
        isolation = [
            # stage 1: leaving this bridge for another; stage 2: into one of ours: drop
            ("filter", ISOLATION_CHAIN, ("-i", bridge, "!", "-o", bridge, "-j",
                                         ISOLATION_DROP_CHAIN)),
            ("filter", ISOLATION_DROP_CHAIN, ("-o", bridge, "-j", "DROP")),
        ]  # fmt: skip
        if net.internal:
            # nothing leaves or enters an internal network, except between its containers
            return [
                *isolation,
                ("filter", FORWARD_CHAIN, ("-i", bridge, "-o", bridge, "-j", between)),
                ("filter", FORWARD_CHAIN, ("-i", bridge, "!", "-o", bridge, "-j", "DROP")),
                ("filter", FORWARD_CHAIN, ("!", "-i", bridge, "-o", bridge, "-j", "DROP")),
            ]
        rules = [*isolation]
        if not net.icc:  # before the accept of everything that comes from the bridge
            rules.append(("filter", FORWARD_CHAIN, ("-i", bridge, "-o", bridge, "-j", "DROP")))
        rules += [
            ("filter", FORWARD_CHAIN, ("-i", bridge, "-j", "ACCEPT")),
            (
                "filter",
                FORWARD_CHAIN,
                (
                    "-o",
                    bridge,
                    "-m",
                    "conntrack",
                    "--ctstate",
                    "RELATED,ESTABLISHED",
                    "-j",
                    "ACCEPT",
                ),
            ),
        ]
        if net.masquerade:
            rules.append(
                ("nat", POSTROUTING_CHAIN, ("-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"))
            )
        return rules

    def add_network(self, net: BridgeNetwork) -> None:
        try:
            for table, chain, rule in self._network_rules(net):
                self._ensure(table, chain, rule)
        except BaseException:
            self.remove_network(net)
            raise

    def remove_network(self, net: BridgeNetwork) -> None:
        for table, chain, rule in self._network_rules(net):
            self._remove(table, chain, rule)

    # -- published ports --------------------------------------------------------------

    @staticmethod
    def _port_rules(p: PublishedPort) -> list[tuple[str, str, tuple[str, ...]]]:
        dest = ("-d", p.host_ip) if p.host_ip and p.host_ip not in ("0.0.0.0", "::") else ()
        target = f"{p.container_ip}:{p.container_port}"
        return [
            (
                "nat",
                NAT_CHAIN,
                ("!", "-i", p.bridge, *dest, "-p", p.proto, "-m", p.proto,
                 "--dport", str(p.host_port), "-j", "DNAT", "--to-destination", target),
            ),
            (
                "filter",
                FORWARD_CHAIN,
                ("-d", p.container_ip, "!", "-i", p.bridge, "-o", p.bridge, "-p", p.proto,
                 "-m", p.proto, "--dport", str(p.container_port), "-j", "ACCEPT"),
            ),
        ]  # fmt: skip

    def add_port(self, p: PublishedPort) -> None:
        # a port's rules are its own (ports.py never publishes one twice): no -C first
        if self._batch("-I", self._port_rules(p)):
            return
        try:
            for table, chain, rule in self._port_rules(p):
                # before the network's DROPs of an internal network, and before others
                self._ensure(table, chain, rule, insert=True)
        except BaseException:
            self.remove_port(p)
            raise

    def remove_port(self, p: PublishedPort) -> None:
        if self._batch("-D", self._port_rules(p)):
            return
        for table, chain, rule in self._port_rules(p):
            self._remove(table, chain, rule)

    def rules(self, table: str, chain: str) -> list[str]:
        """The rules of one of our chains as ``iptables -S`` prints them (for tests and
        diagnostics; nothing decides anything on this text)."""
        argv = [self.iptables, "-w", "-t", table, "-S", chain]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return []
        return [line for line in done.stdout.splitlines() if not line.startswith("-N ")]


def _enable_forwarding() -> None:
    path = "/proc/sys/net/ipv4/ip_forward"
    try:
        with open(path) as f:
            if f.read().strip() == "1":
                return
        log.debug("sysctl: %s = 1", path)
        with open(path, "w") as f:
            f.write("1")
    except OSError as e:
        raise SystemFault(f"enable IPv4 forwarding ({path}): {e.strerror}") from e
