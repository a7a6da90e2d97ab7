"""Containers on networks end to end: the network flags of ``dockyard run`` (``-p``,
``--ip``, ``--network-alias``, ``--hostname``, ``--domainname``, ``--mac-address``,
``--dns*``, ``--add-host``), the files they make, names resolved between containers,
``--network none`` and ``container:<name>``, isolation between bridge networks, and
nothing left behind after a failed start or a daemon restart.

Traffic flows only between this host and its containers, or between containers; the
``--dns`` addresses are written into files and never asked.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import Daemon, own_bridge, running
from dockyard.testing.names import unique
from dockyard.testing.netns import iptables_save, wait_for_http

pytestmark = pytest.mark.requires("root")


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    """A daemon whose default bridge is a test bridge (deleted at the end if made)."""
    with own_bridge(239) as config, running(config=config) as d:
        d.bridge_name = config["bridge"]  # type: ignore[attr-defined]
        yield d


def dockyard(daemon: Daemon, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return daemon.dockyard(*args, check=check, timeout=120)


def bridge_ports(bridge: str) -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show", "master", bridge],
                         capture_output=True, text=True, check=False).stdout  # fmt: skip
    return [line.split(":")[1].strip() for line in out.splitlines() if line.strip()]


def inspect(daemon: Daemon, *args: str) -> dict[str, Any]:
    doc = json.loads(daemon.docker(*args).stdout)
    assert len(doc) == 1
    return dict(doc[0])


def subnet() -> str:
    return f"10.{secrets.randbelow(20) + 180}.{secrets.randbelow(250)}"


def wget(daemon: Daemon, network: str, url: str) -> subprocess.CompletedProcess[str]:
    # busybox's own timeout (its wget -T crashes in this busybox build), under a shell:
    # as the namespace's pid 1, wget would ignore timeout's signal
    script = f"timeout 5 wget -q -O- {url}; exit $?"
    return daemon.docker("run", "--rm", "--network", network, "busybox", "sh", "-c", script,
                         check=False)  # fmt: skip


def test_run_flags_make_the_files_and_names(daemon: Daemon) -> None:
    """``dockyard run`` with every network flag: the container's address, MAC, files,
    inspect's fields; another container reaches it by name and alias; a published port
    answers on 127.0.0.1 and on the network's gateway."""
    net, web = unique("net"), unique("web")
    prefix = subnet()
    gateway = inspect(daemon, "network", "inspect", "bridge")["IPAM"]["Config"][0]["Gateway"]
    try:
        daemon.docker("network", "create", "--subnet", f"{prefix}.0/24", net)
        dockyard(
            daemon, "run", "-d", "--name", web, "--network", net, "--ip", f"{prefix}.20",
            "--network-alias", "cache", "-h", "web", "--domainname", "example.test",
            "--mac-address", "02:42:aa:bb:cc:dd", "--dns", "10.9.9.9", "--dns-search",
            "corp.test", "--dns-option", "timeout:2", "--add-host", "db.local:10.1.2.3",
            "--add-host", "gw:host-gateway", "-p", "127.0.0.1::80", "-p", "80",
            "busybox", "httpd", "-f", "-p", "80", "-h", "/etc",
        )  # fmt: skip
        link = daemon.docker("exec", web, "ip", "-o", "link", "show", "eth0").stdout
        assert "02:42:aa:bb:cc:dd" in link
        hosts = daemon.docker("exec", web, "cat", "/etc/hosts").stdout
        assert "10.1.2.3\tdb.local\n" in hosts
        assert f"{gateway}\tgw\n" in hosts
        assert f"{prefix}.20\tweb.example.test\tweb\n" in hosts
        assert daemon.docker("exec", web, "cat", "/etc/hostname").stdout == "web\n"
        resolv = daemon.docker("exec", web, "cat", "/etc/resolv.conf").stdout
        assert resolv.startswith("nameserver 127.0.0.11\n")
        assert "search corp.test\n" in resolv
        assert "options ndots:0 timeout:2\n" in resolv
        assert "ExtServers: [10.9.9.9]" in resolv  # the embedded DNS relays there
        doc = inspect(daemon, "inspect", web)
        hc = doc["HostConfig"]
        assert hc["Dns"] == ["10.9.9.9"] and hc["DnsSearch"] == ["corp.test"]
        assert hc["DnsOptions"] == ["timeout:2"]
        assert hc["ExtraHosts"] == ["db.local:10.1.2.3", "gw:host-gateway"]
        assert Path(doc["HostsPath"]).read_text() == hosts
        assert Path(doc["ResolvConfPath"]).read_text() == resolv
        assert Path(doc["HostnamePath"]).read_text() == "web\n"
        assert doc["Config"]["Hostname"] == "web"
        assert doc["Config"]["Domainname"] == "example.test"
        assert "80/tcp" in doc["Config"]["ExposedPorts"]
        assert doc["NetworkSettings"]["Networks"][net]["MacAddress"] == "02:42:aa:bb:cc:dd"
        # names, aliases and the short id, from another container on the network
        for name in (web, "cache", doc["Id"][:12]):
            got = wget(daemon, net, f"http://{name}/hostname")
            assert got.stdout == "web\n", (name, got.stderr)
        # the published ports: the proxy on 127.0.0.1, DNAT on the network's gateway
        ports = doc["NetworkSettings"]["Ports"]["80/tcp"]
        local = next(p for p in ports if p["HostIp"] == "127.0.0.1")["HostPort"]
        wild = next(p for p in ports if p["HostIp"] == "0.0.0.0")["HostPort"]
        assert wait_for_http(f"http://127.0.0.1:{local}/hostname") == "web\n"
        assert wait_for_http(f"http://{prefix}.1:{wild}/hostname") == "web\n"
        # the default bridge: --dns is the resolver itself
        out = dockyard(daemon, "run", "--rm", "--dns", "10.9.9.8", "--dns-search", ".",
                       "busybox", "cat", "/etc/resolv.conf").stdout  # fmt: skip
        assert out.splitlines()[0] == "nameserver 10.9.9.8"
        assert "search" not in out
    finally:
        daemon.docker("rm", "-f", web, check=False)
        daemon.docker("network", "rm", net, check=False)
    assert f"{prefix}.0/24" not in iptables_save()


