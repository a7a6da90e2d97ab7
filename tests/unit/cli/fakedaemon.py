"""A canned Engine API on a temporary unix socket: ``http.server`` in a thread."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

Route = Callable[["Request"], tuple[int, Any] | tuple[int, Any, dict[str, str]]]


class Request:
    def __init__(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.body = body


class FakeDaemon:
    """Routes by (method, unversioned path); records every request."""

    def __init__(self, api_version: str = "1.45") -> None:
        self.api_version = api_version
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[tuple[str, str, dict[str, list[str]], bytes]] = []

    def route(self, method: str, path: str, status: int = 200, body: Any = None) -> None:
        self.routes[(method, path)] = lambda req: (status, body)

    def handle(self, method: str, raw_path: str, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        parts = urlsplit(raw_path)
        path = parts.path
        versioned = path.startswith("/v1.")
        if versioned:
            path = "/" + path.split("/", 2)[2]
        self.requests.append((method, parts.path, parse_qs(parts.query), body))
        headers = {"API-Version": self.api_version, "Content-Type": "application/json"}
        if path == "/_ping":
            return 200, b"OK", {**headers, "Content-Type": "text/plain"}
        route = self.routes.get((method, path))
        if route is None:
            return 404, json.dumps({"message": f"page not found: {path}"}).encode(), headers
        result = route(Request(method, path, parse_qs(parts.query), body))
        status, doc = result[0], result[1]
        if len(result) == 3:
            headers.update(result[2])  # type: ignore[misc]
        data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        return status, data, headers


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hangs up early (as the CLI does after an error answer) is normal
        # here; socketserver would print a traceback into the output the tests compare
        pass


def _handler(fake: FakeDaemon) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = b""
                while True:
                    size = int(self.rfile.readline().strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _serve(self) -> None:
            status, data, headers = fake.handle(self.command, self.path, self._body())
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_HEAD = _serve

        def address_string(self) -> str:
            return "unix"

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve(fake: FakeDaemon, tmp: Path) -> Iterator[str]:
    """The fake on ``tmp/fake.sock``; yields its ``unix://`` host."""
    sock = tmp / "fake.sock"
    server = _Server(str(sock), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"unix://{sock}"
    finally:
        server.shutdown()
        server.server_close()
