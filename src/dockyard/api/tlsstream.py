"""TLS for the TCP listeners, with the half-close that docker's hijacked streams need.

asyncio's own TLS transport ends the whole connection when the peer sends TLS
``close_notify``; the docker CLI sends exactly that (Go's ``tls.Conn.CloseWrite``) right
after an attach or ``exec`` starts when it has no stdin to send, and then waits for the
output. So the TLS is done here with an ``ssl.SSLObject`` over memory BIOs: the handshake
first (client certificates are checked there), then a pump between the TCP connection
and one end of a unix socket pair whose other end the HTTP server serves like any unix
client. The peer's ``close_notify`` (or its FIN) becomes a write shutdown of the pair,
which the server reads as an end of input while it keeps writing; the server's end of
output becomes our ``close_notify``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
HANDSHAKE_TIMEOUT = 10.0

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class _Tls:
    def __init__(
        self, ctx: ssl.SSLContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.reader = reader
        self.writer = writer

    async def flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def fill(self) -> bool:
        """More TLS bytes from the peer; False at the end of the TCP stream."""
        data = await self.reader.read(READ_SIZE)
        if not data:
            self.incoming.write_eof()
            return False
        self.incoming.write(data)
        return True

    async def handshake(self) -> None:
        while True:
            try:
                self.obj.do_handshake()
            except ssl.SSLWantReadError:
                await self.flush()
                if not await self.fill():
                    raise ConnectionError("the peer left during the TLS handshake") from None
                continue
            await self.flush()
            return

    async def to_plain(self, plain: asyncio.StreamWriter) -> None:
        """Decrypt the peer's bytes into ``plain`` until close_notify or EOF, then half-close."""
        try:
            while True:
                try:
                    data = self.obj.read(READ_SIZE)
                except ssl.SSLWantReadError:
                    await self.flush()  # TLS 1.3 may answer key updates or tickets
                    if not await self.fill():
                        break
                    continue
                except ssl.SSLZeroReturnError:
                    break  # close_notify: the peer is done writing, not reading
                if not data:
                    break
                plain.write(data)
                await plain.drain()
        except (ssl.SSLError, ConnectionError, OSError) as e:
            log.debug("tls: reading from the client failed: %s", e)
        finally:
            with contextlib.suppress(Exception):
                if plain.can_write_eof():
                    plain.write_eof()

    async def from_plain(self, plain: asyncio.StreamReader) -> None:
        """Encrypt what the server writes to the peer; close_notify when it is done."""
        try:
            while data := await plain.read(READ_SIZE):
                self.obj.write(data)
                await self.flush()
            with contextlib.suppress(ssl.SSLError):
                self.obj.unwrap()
            await self.flush()
        except ssl.SSLWantReadError:
            with contextlib.suppress(Exception):
                await self.flush()
        except (ssl.SSLError, ConnectionError, OSError) as e:
            log.debug("tls: writing to the client failed: %s", e)


async def serve_tls(
    ctx: ssl.SSLContext,
    serve: Serve,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    """One TCP connection: handshake, then ``serve`` on the plain side of a socket pair."""
    peer = writer.get_extra_info("peername")
    tls = _Tls(ctx, reader, writer)
    try:
        await asyncio.wait_for(tls.handshake(), HANDSHAKE_TIMEOUT)
    except (ssl.SSLError, ConnectionError, OSError, TimeoutError) as e:
        log.info("tls: handshake with %s failed: %s", peer, e)
        with contextlib.suppress(Exception):
            await tls.flush()  # the alert that tells the client why
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        return
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        plain_reader, plain_writer = await asyncio.open_unix_connection(sock=ours)
        server_reader, server_writer = await asyncio.open_unix_connection(sock=theirs)
    except BaseException:
        ours.close()
        theirs.close()
        raise
    pumps = [
        asyncio.ensure_future(tls.to_plain(plain_writer)),
        asyncio.ensure_future(tls.from_plain(plain_reader)),
    ]
    try:
        await serve(server_reader, server_writer)
        # the server closed its side: send what it wrote, then close_notify
        await pumps[1]
    finally:
        for task in pumps:
            if not task.done():
                task.cancel()
            with contextlib.suppress(BaseException):
                await task
        for w in (plain_writer, server_writer, writer):
            w.close()
            with contextlib.suppress(Exception):
                await w.wait_closed()