def test_bad_flags_are_refused_before_anything_is_made(daemon: Daemon) -> None:
    for args, words in (
        (("-p", "80:80:80:80"), "too many colons"),
        (("-p", "99999"), "invalid port"),
        (("--dns", "not-an-ip"), "not an ip address"),
        (("--add-host", "nohost"), "bad format for add-host"),
        (("--mac-address", "zz:42"), "not a valid mac address"),
    ):
        res = dockyard(daemon, "run", "--rm", *args, "busybox", "true", check=False)
        assert res.returncode == 125, (args, res.stderr)
        assert words in res.stderr, (args, res.stderr)
    assert daemon.docker("ps", "-aq").stdout == ""


def test_none_and_container_modes(daemon: Daemon) -> None:
    """``--network none`` has only loopback; ``container:<name>`` shares the other's
    interfaces, hostname and files; a stopped one cannot be joined."""
    box, joiner, stopped = unique("box"), unique("j"), unique("s")
    try:
        links = daemon.docker("run", "--rm", "--network", "none", "busybox",
                              "ip", "-o", "link").stdout  # fmt: skip
        assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]
        daemon.docker("run", "-d", "--name", box, "--add-host", "x.test:10.3.3.3",
                      "busybox", "sleep", "60")  # fmt: skip
        mine = daemon.docker("exec", box, "ip", "-o", "-4", "addr").stdout
        shared = daemon.docker("run", "--rm", "--network", f"container:{box}", "busybox",
                               "ip", "-o", "-4", "addr").stdout  # fmt: skip
        assert shared == mine and "eth0" in mine
        files = daemon.docker("run", "--rm", "--network", f"container:{box}", "busybox",
                              "sh", "-c", "hostname; cat /etc/hosts").stdout  # fmt: skip
        box_doc = inspect(daemon, "inspect", box)
        assert files.splitlines()[0] == box_doc["Id"][:12]
        assert "10.3.3.3\tx.test" in files
        daemon.docker("create", "--name", joiner, "--network", f"container:{box}",
                      "busybox", "true")  # fmt: skip
        doc = inspect(daemon, "inspect", joiner)
        assert doc["HostConfig"]["NetworkMode"] == f"container:{box_doc['Id']}"
        assert doc["HostsPath"] == box_doc["HostsPath"]
        clash = daemon.docker("create", "--network", f"container:{box}", "-p", "80",
                              "busybox", "true", check=False)  # fmt: skip
        assert "conflicting options" in clash.stderr
        daemon.docker("create", "--name", stopped, "busybox", "true")
        refused = daemon.docker("run", "--rm", "--network", f"container:{stopped}",
                                "busybox", "true", check=False)  # fmt: skip
        assert refused.returncode != 0
        assert "non running container" in refused.stderr
        missing = daemon.docker("run", "--rm", "--network", "container:no-such-box",
                                "busybox", "true", check=False)  # fmt: skip
        assert "no-such-box" in missing.stderr
    finally:
        daemon.docker("rm", "-f", box, joiner, stopped, check=False)


