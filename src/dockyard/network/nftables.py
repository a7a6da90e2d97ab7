"""Packet filter rules of the bridge driver in nftables: one table of Dockyard's own.

The same rules as ``firewall.Firewall`` (iptables), for hosts that have ``nft`` and no
``iptables``. Everything lives in ``table ip dockyard``, so deleting that table removes
it all. Base chains: ``prerouting`` (nat, priority dstnat: local destinations jump to
``publish``), ``output`` (nat, priority -100, the same as dstnat — nft 1.0.6 knows the
keyword only in prerouting: non-127/8 local destinations jump to ``publish``),
``postrouting`` (nat, priority srcnat: jump to ``masq_subnets``), ``forward`` (filter,
priority filter: jump to ``isolation_1``, then ``bridges``); all with policy accept, so
nothing outside our bridges changes. Regular chains, with the iptables chain each one
stands for: ``publish`` (DOCKYARD: DNAT of published ports), ``masq_subnets``
(DOCKYARD-POSTROUTING: masquerade of each non-internal subnet leaving its bridge),
``bridges`` (DOCKYARD-FORWARD), ``isolation_1``/``isolation_2``
(DOCKYARD-ISOLATION-1/-2: a packet leaving one of our bridges for another is dropped).

Each network's and each published port's rules carry a comment naming them; they are
found again in the JSON listing (``nft -j list table ip dockyard``) and deleted by
handle, never by reading nft's text. Every change is one ``nft -f -`` batch, which the
kernel applies whole or not at all: a failure leaves no half of a network's rules.
``setup()`` replaces the table (a restarted daemon starts from an empty one and rebuilds
it from its networks and running containers); ``cleanup()`` deletes it.

A table of our own is not reached by another table's verdicts: an accept here does not
accept a packet for the other tables on the same hook. A ``FORWARD`` policy DROP set in
iptables by another engine (dockerd sets one) still drops our forwarded packets, where
the iptables backend's ACCEPT in that same FORWARD chain lets them through. That is why
iptables stays the default when a host has both (``firewall.open_firewall``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import subprocess
from collections.abc import Sequence

from dockyard.errors import InvalidArgument, NotSupported, SystemFault

from .firewall import (
    FORWARD_CHAIN,
    ISOLATION_CHAIN,
    ISOLATION_DROP_CHAIN,
    NAT_CHAIN,
    POSTROUTING_CHAIN,
    BridgeNetwork,
    PublishedPort,
    _enable_forwarding,
    find_program,
)

log = logging.getLogger(__name__)

TABLE = "ip dockyard"

# the iptables backend's (table, chain) -> the chain of ours that holds the same rules
CHAINS: dict[tuple[str, str], str] = {
    ("nat", NAT_CHAIN): "publish",
    ("nat", POSTROUTING_CHAIN): "masq_subnets",
    ("filter", FORWARD_CHAIN): "bridges",
    ("filter", ISOLATION_CHAIN): "isolation_1",
    ("filter", ISOLATION_DROP_CHAIN): "isolation_2",
}
BASE_CHAINS = ("prerouting", "output", "postrouting", "forward")

_TABLE_TEXT = """\
table ip dockyard {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        fib daddr type local jump publish
    }
    chain output {
        type nat hook output priority -100; policy accept;
        ip daddr != 127.0.0.0/8 fib daddr type local jump publish
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        jump masq_subnets
    }
    chain forward {
        type filter hook forward priority filter; policy accept;
        jump isolation_1
        jump bridges
    }
    chain publish {
    }
    chain masq_subnets {
    }
    chain bridges {
    }
    chain isolation_1 {
    }
    chain isolation_2 {
    }
}
"""

# names go into nft's language between double quotes: nothing that could end them
_IFNAME = re.compile(r"[A-Za-z0-9_.\-]{1,15}")
_PROTOS = ("tcp", "udp", "sctp")

Rule = tuple[str, str]  # (chain, rule text without its comment)


def find_nft(search: str | None = None) -> str:
    found = find_program("nft", search)
    if found:
        return found
    raise NotSupported(
        "nft is not installed: the nftables firewall backend needs it (apt-get install "
        "nftables), or run containers with --network none or host"
    )


def _ifname(name: str) -> str:
    if not _IFNAME.fullmatch(name):
        raise InvalidArgument(f"invalid bridge name {name!r}: use at most 15 of A-Z a-z 0-9 _ . -")
    return f'"{name}"'


def _ipv4(text: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise InvalidArgument(f"invalid {what} {text!r}: nftables rules take IPv4") from None


def _subnet(text: str) -> str:
    try:
        return str(ipaddress.IPv4Network(text, strict=False))
    except ValueError:
        raise InvalidArgument(f"invalid subnet {text!r}: nftables rules take IPv4") from None


def network_rules(network: BridgeNetwork) -> list[Rule]:
    """A network's rules, as ``Firewall._network_rules`` makes them in iptables."""
    b, net = _ifname(network.bridge), _subnet(network.subnet)
    between = "accept" if network.icc else "drop"
    isolation = [
        # stage 1: leaving this bridge for another; stage 2: into one of ours: drop
        ("isolation_1", f"iifname {b} oifname != {b} jump isolation_2"),
        ("isolation_2", f"oifname {b} drop"),
    ]
    if network.internal:
        # nothing leaves or enters an internal network, except between its containers
        return [
            *isolation,
            ("bridges", f"iifname {b} oifname {b} {between}"),
            ("bridges", f"iifname {b} oifname != {b} drop"),
            ("bridges", f"iifname != {b} oifname {b} drop"),
        ]
    rules = [*isolation]
    if not network.icc:  # before the accept of everything that comes from the bridge
        rules.append(("bridges", f"iifname {b} oifname {b} drop"))
    rules += [
        ("bridges", f"iifname {b} accept"),
        ("bridges", f"oifname {b} ct state related,established accept"),
    ]
    if network.masquerade:
        rules.append(("masq_subnets", f"ip saddr {net} oifname != {b} masquerade"))
    return rules


