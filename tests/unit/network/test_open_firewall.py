"""The firewall backend's choice (``open_firewall``) and its errors, on a search path of
fake programs the test makes (nothing is run: choosing only looks for the programs), and
the nftables backend's refusal of names it cannot quote."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument, NotSupported
from dockyard.network.firewall import BridgeNetwork, Firewall, PublishedPort, open_firewall
from dockyard.network.nftables import NftFirewall


def programs(tmp_path: Path, *names: str, executable: bool = True) -> str:
    """A directory holding fake programs ``names``; its path, to search in."""
    tmp_path.mkdir(exist_ok=True)
    for name in names:
        p = tmp_path / name
        p.write_text("#!/bin/sh\nexit 1\n")
        p.chmod(0o755 if executable else 0o644)
    return str(tmp_path)


def test_auto_prefers_iptables_when_both_are_installed(tmp_path: Path) -> None:
    fw = open_firewall("", programs(tmp_path, "iptables", "nft"))
    assert isinstance(fw, Firewall)
    assert fw.iptables == str(tmp_path / "iptables")


def test_auto_takes_nft_when_only_it_is_installed(tmp_path: Path) -> None:
    fw = open_firewall("", programs(tmp_path, "nft"))
    assert isinstance(fw, NftFirewall)
    assert fw.nft == str(tmp_path / "nft")


def test_auto_without_either_names_both_packages(tmp_path: Path) -> None:
    # a file that is not executable is not a program
    search = programs(tmp_path, "iptables", "nft", executable=False)
    with pytest.raises(NotSupported) as e:
        open_firewall("", search)
    message = str(e.value)
    assert "apt-get install iptables" in message
    assert "apt-get install nftables" in message
    assert "--network none or host" in message


def test_explicit_backend_is_taken_even_when_the_other_is_installed(tmp_path: Path) -> None:
    search = programs(tmp_path, "iptables", "nft")
    assert isinstance(open_firewall("nftables", search), NftFirewall)
    assert isinstance(open_firewall("iptables", search), Firewall)


def test_explicit_backend_missing_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(NotSupported, match=r"apt-get install iptables"):
        open_firewall("iptables", programs(tmp_path, "nft"))
    with pytest.raises(NotSupported, match=r"apt-get install nftables"):
        open_firewall("nftables", programs(tmp_path / "other", "iptables"))


def test_default_search_finds_programs_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ahead of the sbin directories, the ones on $PATH win
    monkeypatch.setenv("PATH", programs(tmp_path, "iptables", "nft"))
    fw = open_firewall("nftables")
    assert isinstance(fw, NftFirewall) and fw.nft == str(tmp_path / "nft")


@pytest.mark.parametrize("backend", ["pf", "iptables-legacy", "NFTABLES", "auto"])
def test_unknown_backend_lists_the_two_names(tmp_path: Path, backend: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        open_firewall(backend, programs(tmp_path, "iptables", "nft"))
    assert "iptables" in str(e.value) and "nftables" in str(e.value)
    assert repr(backend) in str(e.value)


def test_nft_refuses_what_it_cannot_put_in_a_rule(tmp_path: Path) -> None:
    # each is refused before nft runs (the fake one would fail with another message)
    fw = NftFirewall(str(Path(programs(tmp_path, "nft")) / "nft"))
    with pytest.raises(InvalidArgument, match="invalid bridge name"):
        fw.add_network(BridgeNetwork('br"; flush ruleset', "10.1.0.0/24"))
    with pytest.raises(InvalidArgument, match="invalid bridge name"):
        fw.add_network(BridgeNetwork("a-name-longer-than-15", "10.1.0.0/24"))
    with pytest.raises(InvalidArgument, match="invalid subnet"):
        fw.add_network(BridgeNetwork("br0", "fd00::/64"))
    with pytest.raises(InvalidArgument, match="invalid host address"):
        fw.add_port(PublishedPort("br0", "tcp", "::1", 80, "10.1.0.2", 80))
    with pytest.raises(InvalidArgument, match="invalid protocol"):
        fw.add_port(PublishedPort("br0", "icmp", "", 80, "10.1.0.2", 80))
