"""A loopback TCP proxy that misbehaves on purpose, for registry client tests.

``FaultProxy(target_port, mode)`` listens on 127.0.0.1:<free port> and forwards to
127.0.0.1:``target_port``:

- ``"drop"``: a connection is cut once it has carried ``drop_after`` bytes from the
  server, ``drops`` times in all (then it forwards everything);
- ``"error"``: nothing is forwarded; every request gets ``500 Internal Server Error``.

``stats`` counts connections, drops, 500s and requests with a ``Range`` header.
``stop()`` closes everything. ``ForwardProxy`` is a plain HTTP forward proxy (for
``HTTP_PROXY``) to one registry. ``CannedServer`` answers every GET/HEAD with one fixed
response (a web page where a registry should be, a manifest of an unknown kind).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from typing import Literal

FaultMode = Literal["drop", "error"]


@dataclass
class FaultStats:
    connections: int = 0
    drops: int = 0
    errors: int = 0
    ranged: int = 0  # requests that carried a Range header (resumed downloads)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FaultProxy:
    def __init__(
        self, target_port: int, mode: FaultMode, *, drop_after: int = 256 * 1024, drops: int = 2
    ) -> None:
        self.target_port = target_port
        self.mode = mode
        self.drop_after = drop_after
        self.drops_left = drops
        self.stats = FaultStats()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._stopped = threading.Event()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._stopped.set()
        _close_listener(self._listener)
        for s in list(self._sockets):
            try:
                s.close()
            except OSError:
                pass
        self._thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._sockets.append(client)
            with self.stats.lock:
                self.stats.connections += 1
            handler = self._error if self.mode == "error" else self._forward
            threading.Thread(target=handler, args=(client,), daemon=True).start()

    def _error(self, client: socket.socket) -> None:
        body = b'{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}'
        answer = (
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        buf = b""
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    return
                buf += data
                while b"\r\n\r\n" in buf:
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value.strip() or 0)
                    while len(buf) < length:
                        more = client.recv(65536)
                        if not more:
                            return
                        buf += more
                    buf = buf[length:]
                    with self.stats.lock:
                        self.stats.errors += 1
                    client.sendall(answer)
        except OSError:
            pass
        finally:
            client.close()

    def _forward(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            client.close()
            return
        self._sockets.append(server)
        up = threading.Thread(target=self._pipe, args=(client, server, False), daemon=True)
        up.start()
        self._pipe(server, client, True)
        up.join(5)

    def _pipe(self, src: socket.socket, dst: socket.socket, downstream: bool) -> None:
        carried = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if not downstream and b"\r\nRange: bytes=" in data:
                    with self.stats.lock:
                        self.stats.ranged += 1
                if downstream:
                    carried += len(data)
                    if carried > self.drop_after and self._take_drop():
                        dst.sendall(data[: len(data) // 2])
                        break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def _take_drop(self) -> bool:
        with self.stats.lock:
            if self.drops_left <= 0:
                return False
            self.drops_left -= 1
            self.stats.drops += 1
            return True


class ForwardProxy:
    """An HTTP forward proxy on loopback that sends every request (and every CONNECT
    tunnel) to 127.0.0.1:``target_port`` whatever host it names (so a test can use a
    made-up registry name without any name lookup); one request per connection.
    ``seen`` lists the request targets as the client sent them."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.seen: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        _close_listener(self._listener)
        self._thread.join(5)

    def __enter__(self) -> ForwardProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        head = b""
        try:
            while b"\r\n\r\n" not in head:
                data = client.recv(65536)
                if not data:
                    client.close()
                    return
                head += data
            head, _, rest = head.partition(b"\r\n\r\n")
            request, *headers = head.decode("latin-1").split("\r\n")
            method, target, version = request.split(" ")
            self.seen.append(target)
            if method == "CONNECT":  # HTTPS: a tunnel to the registry, whatever the name
                server = socket.create_connection(("127.0.0.1", self.target_port))
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    server.sendall(rest)
                self._pipe_both(client, server)
                return
            path = "/" + target.split("://", 1)[-1].partition("/")[2]
            kept = [h for h in headers if not h.lower().startswith(("connection:", "proxy-"))]
            out = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close"])
            server = socket.create_connection(("127.0.0.1", self.target_port))
        except (OSError, ValueError):
            client.close()
            return
        server.sendall(out.encode("latin-1") + b"\r\n\r\n" + rest)
        self._pipe_both(client, server)

    def _pipe_both(self, client: socket.socket, server: socket.socket) -> None:
        up = threading.Thread(target=_copy, args=(client, server), daemon=True)
        up.start()
        _copy(server, client)
        up.join(5)


class CannedServer:
    """HTTP on 127.0.0.1:<free port> that answers every GET and HEAD with ``status``,
    ``content_type`` and ``body``; ``paths`` lists the paths asked for."""

    def __init__(self, body: bytes, content_type: str, status: int = 200) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.paths: list[str] = []
        canned = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self._answer(send_body=False)

            def do_GET(self) -> None:
                self._answer(send_body=True)

            def _answer(self, send_body: bool) -> None:
                canned.paths.append(self.path)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> CannedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _copy(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def _close_listener(listener: socket.socket) -> None:
    # close() alone does not wake a thread blocked in accept(); shutdown() does (Linux)
    try:
        listener.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    listener.close()
