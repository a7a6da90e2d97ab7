"""The HTTP/1.1 server of the Engine API (asyncio + h11; the only module that imports h11).

It owns the wire: listening sockets, keep-alive, request bodies streamed to handlers as
``Request.body`` (never buffered here: ``docker load`` sends hundreds of MB), responses
with ``Content-Length`` (bytes) or chunked transfer (async iterators, each chunk flushed
at once), the ``/v1.NN`` prefix, 404/405, errors -> ``{"message"}`` and the hijack of a
connection after ``101 UPGRADED``. Routes know nothing of any of this (``router.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import stat
from collections.abc import AsyncIterator
from email.utils import formatdate
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

import h11

from dockyard import __version__
from dockyard.errors import Conflict, InvalidArgument, NotSupported

from .errors import error_response
from .router import API_VERSION, Hijack, Request, Response, Router, json_response, split_version

if TYPE_CHECKING:
    import ssl

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
# what a response leaves unread of a request body is drained up to this much (so the
# connection can be kept alive); a larger rest closes the connection instead
DRAIN_LIMIT = 1024 * 1024
MAX_HEADER_SIZE = 64 * 1024


def common_headers() -> list[tuple[str, str]]:
    """The headers every response carries (the docker CLI reads them on ``_ping``)."""
    return [
        ("Api-Version", API_VERSION),
        ("Docker-Experimental", "false"),
        ("Ostype", "linux"),
        ("Server", f"Dockyard/{__version__} (linux)"),
        ("Date", formatdate(usegmt=True)),
    ]


class _ClientGone(Exception):
    """The peer closed the connection or reset it while we were writing."""


class _Connection:
    """One client connection: reads requests, dispatches them, writes responses."""

    def __init__(
        self, server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_SIZE)
        self.busy = False  # a request is being served (shutdown waits for those)
        self.hijacked = False
        self.broken = False  # the request could not be parsed: close after answering

    # -- reading --------------------------------------------------------------------------

    async def _next_event(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                try:
                    data = await self.reader.read(READ_SIZE)
                except ConnectionError:
                    data = b""
                self.h11.receive_data(data)
                continue
            return event

    async def _body(self) -> AsyncIterator[bytes]:
        """The request body as it arrives (Content-Length or chunked, decoded by h11)."""
        if self.h11.they_are_waiting_for_100_continue:
            await self._send(h11.InformationalResponse(status_code=100, headers=[]))
        while True:
            try:
                event = await self._next_event()
            except h11.RemoteProtocolError as e:
                self.broken = True
                raise InvalidArgument(f"malformed request body: {e}") from None
            if isinstance(event, h11.Data):
                if event.data:
                    yield bytes(event.data)
            else:  # EndOfMessage (or PAUSED after it, for an upgrade request)
                return

    async def _drain(self, body: AsyncIterator[bytes]) -> None:
        """Skip what the handler left of the body, so the next request can be read."""
        if self.h11.their_state is not h11.SEND_BODY:
            return
        left = DRAIN_LIMIT
        try:
            async for chunk in body:
                left -= len(chunk)
                if left < 0:
                    self.broken = True
                    return
        except InvalidArgument:
            self.broken = True

    # -- writing --------------------------------------------------------------------------

    async def _send(self, event: Any) -> None:
        data = self.h11.send(event)
        if data:
            self.writer.write(data)
        try:
            await self.writer.drain()
        except (ConnectionError, OSError) as e:
            raise _ClientGone(str(e)) from None

    def _head(self, response: Response, request: Request | None) -> h11.Response:
        headers = common_headers()
        if response.content_type and response.status not in (204, 304):
            headers.append(("Content-Type", response.content_type))
        headers += list(response.headers.items())
        if isinstance(response.body, bytes) and response.status not in (204, 304):
            headers.append(("Content-Length", str(len(response.body))))
        if self.broken or self.server.closing:
            headers.append(("Connection", "close"))
        return h11.Response(
            status_code=response.status, headers=_encode(headers), reason=_reason(response.status)
        )

    async def _respond(self, response: Response, request: Request | None) -> None:
        head = request is not None and request.method == "HEAD"
        await self._send(self._head(response, request))
        body = response.body
        if isinstance(body, bytes):
            if body and not head and response.status not in (204, 304):
                await self._send(h11.Data(data=body))
            await self._send(h11.EndOfMessage())
            return
        try:
            if not head:
                await self._stream(body)
        finally:
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        await self._send(h11.EndOfMessage())

    async def _stream(self, body: AsyncIterator[bytes]) -> None:
        """Send each chunk as soon as the handler yields it; stop if the client leaves.

        While the handler blocks (``wait``, ``logs -f``, ``events``) a watcher reads the
        socket: EOF means the client is gone, and the handler's generator is closed.
        """
        iterator = aiter(body)
        watcher: asyncio.Task[None] | None = None
        if self.h11.their_state is h11.DONE:
            watcher = asyncio.create_task(self._watch_eof())
        next_chunk: asyncio.Future[bytes] | None = None
        try:
            while True:
                if watcher is None:
                    chunk = await anext(iterator)
                else:
                    next_chunk = asyncio.ensure_future(anext(iterator))
                    done, _ = await asyncio.wait(
                        {next_chunk, watcher}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if next_chunk not in done:
                        raise _ClientGone("the client closed the connection")
                    chunk = next_chunk.result()
                    next_chunk = None
                if chunk:
                    await self._send(h11.Data(data=chunk))
        except StopAsyncIteration:
            return
        finally:
            # cancelling the pending step runs the handler's finally blocks (and frees
            # the generator, so the caller's aclose() can finish it)
            for task in (next_chunk, watcher):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task

    async def _watch_eof(self) -> None:
        """Return when the peer closes; bytes of a pipelined request go to h11's buffer."""
        while True:
            try:
                data = await self.reader.read(READ_SIZE)
            except ConnectionError:
                return
            if not data:
                return
            self.h11.receive_data(data)

    # -- the request loop -----------------------------------------------------------------

    async def serve(self) -> None:
        try:
            while not self.server.closing or self.busy:
                try:
                    event = await self._next_event()
                except h11.RemoteProtocolError as e:
                    await self._bad_request(e)
                    return
                if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                    return
                if not isinstance(event, h11.Request):
                    return
                self.busy = True
                try:
                    await self._handle(event)
                finally:
                    self.busy = False
                if self.hijacked or self.broken or self.server.closing:
                    return
                if self.h11.our_state is h11.MUST_CLOSE or self.h11.their_state is not h11.DONE:
                    return
                self.h11.start_next_cycle()
        except _ClientGone:
            log.debug("client went away")
        except Exception:
            log.exception("connection failed")
        finally:
            if not self.hijacked:
                self.writer.close()
                with contextlib.suppress(Exception):
                    await self.writer.wait_closed()

    async def _bad_request(self, error: h11.RemoteProtocolError) -> None:
        self.broken = True
        log.debug("malformed request: %s", error)
        if self.h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        response = json_response({"message": f"malformed HTTP request: {error}"}, 400)
        with contextlib.suppress(_ClientGone, h11.LocalProtocolError):
            await self._respond(response, None)

    async def _handle(self, event: h11.Request) -> None:
        request = _request(event, self._body())
        if _bodyless(request):
            # take the end of the (empty) body now: the connection counts as read, so a
            # streamed response can watch it for the client leaving
            request.body = _no_body()
            await self._next_event()
        context = f"{request.method} {request.path}"
        try:
            result = await self.server.dispatch(request)
        except Exception as e:
            result = error_response(e, context)
        if isinstance(result, Hijack):
            await self._hijack(request, result)
            return
        try:
            await self._respond(result, request)
        except _ClientGone:
            raise
        except Exception as e:
            if self.h11.our_state is h11.SEND_RESPONSE:
                await self._respond(error_response(e, context), request)
            else:  # the head is out already: all we can do is cut the stream
                log.exception("%s: streaming the response failed", context)
                self.broken = True
                return
        await self._drain(request.body)

    async def _hijack(self, request: Request, hijack: Hijack) -> None:
        await self._drain(request.body)
        if self.h11.their_state is h11.SEND_BODY:
            await self._respond(
                json_response({"message": "request body too large for an attach"}, 400), request
            )
            return
        upgrade = (
            "upgrade" in request.headers.get("connection", "").lower()
            and request.headers.get("upgrade", "").lower() == "tcp"
        )
        lines = ["HTTP/1.1 101 UPGRADED" if upgrade else "HTTP/1.1 200 OK"]
        lines.append(f"Content-Type: {hijack.content_type}")
        if upgrade:
            lines += ["Connection: Upgrade", "Upgrade: tcp"]
        lines += [f"{k}: {v}" for k, v in common_headers()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            await self.writer.drain()
        except (ConnectionError, OSError) as e:
            raise _ClientGone(str(e)) from None
        self.hijacked = True
        leftover, _ = self.h11.trailing_data
        reader = self.reader
        pump: asyncio.Task[None] | None = None
        if leftover:
            reader = asyncio.StreamReader()
            reader.feed_data(bytes(leftover))
            pump = asyncio.create_task(_pump(self.reader, reader))
        try:
            await hijack.run(reader, self.writer)
        except Exception:
            log.exception("%s %s: the hijacked stream failed", request.method, request.path)
        finally:
            if pump is not None:
                pump.cancel()
                with contextlib.suppress(BaseException):
                    await pump
            if not self.writer.is_closing():
                self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()


async def _pump(source: asyncio.StreamReader, target: asyncio.StreamReader) -> None:
    try:
        while data := await source.read(READ_SIZE):
            target.feed_data(data)
    except ConnectionError as e:
        target.set_exception(e)
        return
    target.feed_eof()


def _bodyless(request: Request) -> bool:
    h = request.headers
    return "transfer-encoding" not in h and h.get("content-length", "0").strip() == "0"


async def _no_body() -> AsyncIterator[bytes]:
    return
    yield  # an async generator that yields nothing


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


def _encode(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


def _request(event: h11.Request, body: AsyncIterator[bytes]) -> Request:
    target = event.target.decode("latin-1")
    raw_path, _, query = target.partition("?")
    headers: dict[str, str] = {}
    for name, value in event.headers:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return Request(
        method=event.method.decode("ascii").upper(),
        path=unquote(raw_path),
        version=None,
        query=parse_qs(query, keep_blank_values=True),
        headers=headers,
        body=body,
    )


class Server:
    """Serves one ``Router`` on any number of listening unix sockets."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.closing = False
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def dispatch(self, request: Request) -> Response | Hijack:
        """Version prefix, route match, handler call (its errors are mapped by the caller)."""
        request.version, request.path = split_version(request.path)
        found = self.router.match(request.method, request.path)
        if found is None:
            allowed = self.router.allows(request.path)
            if not allowed:
                return json_response({"message": "page not found"}, 404)
            methods = sorted(set(allowed) | ({"HEAD"} if "GET" in allowed else set()))
            response = json_response(
                {
                    "message": f"method {request.method} is not allowed on {request.path} "
                    f"(allowed: {', '.join(methods)})"
                },
                405,
            )
            response.headers["Allow"] = ", ".join(methods)
            return response
        handler, params = found
        return await handler(request, **params)

    async def add_socket(self, sock: socket.socket) -> None:
        """Serve on an already bound unix socket (``bind_unix`` makes one)."""
        server = await asyncio.start_unix_server(self._accept, sock=sock, limit=READ_SIZE)
        self._servers.append(server)

    async def add_tcp(self, address: str, port: int, tls: ssl.SSLContext) -> None:
        """Listen on ``address:port`` behind ``tls`` (the daemon requires client certs).

        The TLS is ``tlsstream``'s, not asyncio's: hijacked streams need half-close.
        """
        from functools import partial

        from .tlsstream import serve_tls

        server = await asyncio.start_server(
            partial(serve_tls, tls, self._accept), address, port, limit=READ_SIZE
        )
        self._servers.append(server)

    async def add_host(self, host: str) -> Path:
        """Listen on ``unix:///path`` (mode 0660); tcp:// hosts go through ``add_tcp``."""
        path = unix_path(host)
        await self.add_socket(bind_unix(path))
        return path

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.closing:
            writer.close()
            return
        conn = _Connection(self, reader, writer)
        self._connections.add(conn)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await conn.serve()
        finally:
            self._connections.discard(conn)
            if task is not None:
                self._tasks.discard(task)

    async def close(self, grace: float = 10.0) -> None:
        """Stop listening, close idle connections, give in-flight requests ``grace`` s."""
        self.closing = True
        for server in self._servers:
            server.close()
        for conn in list(self._connections):
            if not conn.busy and not conn.hijacked:
                conn.writer.close()
        tasks = set(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            if pending:
                log.warning("cancelling %d request(s) still running at shutdown", len(pending))
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending, timeout=2.0)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        self._servers.clear()


def unix_path(host: str) -> Path:
    """The socket path of a ``-H`` value; NotSupported for anything but unix://."""
    if host.startswith("unix://"):
        path = host[len("unix://") :]
        if not path.startswith("/"):
            raise InvalidArgument(f"invalid host {host!r}: a unix socket path must be absolute")
        return Path(path)
    if host.startswith(("tcp://", "http://", "https://")) or (":" in host and "/" not in host):
        raise NotSupported(
            f"cannot listen on {host} here: tcp hosts need TLS with client verification "
            "(dockyardd --tlsverify --tlscacert --tlscert --tlskey); use unix:///path/to/socket"
        )
    if host.startswith("fd://"):
        raise NotSupported(f"cannot listen on {host}: socket activation is not supported yet")
    raise InvalidArgument(f"invalid host {host!r}: expected unix:///path/to/socket")


def bind_unix(path: Path, *, mode: int = 0o660, gid: int | None = None) -> socket.socket:
    """A listening unix socket at ``path``, never accessible to others, even briefly.

    The socket is created under umask 0o177 (so 0600), then handed to ``gid`` and only
    then opened to ``mode``. A stale socket (nobody accepts on it) is replaced; a live
    one, or a file that is not a socket, is a Conflict.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        old = os.umask(0o177)
        try:
            sock.bind(str(path))
        finally:
            os.umask(old)
        if gid is not None:
            os.chown(path, 0 if os.geteuid() == 0 else -1, gid)
        os.chmod(path, mode)
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise
    return sock


def _remove_stale(path: Path) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise Conflict(f"cannot listen on {path}: it exists and is not a socket; remove it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(path))
    except OSError as e:
        if e.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise
        log.info("removing stale socket %s", path)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    finally:
        probe.close()
    raise Conflict(f"cannot listen on {path}: another daemon is serving on it; stop it first")


async def serve_unix(router: Router, *paths: Path) -> Server:
    """Start serving ``router`` on each unix socket path; ``await server.close()`` ends it."""
    server = Server(router)
    for path in paths:
        await server.add_socket(bind_unix(Path(path)))
    return server