def test_bridge_networks_are_isolated(daemon: Daemon) -> None:
    """A container on one bridge network reaches its own network's containers, not
    those of another bridge network."""
    one, two, web = unique("n1"), unique("n2"), unique("web")
    p1, p2 = subnet(), subnet()
    while p2 == p1:
        p2 = subnet()
    try:
        daemon.docker("network", "create", "--subnet", f"{p1}.0/24", one)
        daemon.docker("network", "create", "--subnet", f"{p2}.0/24", two)
        daemon.docker("run", "-d", "--name", web, "--network", one, "--ip", f"{p1}.5",
                      "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")  # fmt: skip
        near = wget(daemon, one, f"http://{p1}.5/hostname")
        assert near.returncode == 0, near.stderr
        far = wget(daemon, two, f"http://{p1}.5/hostname")
        assert far.returncode != 0 and far.stdout == ""
        rules = iptables_save()
        assert "DOCKYARD-ISOLATION-2" in rules
    finally:
        daemon.docker("rm", "-f", web, check=False)
        daemon.docker("network", "rm", one, two, check=False)
    rules = iptables_save()
    assert f"{p1}.0/24" not in rules and f"{p2}.0/24" not in rules


def test_failed_start_and_restart_leave_nothing(daemon: Daemon) -> None:
    """A port in use: a clear error, and no link, rule or endpoint left; after ``rm`` and
    a daemon restart with no containers, none of the daemon's rules remain."""
    bridge = daemon.bridge_name  # type: ignore[attr-defined]
    name, ok = unique("c"), unique("ok")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = dockyard(daemon, "run", "--name", name, "-p", f"127.0.0.1:{port}:80",
                       "busybox", "true", check=False)  # fmt: skip
    assert res.returncode != 0
    assert f"127.0.0.1:{port}" in res.stderr and "in use" in res.stderr, res.stderr
    assert bridge_ports(bridge) == []
    assert f"--dport {port} " not in iptables_save()
    doc = inspect(daemon, "network", "inspect", "bridge")
    assert doc["Containers"] == {}
    daemon.docker("rm", name)
    daemon.docker("run", "-d", "--name", ok, "-p", "80", "busybox", "sleep", "60")
    assert len(bridge_ports(bridge)) == 1
    gateway = doc["IPAM"]["Config"][0]["Gateway"]
    assert f"-o {bridge} " in iptables_save()
    daemon.docker("rm", "-f", ok)
    assert bridge_ports(bridge) == []
    assert "DNAT" not in "\n".join(
        line for line in iptables_save().splitlines() if gateway.rsplit(".", 1)[0] in line
    )
    daemon.stop()
    daemon.restart()
    daemon.docker("ps")
    daemon.stop()
    assert f"-o {bridge} " not in iptables_save()


def test_daemon_wide_dns() -> None:
    """``dns`` in daemon.json: every container's resolver unless ``--dns`` says otherwise
    (the addresses are only written, never asked)."""
    d = Daemon.start(config={"dns": ["10.9.9.7", "10.9.9.6"]})
    try:
        out = d.docker("run", "--rm", "busybox", "cat", "/etc/resolv.conf").stdout
        assert [line for line in out.splitlines() if line.startswith("nameserver")] == [
            "nameserver 10.9.9.7",
            "nameserver 10.9.9.6",
        ]
        out = d.docker("run", "--rm", "--dns", "10.9.9.5", "busybox", "cat",
                       "/etc/resolv.conf").stdout  # fmt: skip
        assert out.splitlines()[0] == "nameserver 10.9.9.5"
        d.stop()
    finally:
        d.cleanup()


