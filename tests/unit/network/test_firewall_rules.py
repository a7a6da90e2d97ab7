"""The rules of a bridge network in both backends: ``icc`` and ``masquerade`` off (the
daemon's ``--icc=false``/``--ip-masq=false``, the network's ``enable_icc``/
``enable_ip_masquerade`` options)."""

from __future__ import annotations

from dockyard.network import nftables
from dockyard.network.firewall import Firewall


def test_iptables_rules() -> None:
    default = [" ".join(r) for _, _, r in Firewall._network_rules("br0", "10.1.0.0/24", False)]
    assert "-i br0 -o br0 -j DROP" not in default
    assert "-s 10.1.0.0/24 ! -o br0 -j MASQUERADE" in default
    off = Firewall._network_rules("br0", "10.1.0.0/24", False, icc=False, masquerade=False)
    lines = [" ".join(r) for _, _, r in off]
    # the drop comes before the accept of what comes from the bridge
    assert lines.index("-i br0 -o br0 -j DROP") < lines.index("-i br0 -j ACCEPT")
    assert not any("MASQUERADE" in line for line in lines)
    internal = Firewall._network_rules("br0", "10.1.0.0/24", True, icc=False)
    assert ("filter", "DOCKYARD-FORWARD", ("-i", "br0", "-o", "br0", "-j", "DROP")) in internal


def test_nftables_rules() -> None:
    default = [text for _, text in nftables.network_rules("br0", "10.1.0.0/24", False)]
    assert any("masquerade" in t for t in default)
    off = [text for _, text in nftables.network_rules("br0", "10.1.0.0/24", False, False, False)]
    assert off.index('iifname "br0" oifname "br0" drop') < off.index('iifname "br0" accept')
    assert not any("masquerade" in t for t in off)