def port_rules(p: PublishedPort) -> list[Rule]:
    """A published port's DNAT and forward accept, as ``Firewall._port_rules``."""
    b = _ifname(p.bridge)
    if p.proto not in _PROTOS:
        raise InvalidArgument(f"invalid protocol {p.proto!r}: use tcp, udp or sctp")
    dest = ""
    if p.host_ip and p.host_ip not in ("0.0.0.0", "::"):
        dest = f"ip daddr {_ipv4(p.host_ip, 'host address')} "
    cip = _ipv4(p.container_ip, "container address")
    host_port, container_port = int(p.host_port), int(p.container_port)
    return [
        ("publish", f"iifname != {b} {dest}{p.proto} dport {host_port} "
                    f"dnat to {cip}:{container_port}"),
        ("bridges", f"ip daddr {cip} iifname != {b} oifname {b} {p.proto} dport "
                    f"{container_port} accept"),
    ]  # fmt: skip


def network_key(net: BridgeNetwork) -> str:
    """The comment on every rule of ``net`` (the same whatever its icc and masquerade)."""
    return f"dockyard net {net.bridge} {net.subnet}" + (" internal" if net.internal else "")


def port_key(p: PublishedPort) -> str:
    host = p.host_ip or "0.0.0.0"
    return (
        f"dockyard port {p.proto} {host}:{p.host_port} {p.container_ip}:{p.container_port} "
        f"{p.bridge}"
    )


