"""The firewall backends end to end: a daemon with ``--firewall-backend nftables`` puts
its NAT and filter rules in ``table ip dockyard`` (none in iptables), publishes ports
through it, lets containers of a network reach each other and removes the table when it
stops; a host with neither iptables nor nft gets a clear error and no bridge or veth.

Traffic only flows between this host and its containers.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from dockyard.testing.daemon import Daemon, own_bridge
from dockyard.testing.names import unique
from dockyard.testing.netns import host_links, iptables_save, wait_for_http

pytestmark = pytest.mark.requires("root", "nft")


@pytest.fixture
def bridge_config() -> Iterator[dict[str, str]]:
    with own_bridge(236) as config:
        yield config


def nft_table() -> str:
    """Our nftables table as ``nft list`` prints it ("" when there is none)."""
    res = subprocess.run(["nft", "list", "table", "ip", "dockyard"],
                         capture_output=True, text=True, check=False)  # fmt: skip
    return res.stdout if res.returncode == 0 else ""


def test_nftables_backend(bridge_config: dict[str, str]) -> None:
    d = Daemon.start("--firewall-backend", "nftables", config=bridge_config)
    web, peer, net = unique("web"), unique("peer"), unique("net")
    try:
        d.docker("run", "-d", "--name", web, "-p", "127.0.0.1:18281:80", "-p", "18282:80",
                 "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")  # fmt: skip
        doc = json.loads(d.docker("inspect", web).stdout)[0]
        gateway = doc["NetworkSettings"]["Gateway"]
        hostname = doc["Id"][:12]
        table = nft_table()
        assert "dport 18282" in table and doc["NetworkSettings"]["IPAddress"] in table
        assert "masquerade" in table
        assert "DOCKYARD" not in iptables_save()
        # DNAT on the gateway address (nft), the userland proxy on loopback
        for url in (f"http://{gateway}:18282/hostname", "http://127.0.0.1:18281/hostname"):
            assert wait_for_http(url).strip() == hostname, url
        # two containers of a user network reach each other; the network is in the table
        d.docker("network", "create", "--subnet", "10.235.7.0/24", net)
        d.docker("run", "-d", "--name", peer, "--network", net, "--ip", "10.235.7.9",
                 "busybox", "sleep", "60")  # fmt: skip
        ping = d.docker("run", "--rm", "--network", net, "busybox",
                        "ping", "-c1", "-W2", "10.235.7.9", check=False)  # fmt: skip
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert "10.235.7.0/24" in nft_table()
        d.docker("rm", "-f", web)
        assert "dport 18282" not in nft_table()
        d.docker("rm", "-f", peer)
        d.docker("network", "rm", net)
        d.stop()
        assert nft_table() == ""
    finally:
        d.cleanup()
        subprocess.run(["nft", "delete", "table", "ip", "dockyard"],
                       capture_output=True, check=False)  # fmt: skip


def test_a_host_without_iptables_or_nft(bridge_config: dict[str, str]) -> None:
    """The daemon in a mount namespace of its own where /usr/sbin (and so /sbin) is an
    empty tmpfs: a bridge container fails with what to install, nothing is made, and
    ``--network none`` still runs."""
    d = Daemon.prepare(config=bridge_config)
    hide = 'mount -t tmpfs hidden /usr/sbin && exec "$@"'
    d.prefix = ("unshare", "-m", "--propagation", "private", "sh", "-c", hide, "sh")
    try:
        d.launch()
        d.wait_ready()
        before = host_links()
        res = d.docker("run", "--rm", "busybox", "true", check=False)
        assert res.returncode != 0
        assert "neither iptables nor nftables is installed" in res.stderr, res.stderr
        assert "apt-get install iptables" in res.stderr
        assert host_links() == before
        assert bridge_config["bridge"] not in host_links()
        assert d.docker("ps", "-aq").stdout == ""  # --rm: the failed container is gone
        ok = d.docker("run", "--rm", "--network", "none", "busybox", "echo", "fine")
        assert ok.stdout == "fine\n"
        d.stop()
    finally:
        d.cleanup()
