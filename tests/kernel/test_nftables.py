"""The nftables backend of the bridge driver against the real kernel, as
``test_network.py`` checks the iptables one. Each test runs in a forked child inside a
network namespace of its own (nftables rulesets are per namespace): the host's ruleset
is never touched, and no packet leaves those namespaces.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from dockyard.network import bridge
from dockyard.network.firewall import BridgeNetwork, PublishedPort
from dockyard.network.nftables import NftFirewall
from dockyard.testing.netns import PEER_SERVER, Netns, in_own_netns, on_bridge, stop

pytestmark = pytest.mark.requires("root", "ns-net", "busybox", "nft")


def ruleset() -> list[dict[str, dict[str, object]]]:
    """The namespace's whole ruleset, as nft lists it in JSON (every table, not ours)."""
    out = subprocess.run(
        ["nft", "-j", "list", "ruleset"], capture_output=True, text=True, check=True
    ).stdout
    return [item for item in json.loads(out)["nftables"] if "metainfo" not in item]


def our_tables() -> int:
    return sum(
        1
        for item in ruleset()
        if item.get("table", {}).get("name") == "dockyard" and item["table"].get("family") == "ip"
    )


def connect(host: str, port: int, timeout: float = 1) -> str:
    """What the server sends, or "refused" (nothing answers, or the connection failed)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as c:
            return c.recv(100).decode()
    except OSError:
        return "refused"


def test_nft_published_port_masquerade_internal_and_isolation() -> None:
    def work() -> dict[str, object]:
        seen: dict[str, object] = {}
        fw = NftFirewall()
        fw.setup()
        with Netns() as web, Netns() as outside, Netns() as sealed, Netns() as other:
            on_bridge("dyt-br1", "10.78.0", web)
            on_bridge("dyt-out", "10.99.0", outside)
            on_bridge("dyt-br2", "10.79.0", sealed)
            on_bridge("dyt-br4", "10.82.0", other)
            fw.add_network(BridgeNetwork("dyt-br1", "10.78.0.0/24"))
            seen["forward_once"] = fw.rules("filter", "DOCKYARD-FORWARD")
            fw.add_network(BridgeNetwork("dyt-br1", "10.78.0.0/24"))  # idempotent
            seen["forward_twice"] = fw.rules("filter", "DOCKYARD-FORWARD")
            fw.add_network(BridgeNetwork("dyt-br2", "10.79.0.0/24", internal=True))
            fw.add_network(BridgeNetwork("dyt-br4", "10.82.0.0/24"))
            port = PublishedPort("dyt-br1", "tcp", "", 8080, "10.78.0.2", 80)
            fw.add_port(port)
            # published on one host address only
            only_out = PublishedPort("dyt-br1", "tcp", "10.99.0.1", 8082, "10.78.0.2", 80)
            fw.add_port(only_out)
            seen["nat"] = fw.rules("nat", "DOCKYARD")
            seen["postrouting"] = fw.rules("nat", "DOCKYARD-POSTROUTING")
            # the host (this namespace) reaches the container through the DNAT rule (output)
            server = web.serve(PEER_SERVER, 80)
            seen["dnat"] = connect("10.78.0.1", 8080, timeout=3)
            stop(server)
            # a peer outside reaches it through the host's address (prerouting), unmasked
            server = web.serve(PEER_SERVER, 80)
            seen["dnat_outside"] = outside.connect("10.99.0.1", 8080)
            stop(server)
            server = web.serve(PEER_SERVER, 80)
            seen["host_ip_other"] = connect("10.78.0.1", 8082)
            seen["host_ip_match"] = outside.connect("10.99.0.1", 8082)
            stop(server)
            # outbound: the outside peer sees the masqueraded source, not 10.78.0.2
            server = outside.serve(PEER_SERVER, 9000)
            seen["masq"] = web.connect("10.99.0.2", 9000)
            # an internal network reaches nothing outside it
            seen["sealed"] = sealed.connect("10.99.0.2", 9000, timeout=1)
            stop(server)
            # two of our bridges never reach each other; once br4 is not ours, they do
            server = other.serve(PEER_SERVER, 9100)
            seen["isolated"] = web.connect("10.82.0.2", 9100, timeout=1)
            fw.remove_network(BridgeNetwork("dyt-br4", "10.82.0.0/24"))
            seen["not_isolated"] = web.connect("10.82.0.2", 9100)
            stop(server)
            fw.remove_port(port)
            fw.remove_port(only_out)
            fw.remove_port(only_out)  # a second removal finds nothing: no error
            seen["nat_after"] = fw.rules("nat", "DOCKYARD")
            seen["after_remove"] = connect("10.78.0.1", 8080)
            fw.remove_network(BridgeNetwork("dyt-br2", "10.79.0.0/24", internal=True))
            fw.remove_network(BridgeNetwork("dyt-br1", "10.78.0.0/24"))
            seen["forward_after"] = fw.rules("filter", "DOCKYARD-FORWARD")
            seen["isolation_after"] = fw.rules("filter", "DOCKYARD-ISOLATION-1")
        for name in ("dyt-br1", "dyt-br2", "dyt-br4", "dyt-out"):
            bridge.delete_link(name)
        fw.cleanup()
        seen["tables_after"] = our_tables()
        return seen

    seen = in_own_netns(work)
    once = seen["forward_once"]
    assert once == [
        'iifname "dyt-br1" accept comment "dockyard net dyt-br1 10.78.0.0/24"',
        'oifname "dyt-br1" ct state established,related accept '
        'comment "dockyard net dyt-br1 10.78.0.0/24"',
    ]
    assert seen["forward_twice"] == once
    nat = [str(r) for r in seen["nat"]]  # type: ignore[attr-defined]
    assert len(nat) == 2
    assert any("tcp dport 8080 dnat to 10.78.0.2:80" in r for r in nat)
    assert any("ip daddr 10.99.0.1 tcp dport 8082" in r for r in nat)
    postrouting = [str(r) for r in seen["postrouting"]]  # type: ignore[attr-defined]
    assert len(postrouting) == 2  # br1 and br4; none for the internal br2
    assert any("ip saddr 10.78.0.0/24" in r and "masquerade" in r for r in postrouting)
    assert seen["dnat"] == "10.78.0.1"
    assert seen["dnat_outside"] == "10.99.0.2"
    assert seen["host_ip_other"] == "refused"
    assert seen["host_ip_match"] == "10.99.0.2"
    assert seen["masq"] == "10.99.0.1"
    assert seen["sealed"] is None
    assert seen["isolated"] is None
    assert seen["not_isolated"] == "10.82.0.1"  # masqueraded as it leaves for br4
    assert seen["nat_after"] == []
    assert seen["after_remove"] == "refused"
    assert seen["forward_after"] == []
    assert seen["isolation_after"] == []
    assert seen["tables_after"] == 0


def test_nft_setup_rebuilds_clean_and_cleanup_removes_all() -> None:
    def work() -> dict[str, object]:
        seen: dict[str, object] = {}
        fw = NftFirewall()
        fw.cleanup()  # nothing to remove yet: no error
        fw.setup()
        seen["forwarding"] = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
        fw.add_network(BridgeNetwork("dyt-br5", "10.83.0.0/24"))
        fw.add_port(PublishedPort("dyt-br5", "udp", "", 5353, "10.83.0.2", 53))
        seen["before"] = len(fw.rules("filter", "DOCKYARD-FORWARD"))
        seen["base_before"] = fw.rules("ip", "forward")
        fw.setup()  # a daemon restart: our table is replaced by an empty one
        fw.setup()
        seen["tables"] = our_tables()
        seen["chains"] = sorted(str(item["chain"]["name"]) for item in ruleset() if "chain" in item)
        seen["rules"] = sum(1 for item in ruleset() if "rule" in item)
        seen["forward_after"] = fw.rules("filter", "DOCKYARD-FORWARD")
        seen["base_after"] = fw.rules("ip", "forward")
        seen["unknown"] = fw.rules("nat", "NO-SUCH-CHAIN")
        # a table of someone else's is left alone by setup() and cleanup()
        subprocess.run(["nft", "add", "table", "ip", "someone"], check=True)
        fw.cleanup()
        seen["tables_after"] = our_tables()
        seen["left"] = [item["table"]["name"] for item in ruleset() if "table" in item]
        fw.cleanup()
        return seen

    seen = in_own_netns(work)
    assert seen["forwarding"] == "1"
    assert seen["before"] == 3  # the network's two rules and the port's forward accept
    assert seen["base_before"] == ["jump isolation_1", "jump bridges"]
    assert seen["tables"] == 1
    assert seen["chains"] == sorted(
        [
            "prerouting", "output", "postrouting", "forward", "publish", "masq_subnets",
            "bridges", "isolation_1", "isolation_2",
        ]
    )  # fmt: skip
    assert seen["rules"] == 5  # only the base chains' jumps: nothing doubled, nothing kept
    assert seen["forward_after"] == []
    assert seen["base_after"] == ["jump isolation_1", "jump bridges"]
    assert seen["unknown"] == []
    assert seen["tables_after"] == 0
    assert seen["left"] == ["someone"]