class NftFirewall:
    """nftables rules for bridge networks and published ports (IPv4), ``table ip dockyard``."""

    def __init__(self, nft: str | None = None) -> None:
        self.nft = nft or find_nft()

    def _run(self, *args: str, script: str | None = None, check: bool = True) -> str | None:
        """nft's output; None when it failed and ``check`` is False."""
        argv = [self.nft, *args]
        log.debug("firewall (nft): %s", script.replace("\n", "; ") if script else args)
        try:
            done = subprocess.run(argv, input=script, capture_output=True, text=True, check=False)
        except OSError as e:
            raise SystemFault(f"run {self.nft}: {e.strerror}") from e
        if done.returncode != 0:
            if check:
                what = "nft -f (batch)" if script is not None else "nft " + " ".join(args)
                raise SystemFault(f"{what} failed: {done.stderr.strip()}")
            return None
        return done.stdout

    def _apply(self, lines: Sequence[str]) -> None:
        """One transaction: every line takes effect, or none does."""
        if lines:
            self._run("-f", "-", script="\n".join(lines) + "\n")

    def _handles(self) -> dict[str, list[tuple[str, int]]] | None:
        """Rule comment -> [(chain, handle)] of our table; None when it does not exist."""
        out = self._run("-j", "list", "table", *TABLE.split(), check=False)
        if out is None:
            return None
        try:
            items = json.loads(out)["nftables"]
        except (ValueError, KeyError, TypeError) as e:
            raise SystemFault(f"nft -j list table {TABLE}: unreadable output ({e})") from e
        found: dict[str, list[tuple[str, int]]] = {}
        for item in items:
            rule = item.get("rule") if isinstance(item, dict) else None
            if isinstance(rule, dict) and isinstance(rule.get("comment"), str):
                found.setdefault(rule["comment"], []).append((rule["chain"], int(rule["handle"])))
        return found

    def _replace(self, key: str, rules: list[Rule], insert: bool) -> None:
        """Make ``key``'s rules exactly ``rules``, in one batch (nothing when they are)."""
        handles = self._handles()
        if handles is None:
            raise SystemFault(
                f"the nftables table {TABLE} does not exist: set up the firewall first"
            )
        have = handles.get(key, [])
        if len(have) == len(rules):
            return  # made before: the same key always gives the same rules
        verb = "insert" if insert else "add"
        self._apply(
            [f"delete rule {TABLE} {chain} handle {handle}" for chain, handle in have]
            + [f'{verb} rule {TABLE} {chain} {text} comment "{key}"' for chain, text in rules]
        )

    def _delete(self, key: str) -> None:
        handles = self._handles()
        if handles is None:
            return  # no table, no rules
        self._apply(
            [
                f"delete rule {TABLE} {chain} handle {handle}"
                for chain, handle in handles.get(key, [])
            ]
        )

    # -- whole-ruleset lifetime -------------------------------------------------------

    def setup(self) -> None:
        """Replace our table with an empty one (in one batch); enable IPv4 forwarding."""
        # "add" first so the "delete" never fails on a host that has no table yet
        self._apply([f"add table {TABLE}", f"delete table {TABLE}", _TABLE_TEXT])
        _enable_forwarding()

    def cleanup(self) -> None:
        """Remove every rule and chain Dockyard made: the table."""
        self._apply([f"add table {TABLE}", f"delete table {TABLE}"])

    # -- networks ---------------------------------------------------------------------

    def add_network(self, net: BridgeNetwork) -> None:
        self._replace(network_key(net), network_rules(net), False)

    def remove_network(self, net: BridgeNetwork) -> None:
        self._delete(network_key(net))

    # -- published ports --------------------------------------------------------------

    def add_port(self, p: PublishedPort) -> None:
        # inserted: before the DROPs of an internal network and before other rules
        self._replace(port_key(p), port_rules(p), True)

    def remove_port(self, p: PublishedPort) -> None:
        self._delete(port_key(p))

    def rules(self, table: str, chain: str) -> list[str]:
        """The rules of one of our chains in nft's syntax (for tests and diagnostics;
        nothing decides anything on this text). ``(table, chain)`` is an iptables pair of
        the other backend (``("nat", "DOCKYARD")`` -> ``publish``, see ``CHAINS``), or any
        ``table`` with one of our chain names (``("ip", "forward")``)."""
        name = CHAINS.get((table, chain), chain)
        if name not in CHAINS.values() and name not in BASE_CHAINS:
            return []
        out = self._run("list", "chain", *TABLE.split(), name, check=False)
        if out is None:
            return []
        lines = [line.strip() for line in out.splitlines()]
        return [
            line
            for line in lines
            if line and not line.startswith(("table ", "chain ", "type ", "}"))
        ]
