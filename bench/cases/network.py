"""Cases for container networking: a container's start on the default bridge, and TCP
throughput between two containers on one bridge.

``run --rm busybox true`` on the default bridge: dockyardd with a private bridge of its
own (``--bridge dyt… --bip 10.231.x.1/24``) against dockerd 20.10 with a private bridge
too (``Dockerd.start(bridge_ip=...)``: a ``dyt…`` bridge made for it and deleted after; no
iptables rules, no forwarding). Every start makes and removes a veth pair on each side.

Throughput: busybox ``nc`` carrying ``dd if=/dev/zero`` from one container to another on
each engine's default bridge, against the same busybox pipeline over the host's loopback
(the floor: no veth, no bridge). Traffic never leaves this machine.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from bench.cases.daemon import DOCKER_20, DOCKYARD_CLI, _failing, import_busybox
from bench.harness import Contender, Failed, case, run_command
from dockyard.testing.daemon import Daemon, own_bridge, running
from dockyard.testing.dockerd import Dockerd, DockerdUnavailable
from dockyard.testing.names import unique

STREAM_BLOCKS = 4096  # of 64 KiB: 256 MiB a round
BLOCK = 65536
PORT = 5001


@contextlib.contextmanager
def _bridged_daemon() -> Iterator[tuple[Daemon, str]]:
    """dockyardd with a default bridge of its own (removed on the way out)."""
    with own_bridge(231) as config, running(config=config) as ours:
        yield ours, config["bridge"]


def _private_dockerd() -> tuple[Dockerd | None, str]:
    """dockerd 20.10 with a private default bridge; (None, why) when it cannot start."""
    try:
        return Dockerd.start(bridge_ip=f"10.232.{secrets.randbelow(200) + 20}.1/24"), ""
    except DockerdUnavailable as e:
        return None, f"dockerd unavailable: {str(e).splitlines()[0]}"


@case("network run --rm busybox true on the default bridge")
def run_on_bridge(tmp: Path) -> Iterator[Sequence[Contender]]:
    """``<cli> run --rm <busybox> true`` with the daemon's default bridge network: a veth
    pair, an address and a route made and removed per run."""
    with _bridged_daemon() as (ours, _):
        theirs, why = _private_dockerd()
        try:
            image = import_busybox(tmp, ours, theirs)
            mine = [DOCKYARD_CLI, "-H", ours.url, "run", "--rm", image, "true"]
            contenders = [Contender("dockyard", lambda: run_command(mine))]
            if theirs is None:
                contenders.append(_failing("docker 20.10", why))
            else:
                config = tmp / "docker-config"
                config.mkdir(exist_ok=True)
                argv = [DOCKER_20, "--config", str(config), "-H", theirs.host]
                argv += ["run", "--rm", image, "true"]
                contenders.append(Contender("docker 20.10", lambda: run_command(argv)))
            yield contenders
        finally:
            if theirs is not None:
                theirs.stop()


def _stream(start_receiver: Callable[[int], None], sender: Callable[[int], list[str]]) -> float:
    """MB/s of one ``dd | nc`` stream: a fresh receiver on a fresh port (not timed), then
    the sender (the wall-clock time of the whole send)."""
    port = next(_ports)
    start_receiver(port)
    for _ in range(50):  # until the receiver listens: a refused connect fails at once
        began = time.perf_counter()
        res = subprocess.run(sender(port), capture_output=True, timeout=120, check=False)
        took = time.perf_counter() - began
        if res.returncode == 0:
            return STREAM_BLOCKS * BLOCK / took / 1e6
        time.sleep(0.05)
    raise Failed(res.stderr.decode(errors="replace").strip()[-200:] or "nc failed")


_ports = itertools.count(PORT)


def _send(target: str, port: int, nc: str = "nc") -> str:
    return f"dd if=/dev/zero bs={BLOCK} count={STREAM_BLOCKS} 2>/dev/null | {nc} {target} {port}"


def _receive(port: int, nc: str = "nc") -> str:
    # nc's stdin must stay open: an EOF there would end the connection
    return f"sleep 3600 | {nc} -l -p {port} > /dev/null"


@contextlib.contextmanager
def _bare_bridge() -> Iterator[tuple[str, str, str]]:
    """The kernel's floor for a bridged stream: two bare network namespaces on a veth pair
    each, on a bridge of their own, nothing else; (sender ns, receiver ns, its address)."""
    tag = secrets.token_hex(3)
    bridge, tx, rx = f"dytb{tag}", f"dytns-tx-{tag}", f"dytns-rx-{tag}"
    net = f"10.233.{secrets.randbelow(200) + 20}"
    steps = [
        ["ip", "link", "add", bridge, "type", "bridge"],
        ["ip", "addr", "add", f"{net}.1/24", "dev", bridge],
        ["ip", "link", "set", bridge, "up"],
    ]
    for i, ns in enumerate((tx, rx)):
        host, peer = f"dytv{tag}{i}h", f"dytv{tag}{i}c"
        steps += [
            ["ip", "netns", "add", ns],
            ["ip", "link", "add", host, "type", "veth", "peer", "name", peer],
            ["ip", "link", "set", host, "master", bridge, "up"],
            ["ip", "link", "set", peer, "netns", ns],
            ["ip", "-n", ns, "link", "set", peer, "name", "eth0"],
            ["ip", "-n", ns, "addr", "add", f"{net}.{i + 2}/24", "dev", "eth0"],
            ["ip", "-n", ns, "link", "set", "eth0", "up"],
            ["ip", "-n", ns, "link", "set", "lo", "up"],
        ]
    try:
        for step in steps:
            subprocess.run(step, capture_output=True, check=True)
        yield tx, rx, f"{net}.3"
    finally:
        for ns in (tx, rx):  # deleting a namespace deletes its veth pair
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)


@case("network TCP stream between two containers on a bridge", unit="MB/s")
def stream_on_bridge(tmp: Path) -> Iterator[Sequence[Contender]]:
    """256 MiB through busybox ``nc`` from one container to another on the daemon's
    bridge, dockyardd against dockerd 20.10 (its default 1500-byte MTU), and the same
    pipeline between two host processes over 127.0.0.1 (the floor the issue names), and
    between two bare namespaces on a 1500-MTU bridge (the kernel's cost of veth and
    bridge at Docker's MTU)."""
    with _bridged_daemon() as (ours, _), _bare_bridge() as (ns_tx, ns_rx, ns_addr):
        theirs, why = _private_dockerd()
        host_receivers: list[subprocess.Popen[bytes]] = []
        engines: list[list[str]] = [[DOCKYARD_CLI, "-H", ours.url]]
        rx, tx = unique("rx"), unique("tx")
        try:
            image = import_busybox(tmp, ours, theirs)
            if theirs is not None:
                config = tmp / "docker-config"
                config.mkdir(exist_ok=True)
                engines.append([DOCKER_20, "--config", str(config), "-H", theirs.host])
            senders = [_container_pair(cli, image, rx, tx) for cli in engines]

            def receive_on_host(port: int, netns: str = "") -> None:
                argv = ["busybox", "sh", "-c", _receive(port, "busybox nc")]
                if netns:
                    argv = ["ip", "netns", "exec", netns, *argv]
                host_receivers.append(subprocess.Popen(argv, start_new_session=True))

            def loopback(port: int) -> list[str]:
                return ["busybox", "sh", "-c", _send("127.0.0.1", port, "busybox nc")]

            def bare(port: int) -> list[str]:
                send = _send(ns_addr, port, "busybox nc")
                return ["ip", "netns", "exec", ns_tx, "busybox", "sh", "-c", send]

            contenders = [Contender("dockyard bridge", lambda: _stream(*senders[0]))]
            if theirs is None:
                contenders.append(_failing("docker 20.10 bridge", why))
            else:
                contenders.append(Contender("docker 20.10 bridge", lambda: _stream(*senders[1])))
            yield [
                *contenders,
                Contender("floor: host loopback", lambda: _stream(receive_on_host, loopback)),
                Contender(
                    "floor: bare netns on a 1500-MTU bridge",
                    lambda: _stream(lambda port: receive_on_host(port, ns_rx), bare),
                ),
            ]
        finally:
            for p in host_receivers:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
            for cli in engines:
                subprocess.run([*cli, "rm", "-f", rx, tx], capture_output=True, check=False)
            if theirs is not None:
                theirs.stop()


def _container_pair(
    cli: list[str], image: str, rx: str, tx: str
) -> tuple[Callable[[int], None], Callable[[int], list[str]]]:
    """Two containers ``rx`` and ``tx`` on the engine's default bridge; (start a receiver
    in ``rx``, the sender's argv in ``tx``) for ``_stream``."""
    for name in (rx, tx):
        run_command([*cli, "run", "-d", "--name", name, image, "sleep", "3600"], 60)
    address = subprocess.run(
        [*cli, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", rx],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip

    def receive(port: int) -> None:
        run_command([*cli, "exec", "-d", rx, "sh", "-c", _receive(port)], 60)

    def send(port: int) -> list[str]:
        return [*cli, "exec", tx, "sh", "-c", _send(address, port)]

    return receive, send