def _in_container(daemon: Daemon, name: str, *argv: str) -> str:
    """``argv`` (the host's ``ip``) in the network namespace of container ``name``."""
    pid = daemon.docker("inspect", "-f", "{{.State.Pid}}", name).stdout.strip()
    return subprocess.run(["nsenter", "-t", pid, "-n", *argv],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip


def _uplink_mtu() -> int:
    """The MTU of the device of the host's default route (1500 without one)."""
    out = subprocess.run(["ip", "-o", "route", "show", "default"],
                         capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    if "dev" not in out:
        return 1500
    return int(Path(f"/sys/class/net/{out[out.index('dev') + 1]}/mtu").read_text())


def test_mtu_of_links_and_routes(daemon: Daemon) -> None:
    """Without an MTU option the links take 65535 and the default route the uplink's MTU;
    ``-o com.docker.network.driver.mtu`` and the daemon's ``--mtu`` set the links' MTU (no
    route MTU then); a malformed MTU is refused and makes nothing."""
    fast, given = unique("fast"), unique("mtu")
    a, b, c = unique("a"), unique("b"), unique("c")
    daemon.docker("network", "create", "--subnet", f"{subnet()}.0/24", fast)
    daemon.docker("network", "create", "--subnet", f"{subnet()}.0/24",
                  "-o", "com.docker.network.driver.mtu=1400", given)  # fmt: skip
    for name, net in ((a, fast), (b, fast), (c, given)):
        daemon.docker("run", "-d", "--name", name, "--network", net, "busybox", "sleep", "60")
    assert "mtu 65535 " in _in_container(daemon, a, "ip", "-o", "link", "show", "eth0")
    assert f"mtu {_uplink_mtu()}" in _in_container(daemon, a, "ip", "route", "show", "default")
    bridge = "dy-" + inspect(daemon, "network", "inspect", fast)["Id"][:12]
    link = subprocess.run(["ip", "-o", "link", "show", bridge],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "mtu 65535 " in link
    assert "mtu 1400 " in _in_container(daemon, c, "ip", "-o", "link", "show", "eth0")
    assert "mtu" not in _in_container(daemon, c, "ip", "route", "show", "default")
    # 4 MiB in 64 KiB writes crosses the bridge whole
    template = f'{{{{(index .NetworkSettings.Networks "{fast}").IPAddress}}}}'
    address = daemon.docker("inspect", "-f", template, b).stdout.strip()
    daemon.docker("exec", "-d", b, "sh", "-c", "sleep 30 | nc -l -p 5000 | wc -c > /tmp/got")
    send = f"dd if=/dev/zero bs=65536 count=64 2>/dev/null | nc {address} 5000"
    for _ in range(50):  # until the receiver listens
        if daemon.docker("exec", a, "sh", "-c", send, check=False).returncode == 0:
            break
    got = ""
    for _ in range(50):
        got = daemon.docker("exec", b, "cat", "/tmp/got", check=False).stdout.strip()
        if got:
            break
        time.sleep(0.1)
    assert got == str(64 * 65536)
    bad = daemon.docker("network", "create", "-o", "com.docker.network.driver.mtu=big",
                        unique("bad"), check=False)  # fmt: skip
    assert bad.returncode != 0 and "68 to 65535" in bad.stderr, bad.stderr
    assert len(daemon.docker("network", "ls", "-q").stdout.split()) == 5  # 3 predefined
    daemon.docker("rm", "-f", a, b, c)
    daemon.docker("network", "rm", fast, given)
    # the daemon's --mtu is the default bridge's
    refused = daemon.run("--mtu", "70000", timeout=30)
    assert refused.returncode != 0 and "68 to 65535" in refused.stderr, refused.stderr
    daemon.stop()
    daemon.restart("--mtu", "1450")
    daemon.docker("run", "-d", "--name", a, "busybox", "sleep", "60")
    assert "mtu 1450 " in _in_container(daemon, a, "ip", "-o", "link", "show", "eth0")
    options = inspect(daemon, "network", "inspect", "bridge")["Options"]
    assert options["com.docker.network.driver.mtu"] == "1450"
    daemon.docker("rm", "-f", a)
