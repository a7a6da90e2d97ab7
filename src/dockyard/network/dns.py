"""The embedded DNS server of user-defined networks: one UDP socket per container at
127.0.0.11:53 inside the container's network namespace, served by the daemon's loop.

A query for a name the network knows (a container's name, its aliases, its short id)
gets the container's IPv4 address; other queries are relayed to the host's resolvers
from the daemon's own namespace (where loopback resolvers answer too), as Docker's
resolver does. Only A queries are answered locally; AAAA of a known name is an empty
answer, so clients fall back to A.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from dockyard.errors import SystemFault

from .bridge import in_netns

log = logging.getLogger(__name__)

ADDRESS = "127.0.0.11"
PORT = 53
TYPE_A = 1
TYPE_AAAA = 28
CLASS_IN = 1
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3
UPSTREAM_TIMEOUT = 3.0
TTL = 600

Lookup = Callable[[str], list[str]]  # a name -> the IPv4 addresses it has ([] unknown)


@dataclass(frozen=True)
class Question:
    id: int
    flags: int
    name: str  # lower case, no trailing dot
    qtype: int
    qclass: int
    end: int  # offset after the question: where answers go


def parse_query(data: bytes) -> Question:
    """The first question of a DNS query; ValueError if it is not one."""
    if len(data) < 12:
        raise ValueError("short DNS message")
    ident, flags, qdcount = struct.unpack("!HHH", data[:6])
    if flags & 0x8000 or qdcount < 1:
        raise ValueError("not a query")
    labels = []
    pos = 12
    while True:
        if pos >= len(data):
            raise ValueError("truncated name")
        length = data[pos]
        pos += 1
        if length == 0:
            break
        if length & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(data[pos : pos + length].decode("ascii", "replace"))
        pos += length
    if pos + 4 > len(data):
        raise ValueError("truncated question")
    qtype, qclass = struct.unpack("!HH", data[pos : pos + 4])
    return Question(ident, flags, ".".join(labels).lower(), qtype, qclass, pos + 4)


def build_answer(query: bytes, q: Question, addresses: Sequence[str], rcode: int = 0) -> bytes:
    """The response to ``query``: its question, then an A record per address."""
    flags = 0x8000 | 0x0400 | (q.flags & 0x0100) | 0x0080 | rcode  # QR AA RD RA
    header = struct.pack("!HHHHHH", q.id, flags, 1, len(addresses), 0, 0)
    out = bytearray(header + query[12 : q.end])
    for addr in addresses:
        # a pointer to the name in the question (offset 12)
        out += struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL, 4)
        out += ipaddress.IPv4Address(addr).packed
    return bytes(out)


def host_resolvers(text: str) -> list[str]:
    """The ``nameserver`` addresses of a resolv.conf."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            out.append(fields[1])
    return out


class _Resolver(asyncio.DatagramProtocol):
    def __init__(self, lookup: Lookup, upstream: Sequence[str]) -> None:
        self.lookup = lookup
        self.upstream = list(upstream)
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            q = parse_query(data)
        except ValueError as e:
            log.debug("dns: dropping a malformed query from %s: %s", addr, e)
            return
        found = self.lookup(q.name) if q.qclass == CLASS_IN else []
        if found and self.transport is not None:
            answers = found if q.qtype == TYPE_A else []
            self.transport.sendto(build_answer(data, q, answers), addr)
            return
        task = asyncio.get_running_loop().create_task(self._relay(data, q, addr))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _relay(self, data: bytes, q: Question, client: tuple[str, int]) -> None:
        reply = None
        for server in self.upstream:
            reply = await _ask(server, data)
            if reply is not None:
                break
        if reply is None:
            reply = build_answer(data, q, [], RCODE_SERVFAIL)
        if self.transport is not None:
            self.transport.sendto(reply, client)

    def close(self) -> None:
        for task in self.pending:
            task.cancel()
        if self.transport is not None:
            self.transport.close()


async def _ask(server: str, data: bytes) -> bytes | None:
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[bytes] = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, got: bytes, addr: tuple[str, int]) -> None:
            if not reply.done():
                reply.set_result(got)

    try:
        transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=(server, PORT))
    except OSError:
        return None
    try:
        transport.sendto(data)
        return await asyncio.wait_for(reply, UPSTREAM_TIMEOUT)
    except (TimeoutError, OSError):
        return None
    finally:
        transport.close()


class DnsServer:
    """The resolver of one container: bound inside its namespace, served here."""

    def __init__(self, netns: str, lookup: Lookup, upstream: Sequence[str]) -> None:
        self.netns = netns
        self._protocol = _Resolver(lookup, upstream)

    async def start(self) -> None:
        sock = await asyncio.to_thread(in_netns, self.netns, _bound_socket)
        loop = asyncio.get_running_loop()
        log.debug("dns: serving %s:%d in %s", ADDRESS, PORT, self.netns)
        await loop.create_datagram_endpoint(lambda: self._protocol, sock=sock)

    def close(self) -> None:
        self._protocol.close()


def _bound_socket() -> socket.socket:
    # made in the container's namespace (the calling thread joined it): it stays there
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((ADDRESS, PORT))
    except OSError as e:
        s.close()
        raise SystemFault(f"embedded DNS: bind {ADDRESS}:{PORT}: {e.strerror}") from e
    s.setblocking(False)
    return s
