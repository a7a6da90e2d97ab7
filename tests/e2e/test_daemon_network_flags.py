"""dockerd's network flags on dockyardd: ``--iptables=false`` (no rules: published ports
through the userland proxy only), ``--ip`` (the default address of ``-p``), ``--icc=false``
and ``--ip-masq=false`` on the default bridge, and their network options
(``com.docker.network.bridge.enable_icc`` ...) on user networks.

Traffic only flows between this host and its containers, or between containers.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from dockyard.testing.daemon import own_bridge, running
from dockyard.testing.names import unique
from dockyard.testing.netns import iptables_save, wait_for_http

pytestmark = pytest.mark.requires("root", "nft")

HTTPD = ["busybox", "sh", "-c", "trap 'exit 0' TERM; httpd -f -p 80 -h /etc & wait"]


def nft_tables() -> str:
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def test_no_iptables_and_a_default_host_address() -> None:
    web = unique("web")
    with own_bridge(227) as config, running("--iptables=false", "--ip", "127.0.0.1",
                                           config=config) as d:  # fmt: skip
        d.docker("run", "-d", "--name", web, "-p", "18391:80", *HTTPD)
        ports = json.loads(d.docker("inspect", web).stdout)[0]["NetworkSettings"]["Ports"]
        assert ports["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": "18391"}]
        assert wait_for_http("http://127.0.0.1:18391/hostname").strip()
        assert "DOCKYARD" not in iptables_save()
        assert "dockyard" not in nft_tables()
        options = json.loads(d.docker("network", "inspect", "bridge").stdout)[0]["Options"]
        assert options["com.docker.network.bridge.host_binding_ipv4"] == "127.0.0.1"
        d.docker("rm", "-f", web)


def test_icc_and_masquerade_off() -> None:
    a, b, c, d_ = unique("a"), unique("b"), unique("c"), unique("d")
    with own_bridge(226) as config, running("--icc=false", "--ip-masq=false",
                                           config=config) as d:  # fmt: skip
        for name in (a, b):
            d.docker("run", "-d", "--name", name, "busybox", "sleep", "60")
        doc = json.loads(d.docker("inspect", b).stdout)[0]["NetworkSettings"]
        ping = d.docker("exec", a, "ping", "-c1", "-W1", doc["IPAddress"], check=False)
        assert ping.returncode != 0  # containers of the bridge do not reach each other
        ping = d.docker("exec", a, "ping", "-c1", "-W1", doc["Gateway"], check=False)
        assert ping.returncode == 0, ping.stdout  # the host does
        subnet = json.loads(d.docker("network", "inspect", "bridge").stdout)[0]
        subnet = subnet["IPAM"]["Config"][0]["Subnet"]
        rules = iptables_save()
        assert f"-i {config['bridge']} -o {config['bridge']} -j DROP" in rules
        assert not [r for r in rules.splitlines() if subnet in r and "MASQUERADE" in r]
        # the same through a user network's options
        net = unique("net")
        d.docker("network", "create", "--subnet", "10.225.3.0/24",
                 "-o", "com.docker.network.bridge.enable_icc=false", net)  # fmt: skip
        for name, ip in ((c, "10.225.3.7"), (d_, "10.225.3.8")):
            d.docker("run", "-d", "--name", name, "--network", net, "--ip", ip,
                     "busybox", "sleep", "60")  # fmt: skip
        ping = d.docker("exec", c, "ping", "-c1", "-W1", "10.225.3.8", check=False)
        assert ping.returncode != 0
        assert any("10.225.3.0/24" in r and "MASQUERADE" in r for r in iptables_save().splitlines())
        bad = d.docker("network", "create", "-o", "com.docker.network.bridge.enable_icc=maybe",
                       unique("bad"), check=False)  # fmt: skip
        assert bad.returncode != 0 and "use true or false" in bad.stderr
        d.docker("rm", "-f", a, b, c, d_)
        d.docker("network", "rm", net)
