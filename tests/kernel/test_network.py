"""The bridge driver against the real kernel: links, addresses, routes, iptables rules and
the userland proxy. Each test runs in a forked child inside a network namespace of its
own, with further namespaces standing in for containers: the host's interfaces and
firewall are never touched, and no packet leaves those namespaces.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess

import pytest

from dockyard.errors import Conflict, SystemFault
from dockyard.network import bridge
from dockyard.network.dns import DnsServer
from dockyard.network.firewall import BridgeNetwork, Firewall, PublishedPort
from dockyard.network.portproxy import PortProxy
from dockyard.testing.netns import PEER_SERVER, UDP_ECHO, Netns, in_own_netns, iptables_save, stop
from dockyard.testing.netns import on_bridge as _network

pytestmark = pytest.mark.requires("root", "ns-net", "busybox")


def test_bridge_connects_two_namespaces_and_leaves_nothing() -> None:
    def work() -> dict[str, object]:
        seen: dict[str, object] = {}
        with Netns() as a, Netns() as b:
            seen["created"] = bridge.ensure_bridge("dyt-br0", "10.77.0.1", 24)
            seen["again"] = bridge.ensure_bridge("dyt-br0", "10.77.0.1", 24)
            ea = bridge.attach("dyt-br0", a.path, "10.77.0.2", 24, "10.77.0.1")
            eb = bridge.attach("dyt-br0", b.path, "10.77.0.3", 24, "10.77.0.1")
            seen["inside"] = sorted(bridge.list_links(a.path))
            seen["link"] = a.run("busybox", "ip", "-o", "link", "show", "eth0").stdout
            seen["route"] = a.run("busybox", "ip", "route").stdout
            seen["ping"] = a.run("busybox", "ping", "-c1", "-W2", "10.77.0.3").returncode
            seen["host_ping"] = subprocess.run(
                ["busybox", "ping", "-c1", "-W2", "10.77.0.2"], capture_output=True, check=False
            ).returncode
            server = b.serve(PEER_SERVER, 7000)
            try:
                seen["tcp"] = a.connect("10.77.0.3", 7000)
            finally:
                stop(server)
            seen["host_links"] = bridge.list_links()
            seen["detached"] = (bridge.detach(ea), bridge.detach(eb), bridge.detach(ea))
            seen["after_detach"] = sorted(bridge.list_links(a.path))
            bridge.delete_link("dyt-br0")
            seen["after"] = sorted(bridge.list_links())
        return seen

    seen = in_own_netns(work)
    assert seen["created"] is True
    assert seen["again"] is False
    assert seen["inside"] == ["eth0", "lo"]
    assert "02:42:0a:4d:00:02" in str(seen["link"])
    assert "default via 10.77.0.1 dev eth0" in str(seen["route"])
    assert seen["ping"] == 0
    assert seen["host_ping"] == 0
    assert seen["tcp"] == "10.77.0.2"  # the peer saw the container's own address
    assert len([n for n in seen["host_links"] if str(n).startswith("vd")]) == 2  # type: ignore[attr-defined]
    assert seen["detached"] == (True, True, False)
    assert seen["after_detach"] == ["lo"]
    assert seen["after"] == ["lo"]


def test_failed_attach_leaves_no_veth_behind() -> None:
    def work() -> tuple[str, list[str]]:
        bridge.ensure_bridge("dyt-br0", "10.77.0.1", 24)
        try:
            bridge.attach("dyt-br0", "/proc/999999999/ns/net", "10.77.0.2", 24, "10.77.0.1")
        except SystemFault as e:
            message = str(e)
        else:
            message = "attached?"
        with Netns() as a:
            first = bridge.attach("dyt-br0", a.path, "10.77.0.2", 24, "10.77.0.1")
            # a second eth0 in the same namespace is refused, and its veth removed
            try:
                bridge.attach("dyt-br0", a.path, "10.77.0.3", 24, "10.77.0.1")
            except Conflict as e:
                message += " | " + str(e)
            bridge.detach(first)
        links = sorted(bridge.list_links())
        bridge.delete_link("dyt-br0")
        return message, links

    message, links = in_own_netns(work)
    assert "open network namespace /proc/999999999/ns/net" in message
    assert "already has an interface eth0" in message
    assert links == ["dyt-br0", "lo"]


def test_published_port_masquerade_and_internal_network() -> None:
    def work() -> dict[str, object]:
        seen: dict[str, object] = {}
        fw = Firewall()
        fw.setup()
        with Netns() as web, Netns() as outside, Netns() as sealed:
            _network("dyt-br1", "10.78.0", web)
            _network("dyt-out", "10.99.0", outside)
            _network("dyt-br2", "10.79.0", sealed)
            fw.add_network(BridgeNetwork("dyt-br1", "10.78.0.0/24"))
            fw.add_network(BridgeNetwork("dyt-br1", "10.78.0.0/24"))  # idempotent
            fw.add_network(BridgeNetwork("dyt-br2", "10.79.0.0/24", internal=True))
            port = PublishedPort("dyt-br1", "tcp", "", 8080, "10.78.0.2", 80)
            fw.add_port(port)
            seen["nat"] = fw.rules("nat", "DOCKYARD")
            seen["postrouting"] = fw.rules("nat", "DOCKYARD-POSTROUTING")
            # the host (this namespace) reaches the container through the DNAT rule
            server = web.serve(PEER_SERVER, 80)
            with socket.create_connection(("10.78.0.1", 8080), timeout=3) as c:
                seen["dnat"] = c.recv(100).decode()
            stop(server)
            # outbound: the outside peer sees the masqueraded source, not 10.78.0.2
            server = outside.serve(PEER_SERVER, 9000)
            seen["masq"] = web.connect("10.99.0.2", 9000)
            # an internal network reaches nothing outside it
            seen["sealed"] = sealed.connect("10.99.0.2", 9000, timeout=1)
            stop(server)
            fw.remove_port(port)
            seen["nat_after"] = fw.rules("nat", "DOCKYARD")
            try:
                socket.create_connection(("10.78.0.1", 8080), timeout=1).close()
                seen["after_remove"] = "connected"
            except OSError:
                seen["after_remove"] = "refused"
            fw.remove_network(BridgeNetwork("dyt-br2", "10.79.0.0/24", internal=True))
            fw.remove_network(BridgeNetwork("dyt-br1", "10.78.0.0/24"))
            seen["forward_after"] = fw.rules("filter", "DOCKYARD-FORWARD")
        fw.setup()  # a daemon restart: chains are flushed and jumps not doubled
        seen["restart"] = iptables_save().count("-j DOCKYARD-FORWARD")
        fw.cleanup()
        seen["saved"] = iptables_save()
        for name in ("dyt-br1", "dyt-br2", "dyt-out"):
            bridge.delete_link(name)
        return seen

    seen = in_own_netns(work)
    nat = [str(r) for r in seen["nat"]]  # type: ignore[attr-defined]
    assert len(nat) == 1
    assert "--dport 8080" in nat[0]
    assert "--to-destination 10.78.0.2:80" in nat[0]
    assert any("MASQUERADE" in str(r) for r in seen["postrouting"])  # type: ignore[attr-defined]
    assert seen["dnat"] == "10.78.0.1"
    assert seen["masq"] == "10.99.0.1"
    assert seen["sealed"] is None
    assert seen["nat_after"] == []
    assert seen["after_remove"] == "refused"
    assert seen["forward_after"] == []
    assert seen["restart"] == 1
    assert "DOCKYARD" not in str(seen["saved"])


def test_userland_proxy_relays_loopback_tcp_and_udp() -> None:
    def work() -> dict[str, object]:
        seen: dict[str, object] = {}
        with Netns() as web:
            _network("dyt-br3", "10.80.0", web)
            tcp_server = web.serve(PEER_SERVER, 80)
            udp_server = web.serve(UDP_ECHO, 53)

            async def main() -> None:
                tcp = PortProxy("tcp", "127.0.0.1", 18080, ("10.80.0.2", 80))
                udp = PortProxy("udp", "127.0.0.1", 18053, ("10.80.0.2", 53))
                await tcp.start()
                await udp.start()
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", 18080)
                    seen["tcp"] = (await asyncio.wait_for(reader.read(100), 5)).decode()
                    writer.close()
                    loop = asyncio.get_running_loop()
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    s.setblocking(False)
                    await loop.sock_connect(s, ("127.0.0.1", 18053))
                    await loop.sock_sendall(s, b"ping")
                    seen["udp"] = (await asyncio.wait_for(loop.sock_recv(s, 100), 5)).decode()
                    s.close()
                    # the port is taken now: a second proxy on it is a Conflict
                    try:
                        await PortProxy("tcp", "127.0.0.1", 18080, ("10.80.0.2", 80)).start()
                    except Conflict as e:
                        seen["in_use"] = str(e)
                finally:
                    await tcp.close()
                    await udp.close()
                # closed: the port is free again
                probe = socket.socket()
                # (a server's options: the relayed connection may linger in TIME_WAIT)
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(("127.0.0.1", 18080))
                probe.close()
                seen["freed"] = True

            try:
                asyncio.run(main())
            finally:
                stop(tcp_server)
                stop(udp_server)
            bridge.delete_link("dyt-br3")
        return seen

    seen = in_own_netns(work)
    assert seen["tcp"] == "10.80.0.1"  # the proxy connects from the bridge's address
    assert seen["udp"] == "10.80.0.1 ping"
    assert "already in use" in str(seen["in_use"])
    assert seen["freed"] is True


def test_embedded_dns_answers_inside_the_namespace() -> None:
    def work() -> dict[str, object]:
        seen: dict[str, object] = {}
        with Netns() as box:
            known = {"web": ["10.81.0.7"], "db": ["10.81.0.8", "10.81.0.9"]}

            async def main() -> None:
                server = DnsServer(box.path, lambda name: known.get(name, []), upstream=[])
                await server.start()
                try:
                    for name in ("web", "DB", "nope"):
                        proc = await asyncio.create_subprocess_exec(
                            *box.argv(["busybox", "nslookup", name, "127.0.0.11"]),
                            stdout=asyncio.subprocess.PIPE,
                            stderr=asyncio.subprocess.STDOUT,
                        )
                        out, _ = await asyncio.wait_for(proc.communicate(), 10)
                        seen[name] = (proc.returncode, out.decode())
                finally:
                    server.close()

            asyncio.run(main())
            # the socket lived in the box: this namespace has nothing on 127.0.0.11:53
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            probe.bind(("127.0.0.11", 53))
            probe.close()
        return seen

    seen = in_own_netns(work)
    code, out = seen["web"]  # type: ignore[misc]
    assert code == 0 and "Address: 10.81.0.7" in out
    code, out = seen["DB"]  # type: ignore[misc]
    assert code == 0 and "10.81.0.8" in out and "10.81.0.9" in out
    code, out = seen["nope"]  # type: ignore[misc]
    assert code != 0 or "10.81" not in out  # SERVFAIL: no upstream in this test
