"""A container's resolv.conf and hosts as dockerd writes them (``engine/etcfiles.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.engine import etcfiles
from dockyard.errors import InvalidArgument

HOST = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp.test\noptions edns0\n"


def test_default_bridge_drops_loopback_resolvers() -> None:
    text = etcfiles.resolv_conf(HOST, "bridge")
    assert text == "nameserver 10.0.0.2\nsearch corp.test\noptions edns0\n"


def test_only_loopback_resolvers_give_dockers_defaults() -> None:
    text = etcfiles.resolv_conf("nameserver 127.0.0.53\n", "default")
    assert text == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"


def test_flags_replace_the_hosts_lines() -> None:
    hc = {"Dns": ["10.1.1.1"], "DnsSearch": ["a.test", "b.test"], "DnsOptions": ["ndots:3"]}
    text = etcfiles.resolv_conf(HOST, "bridge", hc, daemon_dns=["10.7.7.7"])
    assert text == "nameserver 10.1.1.1\nsearch a.test b.test\noptions ndots:3\n"
    assert etcfiles.resolv_conf(HOST, "bridge", {}, ["10.7.7.7"]).startswith(
        "nameserver 10.7.7.7\nsearch"
    )
    assert "search" not in etcfiles.resolv_conf(HOST, "bridge", {"DnsSearch": ["."]})


def test_user_networks_ask_the_embedded_dns() -> None:
    text = etcfiles.resolv_conf(HOST, "app", {"DnsOptions": ["timeout:1"]}, embedded=True)
    lines = text.splitlines()
    assert lines[0] == "nameserver 127.0.0.11"
    assert "search corp.test" in lines
    assert lines[-1] == "options ndots:0 timeout:1"
    assert etcfiles.upstream_resolvers(HOST) == ["10.0.0.2"]
    assert etcfiles.upstream_resolvers(HOST, ["10.1.1.1"], ["10.7.7.7"]) == ["10.1.1.1"]
    assert etcfiles.upstream_resolvers(HOST, [], ["10.7.7.7"]) == ["10.7.7.7"]


def test_host_mode_keeps_the_hosts_file() -> None:
    assert etcfiles.resolv_conf(HOST, "host") == HOST


def test_extra_hosts_and_host_gateway() -> None:
    extra = etcfiles.extra_hosts(["db:10.0.0.9", "gw:host-gateway", "v6=::1"], "172.30.0.1")
    assert extra == [("10.0.0.9", "db"), ("172.30.0.1", "gw"), ("::1", "v6")]
    text = etcfiles.hosts_file("bridge", extra)
    assert text.startswith("127.0.0.1\tlocalhost\n")
    assert text.endswith("10.0.0.9\tdb\n172.30.0.1\tgw\n::1\tv6\n")
    with pytest.raises(InvalidArgument, match="host-gateway"):
        etcfiles.extra_hosts(["gw:host-gateway"], "")
    with pytest.raises(InvalidArgument, match="invalid IP address"):
        etcfiles.extra_hosts(["db:nope"], "")


def test_write_and_own_line(tmp_path: Path) -> None:
    etcfiles.write_etc_files(tmp_path, "web", "bridge", host_config={"ExtraHosts": ["a:10.0.0.1"]})
    assert (tmp_path / "hostname").read_text() == "web\n"
    etcfiles.add_hosts_line(tmp_path / "hosts", "172.30.0.2", etcfiles.own_names("web", "x.test"))
    assert (tmp_path / "hosts").read_text().endswith("10.0.0.1\ta\n172.30.0.2\tweb.x.test\tweb\n")
    assert (tmp_path / "resolv.conf").read_text().startswith("nameserver ")
