"""Throw-away network namespaces for tests: a process holds each one until ``close()``.

Use only inside a forked child that has its own network namespace already
(``testing.fork.in_child`` + ``unshare(CLONE_NEWNET)``), so nothing a test does reaches
the host's interfaces or firewall. Commands run inside with ``nsenter --net``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from dockyard.kernel import namespaces
from dockyard.kernel.net import link_up
from dockyard.network import bridge
from dockyard.testing.fork import in_child

T = TypeVar("T")

# a TCP server that answers each connection with the client's address, then exits
PEER_SERVER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", int(sys.argv[1])))
s.listen()
print("ready", flush=True)
c, peer = s.accept()
c.sendall(peer[0].encode())
c.close()
"""

# a UDP server that sends each datagram back with the sender's address in front
UDP_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", int(sys.argv[1])))
print("ready", flush=True)
data, peer = s.recvfrom(2048)
s.sendto(peer[0].encode() + b" " + data, peer)
"""

# connect, print what the server sent; exit 1 on failure
TCP_CLIENT = """
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])) as c:
        print(c.recv(200).decode())
except OSError as e:
    print(e, file=sys.stderr)
    sys.exit(1)
"""


class Netns:
    """A fresh network namespace (loopback up), held by a child process."""

    def __init__(self) -> None:
        ready_r, ready_w = os.pipe()
        hold_r, hold_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            os.close(hold_w)
            try:
                namespaces.unshare(namespaces.CLONE_NEWNET)
                link_up("lo")
                os.write(ready_w, b"x")
                os.read(hold_r, 1)  # until the parent closes its end
            finally:
                os._exit(0)
        os.close(ready_w)
        os.close(hold_r)
        if os.read(ready_r, 1) != b"x":
            raise RuntimeError("the namespace holder died")
        os.close(ready_r)
        self.pid = pid
        self._hold = hold_w
        self.path = f"/proc/{pid}/ns/net"

    def argv(self, argv: Sequence[str]) -> list[str]:
        return ["nsenter", f"--net={self.path}", *argv]

    def run(self, *argv: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(argv), capture_output=True, text=True, timeout=timeout, check=False
        )

    def serve(self, script: str, port: int) -> subprocess.Popen[str]:
        """Run a Python server ``script`` inside; returns once it printed "ready"."""
        proc = subprocess.Popen(
            self.argv([sys.executable, "-c", script, str(port)]),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            proc.kill()
            proc.wait()
            raise RuntimeError(f"server in {self.path} did not start")
        return proc

    def connect(self, host: str, port: int, timeout: float = 3) -> str | None:
        """What a TCP server at host:port sends, seen from inside; None if unreachable."""
        done = self.run(sys.executable, "-c", TCP_CLIENT, host, str(port), str(timeout))
        return done.stdout.strip() if done.returncode == 0 else None

    def close(self) -> None:
        os.close(self._hold)
        os.waitpid(self.pid, 0)

    def __enter__(self) -> Netns:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def in_own_netns(fn: Callable[[], T], timeout: float = 60) -> T:
    """``fn()`` in a forked child with a network namespace of its own (loopback up)."""

    def child() -> T:
        namespaces.unshare(namespaces.CLONE_NEWNET)
        link_up("lo")
        return fn()

    return in_child(child, timeout=timeout)


def on_bridge(name: str, prefix: str, ns: Netns, host: int = 2) -> bridge.Endpoint:
    """Bridge ``name`` with gateway ``prefix.1``/24 (made if missing), and ``ns`` on it
    as ``prefix.host``."""
    bridge.ensure_bridge(name, f"{prefix}.1", 24)
    return bridge.attach(name, ns.path, f"{prefix}.{host}", 24, f"{prefix}.1")


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def wait_until(check: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def host_links() -> set[str]:
    """The names of the host's network interfaces (``/proc/net/dev``)."""
    with open("/proc/net/dev") as f:
        return {line.split(":")[0].strip() for line in f.readlines()[2:]}


def iptables_save() -> str:
    """The rules of the current network namespace as ``iptables-save`` prints them."""
    return subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout


def wait_for_http(url: str, timeout: float = 5.0) -> str:
    """The body of a GET of ``url``, retried until it answers (a container's server may
    not listen yet) or ``timeout`` passed (then the last error is raised)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as res:
                return str(res.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
