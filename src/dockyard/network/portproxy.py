"""The userland proxy of published ports: it listens on ``host_ip:host_port`` in the
daemon and relays each TCP connection or UDP flow to ``container_ip:container_port``.

DNAT (``firewall.py``) does not see connections to 127.0.0.1 (they never leave the
loopback path), so this proxy is what makes ``curl 127.0.0.1:8080`` work, as Docker's
docker-proxy does. Binding the port also reserves it: a port already in use on the host
is a Conflict before any rule exists. Asyncio, in the daemon's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from dataclasses import dataclass, field
from typing import cast

from dockyard.errors import Conflict, SystemFault

log = logging.getLogger(__name__)

UDP_IDLE_SECONDS = 60.0
_CHUNK = 65536


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


@dataclass
class _TcpProxy:
    target: tuple[str, int]
    server: asyncio.Server | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        try:
            try:
                up_r, up_w = await asyncio.open_connection(*self.target)
            except OSError as e:
                log.debug("proxy: connect %s:%d: %s", *self.target, e)
                return
            try:
                await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer))
            finally:
                up_w.close()
        finally:
            writer.close()
            if task is not None:
                self.tasks.discard(task)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(BaseException):
                await task
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)


class _UdpFlow(asyncio.DatagramProtocol):
    """The container side of one client's flow: replies go back to that client."""

    def __init__(self, front: _UdpFront, client: tuple[str, int]) -> None:
        self.front = front
        self.client = client
        self.transport: asyncio.DatagramTransport | None = None
        self.idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # the selector loop's datagram transport is not a DatagramTransport subclass
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.front.transport is not None:
            self.front.transport.sendto(data, self.client)
        self.touch()

    def touch(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
        loop = asyncio.get_running_loop()
        self.idle = loop.call_later(UDP_IDLE_SECONDS, self.close)

    def close(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
        if self.transport is not None:
            self.transport.close()
        self.front.flows.pop(self.client, None)


class _UdpFront(asyncio.DatagramProtocol):
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[tuple[str, int], _UdpFlow] = {}
        self.pending: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # the selector loop's datagram transport is not a DatagramTransport subclass
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        flow = self.flows.get(addr)
        if flow is not None and flow.transport is not None:
            flow.transport.sendto(data)
            flow.touch()
            return
        task = asyncio.get_running_loop().create_task(self._open(addr, data))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _open(self, client: tuple[str, int], first: bytes) -> None:
        loop = asyncio.get_running_loop()
        flow = _UdpFlow(self, client)
        try:
            await loop.create_datagram_endpoint(lambda: flow, remote_addr=self.target)
        except OSError as e:
            log.debug("proxy: udp to %s:%d: %s", *self.target, e)
            return
        self.flows[client] = flow
        assert flow.transport is not None
        flow.transport.sendto(first)
        flow.touch()

    def close(self) -> None:
        for flow in list(self.flows.values()):
            flow.close()
        for task in self.pending:
            task.cancel()
        if self.transport is not None:
            self.transport.close()


def _bind_error(proto: str, host_ip: str, host_port: int, e: OSError) -> Exception:
    where = f"{host_ip or '0.0.0.0'}:{host_port}/{proto}"
    if e.errno == errno.EADDRINUSE:
        return Conflict(
            f"cannot publish {where}: the port is already in use on the host; "
            "choose another host port"
        )
    return SystemFault(f"cannot publish {where}: {e.strerror}")


class PortProxy:
    """One listening port relaying to one container port; ``close()`` stops it."""

    def __init__(self, proto: str, host_ip: str, host_port: int, target: tuple[str, int]):
        self.proto = proto
        self.host_ip = host_ip or "0.0.0.0"
        self.host_port = host_port
        self.target = target
        self._tcp: _TcpProxy | None = None
        self._udp: _UdpFront | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        log.debug(
            "proxy: %s %s:%d -> %s:%d", self.proto, self.host_ip, self.host_port, *self.target
        )
        try:
            if self.proto == "tcp":
                self._tcp = _TcpProxy(self.target)
                self._tcp.server = await asyncio.start_server(
                    self._tcp.handle, self.host_ip, self.host_port, reuse_address=True
                )
            elif self.proto == "udp":
                front = _UdpFront(self.target)
                family = socket.AF_INET6 if ":" in self.host_ip else socket.AF_INET
                await loop.create_datagram_endpoint(
                    lambda: front, local_addr=(self.host_ip, self.host_port), family=family
                )
                self._udp = front
            else:
                raise Conflict(f"the userland proxy cannot relay {self.proto}")
        except OSError as e:
            raise _bind_error(self.proto, self.host_ip, self.host_port, e) from e

    async def close(self) -> None:
        if self._tcp is not None:
            await self._tcp.close()
            self._tcp = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None
