"""The rules of a bridge network in both backends: ``icc`` and ``masquerade`` off (the
daemon's ``--icc=false``/``--ip-masq=false``, the network's ``enable_icc``/
``enable_ip_masquerade`` options)."""

from __future__ import annotations

from dockyard.network import nftables
from dockyard.network.firewall import BridgeNetwork, Firewall

NET = BridgeNetwork("br0", "10.1.0.0/24")
CLOSED = BridgeNetwork("br0", "10.1.0.0/24", icc=False, masquerade=False)


def iptables_lines(net: BridgeNetwork) -> list[str]:
    return [" ".join(rule) for _, _, rule in Firewall._network_rules(net)]


def nft_lines(net: BridgeNetwork) -> list[str]:
    return [text for _, text in nftables.network_rules(net)]


def test_iptables_rules() -> None:
    assert "-i br0 -o br0 -j DROP" not in iptables_lines(NET)
    assert "-s 10.1.0.0/24 ! -o br0 -j MASQUERADE" in iptables_lines(NET)
    lines = iptables_lines(CLOSED)
    # the drop comes before the accept of what comes from the bridge
    assert lines.index("-i br0 -o br0 -j DROP") < lines.index("-i br0 -j ACCEPT")
    assert not any("MASQUERADE" in line for line in lines)
    internal = iptables_lines(BridgeNetwork("br0", "10.1.0.0/24", internal=True, icc=False))
    assert "-i br0 -o br0 -j DROP" in internal


def test_nftables_rules() -> None:
    assert any("masquerade" in t for t in nft_lines(NET))
    off = nft_lines(CLOSED)
    assert off.index('iifname "br0" oifname "br0" drop') < off.index('iifname "br0" accept')
    assert not any("masquerade" in t for t in off)
    # one key for every rule of the network, whatever its icc and masquerade
    assert nftables.network_key(NET) == nftables.network_key(CLOSED)
