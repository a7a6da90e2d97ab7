"""Networks end to end: ``docker network create/ls/inspect/rm/prune/connect/disconnect``,
docker-py's ``client.networks``, and containers on networks (``run``, ``--network``,
``--ip``, ``-p``) against a private dockyardd.

Each daemon's default bridge is a ``dyt…`` bridge of its own on a 10.238.x.0/24 subnet.
A bridge, veth or firewall rule is made on the host only when a container runs on a
network; the tests that do so remove the bridges at the end, and Dockyard's iptables
chains go with the daemon. Traffic only flows between this host and its containers.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import docker  # docker-py, a dev dependency
import docker.errors
import pytest

from dockyard.testing.daemon import Daemon, own_bridge, running
from dockyard.testing.names import unique
from dockyard.testing.netns import host_links, iptables_save, wait_for_http

pytestmark = pytest.mark.requires("root")


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    """A daemon whose default bridge is a test bridge (deleted at the end if made)."""
    with own_bridge(238) as config, running(config=config) as d:
        yield d


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Any]:
    c = docker.DockerClient(base_url=daemon.url, version="1.45", timeout=60)
    try:
        yield c
    finally:
        c.close()


def dockyard(daemon: Daemon, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return daemon.dockyard(*args, check=check, timeout=120)


def inspect(daemon: Daemon, name: str) -> dict[str, Any]:
    doc = json.loads(daemon.docker("network", "inspect", name).stdout)
    assert len(doc) == 1
    return doc[0]  # type: ignore[no-any-return]


def test_cli_create_ls_inspect_rm(daemon: Daemon) -> None:
    before = host_links()
    listed = daemon.docker("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}")
    assert listed.stdout.split("\n")[:3] == [
        "bridge bridge local",
        "host host local",
        "none null local",
    ]
    default = inspect(daemon, "bridge")
    [config] = default["IPAM"]["Config"]
    assert config["Subnet"].startswith("10.238.")
    assert config["Gateway"] == config["Subnet"].replace(".0/24", ".1")
    assert default["Options"]["com.docker.network.bridge.name"].startswith("dyt")

    name = unique("net")
    made = daemon.docker(
        "network", "create", "--subnet", "10.201.0.0/24", "--gateway", "10.201.0.254",
        "--ip-range", "10.201.0.128/25", "--internal", "--label", "tier=db",
        "-o", "com.docker.network.bridge.name=dyt-br-e2e", name,
    ).stdout.strip()  # fmt: skip
    assert len(made) == 64
    doc = inspect(daemon, name)
    assert doc["Id"] == made
    assert doc["Driver"] == "bridge"
    assert doc["Internal"] is True
    assert doc["Labels"] == {"tier": "db"}
    assert doc["IPAM"]["Config"] == [
        {"Subnet": "10.201.0.0/24", "Gateway": "10.201.0.254", "IPRange": "10.201.0.128/25"}
    ]
    assert doc["Options"] == {"com.docker.network.bridge.name": "dyt-br-e2e"}
    # found by id prefix too, and by filters
    assert inspect(daemon, made[:12])["Name"] == name
    custom = daemon.docker("network", "ls", "-q", "--no-trunc", "--filter", "type=custom")
    assert custom.stdout.split() == [made]
    by_label = daemon.docker("network", "ls", "--filter", "label=tier=db", "--format", "{{.Name}}")
    assert by_label.stdout.split() == [name]

    # bad input: a clear error each, nothing made
    clash = daemon.docker("network", "create", "--subnet", "10.201.0.64/26", "x1", check=False)
    assert clash.returncode != 0
    assert f"overlaps with 10.201.0.0/24 of network {name}" in clash.stderr
    dup = daemon.docker("network", "create", name, check=False)
    assert f"network with name {name} already exists" in dup.stderr
    bad = daemon.docker("network", "create", "--subnet", "10.202.0.0/24", "--gateway",
                        "10.202.0.0", "x2", check=False)  # fmt: skip
    assert "gateway 10.202.0.0 is not a host address of subnet 10.202.0.0/24" in bad.stderr
    builtin = daemon.docker("network", "rm", "host", check=False)
    assert "host is a pre-defined network and cannot be removed" in builtin.stderr
    missing = daemon.docker("network", "inspect", "nope-net", check=False)
    assert missing.returncode != 0
    assert "network nope-net not found" in missing.stderr

    assert daemon.docker("network", "rm", name).stdout.strip() == name
    assert name not in daemon.docker("network", "ls").stdout
    assert host_links() == before  # no bridge was ever made for it


def test_connect_disconnect_and_persistence(daemon: Daemon) -> None:
    name = unique("net")
    daemon.docker("network", "create", "--subnet", "10.210.0.0/24", name)
    box = unique("c")
    daemon.docker("create", "--name", box, "busybox", "true")
    other = unique("c")
    daemon.docker("create", "--name", other, "busybox", "true")
    daemon.docker("network", "connect", "--ip", "10.210.0.50", "--alias", "db", name, box)
    daemon.docker("network", "connect", name, other)
    members = inspect(daemon, name)["Containers"]
    addresses = sorted(m["IPv4Address"] for m in members.values())
    assert addresses == ["10.210.0.2/24", "10.210.0.50/24"]
    assert sorted(m["Name"] for m in members.values()) == sorted([box, other])

    again = daemon.docker("network", "connect", name, box, check=False)
    assert "already exists in network" in again.stderr
    taken = daemon.docker("create", "--name", unique("c"), "busybox", "true").stdout.strip()
    used = daemon.docker("network", "connect", "--ip", "10.210.0.50", name, taken, check=False)
    assert "address 10.210.0.50 is already in use" in used.stderr
    in_use = daemon.docker("network", "rm", name, check=False)
    assert "has active endpoints" in in_use.stderr

    # a restarted daemon keeps the network and its addresses, and hands out new ones
    daemon.stop()
    daemon.restart()
    daemon.docker("network", "connect", name, taken)
    members = inspect(daemon, name)["Containers"]
    assert members[taken]["IPv4Address"] == "10.210.0.3/24"

    daemon.docker("network", "disconnect", name, box)
    daemon.docker("rm", other, taken)  # a removed container leaves its networks
    assert inspect(daemon, name)["Containers"] == {}
    daemon.docker("rm", box)
    pruned = daemon.docker("network", "prune", "-f").stdout
    assert name in pruned
    assert name not in daemon.docker("network", "ls").stdout


def test_docker_py_networks(client: Any) -> None:
    name = unique("net")
    net = client.networks.create(name, driver="bridge", labels={"k": "v"}, internal=True)
    assert net.id in [n.id for n in client.networks.list()]
    got = client.networks.get(name)
    assert got.id == net.id
    assert got.attrs["Labels"] == {"k": "v"}
    assert got.attrs["Internal"] is True
    subnet = got.attrs["IPAM"]["Config"][0]["Subnet"]
    assert subnet.endswith(("/16", "/20"))
    assert [n.name for n in client.networks.list(names=[name])] == [name]
    assert {n.name for n in client.networks.list(filters={"type": "builtin"})} == {
        "bridge",
        "host",
        "none",
    }
    with pytest.raises(docker.errors.APIError, match="only one instance"):
        client.networks.create(unique("x"), driver="host")
    got.remove()
    with pytest.raises(docker.errors.NotFound):
        client.networks.get(name)
    assert client.networks.prune() == {"NetworksDeleted": []}


def test_dockyard_cli_prints_what_docker_prints(daemon: Daemon) -> None:
    name = unique("net")
    made = dockyard(
        daemon, "network", "create", "--subnet", "10.220.0.0/24", "--label", "a=b", name
    ).stdout.strip()
    assert inspect(daemon, name)["Id"] == made
    for args in (
        ("network", "ls"),
        ("network", "ls", "--no-trunc", "--filter", "label=a=b"),
        ("network", "ls", "-q"),
        ("network", "ls", "--format", "{{.Name}}\t{{.Internal}}\t{{.Labels}}"),
        ("network", "inspect", name, "bridge"),
        ("network", "inspect", "-f", "{{.Name}} {{.Driver}}", name),
    ):
        assert dockyard(daemon, *args).stdout == daemon.docker(*args).stdout, args
    box = unique("c")
    daemon.docker("create", "--name", box, "busybox", "true")
    dockyard(daemon, "network", "connect", "--ip", "10.220.0.9", name, box)
    assert (
        inspect(daemon, name)["Containers"][
            daemon.docker("inspect", "-f", "{{.Id}}", box).stdout.strip()
        ]["IPv4Address"]
        == "10.220.0.9/24"
    )
    busy = dockyard(daemon, "network", "rm", name, check=False)
    assert busy.returncode == 1
    assert "has active endpoints" in busy.stderr
    dockyard(daemon, "network", "disconnect", name, box)
    assert dockyard(daemon, "network", "rm", name).stdout == f"{name}\n"
    missing = dockyard(daemon, "network", "rm", name, check=False)
    assert missing.returncode == 1
    assert f"network {name} not found" in missing.stderr
    assert dockyard(daemon, "network", "rm", "-f", name).returncode == 0
    dockyard(daemon, "network", "create", name)
    assert dockyard(daemon, "network", "prune", "-f").stdout == f"Deleted Networks:\n{name}\n\n"
    daemon.docker("rm", box)


def test_connect_gives_a_running_container_an_interface(daemon: Daemon) -> None:
    """The one test here that makes links and rules on the host: a bridge, a veth, and
    Dockyard's iptables chains, all gone after disconnect, rm and daemon stop. The only
    traffic is a ping from the container to its gateway (this host)."""
    name = unique("net")
    net_id = daemon.docker("network", "create", "--subnet", "10.231.0.0/24", name).stdout
    bridge = f"dy-{net_id.strip()[:12]}"
    box = unique("c")
    daemon.docker("run", "-d", "--name", box, "busybox", "sleep", "60")
    try:
        daemon.docker("network", "connect", "--ip", "10.231.0.7", name, box)
        assert bridge in host_links()
        # eth0 is on the default bridge: the new network is eth1, without a default route
        addr = daemon.docker("exec", box, "ip", "-o", "-4", "addr", "show", "eth1").stdout
        assert "inet 10.231.0.7/24" in addr
        route = daemon.docker("exec", box, "ip", "route").stdout
        assert "10.231.0.0/24 dev eth1" in route
        assert "default via 10.231.0.1" not in route
        ping = daemon.docker("exec", box, "ping", "-c1", "-W2", "10.231.0.1", check=False)
        assert ping.returncode == 0, ping.stdout
        mac = inspect(daemon, name)["Containers"]
        assert [m["MacAddress"] for m in mac.values()] == ["02:42:0a:e7:00:07"]
        daemon.docker("network", "disconnect", name, box)
        links = daemon.docker("exec", box, "ip", "-o", "link").stdout
        assert "eth1" not in links
        assert "eth0" in links
    finally:
        daemon.docker("rm", "-f", box, check=False)
        daemon.docker("network", "rm", name, check=False)
    assert bridge not in host_links()
    daemon.stop()
    assert "DOCKYARD" not in iptables_save()


def test_containers_on_networks_with_published_ports(daemon: Daemon) -> None:
    """``run`` on the default bridge and on a user network: addresses, /etc/hosts, a
    published port reached on 127.0.0.1 (the userland proxy) and on the bridge's gateway
    (DNAT), container to container, and everything undone at stop and rm."""
    gateway = inspect(daemon, "bridge")["IPAM"]["Config"][0]["Gateway"]
    prefix = gateway.rsplit(".", 1)[0]
    web, other, a1 = unique("web"), unique("c"), unique("a")
    app = unique("net")
    try:
        daemon.docker(
            "run", "-d", "--name", web, "-p", "127.0.0.1:18181:80", "-p", "18182:80",
            "busybox", "httpd", "-f", "-p", "80", "-h", "/etc",
        )  # fmt: skip
        doc = json.loads(daemon.docker("inspect", web).stdout)[0]
        settings = doc["NetworkSettings"]
        assert settings["IPAddress"] == f"{prefix}.2"
        assert settings["Gateway"] == gateway
        assert settings["Networks"]["bridge"]["IPAddress"] == f"{prefix}.2"
        assert settings["Ports"]["80/tcp"] == [
            {"HostIp": "127.0.0.1", "HostPort": "18181"},
            {"HostIp": "0.0.0.0", "HostPort": "18182"},
        ]
        hostname = doc["Id"][:12]
        hosts = daemon.docker("exec", web, "cat", "/etc/hosts").stdout
        assert f"{prefix}.2\t{hostname}" in hosts
        ps = daemon.docker("ps", "--filter", f"name={web}", "--format", "{{.Ports}}|{{.Networks}}")
        assert ps.stdout.strip() == ("0.0.0.0:18182->80/tcp, 127.0.0.1:18181->80/tcp|bridge"), (
            ps.stdout
        )
        port = daemon.docker("port", web).stdout
        assert "80/tcp -> 127.0.0.1:18181" in port
        for url in ("http://127.0.0.1:18181/hostname", f"http://{gateway}:18182/hostname"):
            body = wait_for_http(url)
            assert body.strip() == hostname, url
        # a daemon restart: the container lives on; its rules and proxy are made again
        daemon.stop()
        assert "DOCKYARD" not in iptables_save()
        daemon.restart()
        assert wait_for_http("http://127.0.0.1:18181/hostname").strip() == hostname
        assert "DOCKYARD" in iptables_save()
        busy = daemon.docker("run", "-d", "--name", other, "-p", "127.0.0.1:18181:80",
                             "busybox", "sleep", "30", check=False)  # fmt: skip
        assert busy.returncode != 0
        assert "host port 18181/tcp is already allocated" in busy.stderr

        daemon.docker("network", "create", "--subnet", "10.237.0.0/24", app)
        daemon.docker(
            "run", "-d", "--name", a1, "--network", app, "--ip", "10.237.0.9",
            "--network-alias", "cache", "busybox", "sleep", "60",
        )  # fmt: skip
        addr = daemon.docker("exec", a1, "ip", "-o", "-4", "addr", "show", "eth0").stdout
        assert "inet 10.237.0.9/24" in addr
        ping = daemon.docker("run", "--rm", "--network", app, "busybox",
                             "ping", "-c1", "-W2", "10.237.0.9", check=False)  # fmt: skip
        assert ping.returncode == 0, ping.stdout + ping.stderr
        # the embedded DNS: names and aliases of the network's containers (known names
        # only: an unknown one would be relayed to the host's resolvers)
        for name in (a1, "cache"):
            found = daemon.docker("run", "--rm", "--network", app, "busybox", "nslookup", name)
            assert "Address: 10.237.0.9" in found.stdout, found.stdout
        resolv = daemon.docker("exec", a1, "cat", "/etc/resolv.conf").stdout
        assert resolv.startswith("nameserver 127.0.0.11\n")
        missing = daemon.docker("run", "--network", "no-such-net", "busybox", "true",
                                check=False)  # fmt: skip
        assert "network no-such-net not found" in missing.stderr

        daemon.docker("stop", "-t", "0", web)
        rules = subprocess.run(["iptables", "-t", "nat", "-S", "DOCKYARD"],
                               capture_output=True, text=True, check=False).stdout  # fmt: skip
        assert "18181" not in rules and "18182" not in rules
        assert inspect(daemon, "bridge")["Containers"] == {}  # its address is free again
    finally:
        daemon.docker("rm", "-f", web, other, a1, check=False)
        daemon.docker("network", "rm", app, check=False)
    assert not [link for link in host_links() if link.startswith("vd")]
