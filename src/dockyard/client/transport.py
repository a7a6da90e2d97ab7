"""HTTP/1.1 over the daemon's unix socket, with Docker's API version negotiation.

One short-lived connection per request (the socket is local, so that costs little and
keeps a streamed response from blocking the next call). ``http.client`` is the stdlib's
HTTP; only ``connect`` is ours, to dial an ``AF_UNIX`` socket instead of TCP.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any
from urllib.parse import quote, urlencode

from dockyard.client.errors import APIError, DaemonUnreachable, InvalidHost

DEFAULT_HOST = "unix:///run/dockyard.sock"
#: the newest Engine API this client speaks; lowered to the daemon's on the first call
API_VERSION = "1.45"
#: what Docker assumes when a daemon's /_ping has no API-Version header
FALLBACK_API_VERSION = "1.24"
CONNECT_TIMEOUT = 10.0

QueryValue = str | int | bool | Iterable[str] | None
Query = Mapping[str, QueryValue]
Body = bytes | IO[bytes] | Iterable[bytes] | None


def resolve_host(flag: str | None, environ: Mapping[str, str]) -> str:
    """The daemon address: ``-H``, then ``DOCKYARD_HOST``, ``DOCKER_HOST``, the default."""
    return flag or environ.get("DOCKYARD_HOST") or environ.get("DOCKER_HOST") or DEFAULT_HOST


def socket_path(host: str) -> str:
    """The filesystem path of a ``unix://`` host; ``InvalidHost`` for anything else."""
    if host.startswith("unix://"):
        path = host[len("unix://") :]
        if not path.startswith("/"):
            raise InvalidHost(f"invalid host {host!r}: a unix socket needs an absolute path")
        return path
    if host.startswith(("tcp://", "http://", "https://")):
        raise InvalidHost(
            f"cannot use {host}: TCP (and TLS) hosts are not supported yet; "
            "use a unix socket, e.g. -H unix:///run/dockyard.sock"
        )
    raise InvalidHost(f"invalid host {host!r}: use unix:///path/to/socket")


def version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        raise InvalidHost(f"invalid API version {version!r}") from None


def negotiate(ours: str, theirs: str | None) -> str:
    """Docker's rule: the lower of both versions; 1.24 when the daemon does not say."""
    if not theirs:
        return FALLBACK_API_VERSION
    return theirs if version_tuple(theirs) < version_tuple(ours) else ours


class UnixHTTPConnection(http.client.HTTPConnection):
    """An ``HTTPConnection`` that dials a unix socket path instead of host:port."""

    def __init__(self, path: str, timeout: float = CONNECT_TIMEOUT) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        # reads may wait as long as the daemon works (a load, a prune): no timeout
        sock.settimeout(None)
        self.sock = sock


class Response:
    """A successful response; read it whole, as JSON, as chunks or as JSON messages."""

    def __init__(self, conn: http.client.HTTPConnection, raw: http.client.HTTPResponse) -> None:
        self._conn = conn
        self._raw = raw
        self.status = raw.status
        self.headers: dict[str, str] = {k.lower(): v for k, v in raw.getheaders()}

    def read(self) -> bytes:
        try:
            return self._raw.read()
        finally:
            self.close()

    def json(self) -> Any:
        data = self.read()
        if not data.strip():
            return None
        return json.loads(data)

    def chunks(self, size: int = 64 * 1024) -> Iterator[bytes]:
        """The body as it arrives, in pieces of at most ``size`` bytes."""
        try:
            while True:
                chunk = self._raw.read1(size)
                if not chunk:
                    return
                yield chunk
        finally:
            self.close()

    def messages(self) -> Iterator[Any]:
        """A stream of JSON values (Docker's progress streams: one object per line)."""
        decoder = json.JSONDecoder()
        buf = ""
        for chunk in self.chunks():
            buf += chunk.decode("utf-8", errors="replace")
            while True:
                buf = buf.lstrip()
                if not buf:
                    break
                try:
                    obj, end = decoder.raw_decode(buf)
                except ValueError:
                    break  # an incomplete value: wait for more bytes
                yield obj
                buf = buf[end:]
        if buf.strip():
            raise APIError(self.status, f"the daemon sent malformed JSON: {buf[:80]!r}")

    def close(self) -> None:
        self._raw.close()
        self._conn.close()


class Transport:
    """Requests to one daemon; negotiates the API version on first use, like docker."""

    def __init__(self, host: str = DEFAULT_HOST, api_version: str | None = None) -> None:
        self.host = host
        self.path = socket_path(host)
        self._version = api_version
        self.server_api_version: str | None = None

    @property
    def api_version(self) -> str:
        if self._version is None:
            self._version = negotiate(API_VERSION, self.ping().get("api-version"))
        return self._version

    def ping(self) -> dict[str, str]:
        """``GET /_ping``: the daemon's headers (``API-Version``, ``OSType``, ...)."""
        resp = self.request("GET", "/_ping", versioned=False)
        resp.read()
        self.server_api_version = resp.headers.get("api-version")
        return resp.headers

    def url(self, path: str, query: Query | None = None, versioned: bool = True) -> str:
        url = f"/v{self.api_version}{path}" if versioned else path
        if query:
            pairs: list[tuple[str, str]] = []
            for key, value in query.items():
                if value is None:
                    continue
                if isinstance(value, bool):
                    pairs.append((key, "1" if value else "0"))
                elif isinstance(value, str | int):
                    pairs.append((key, str(value)))
                else:
                    pairs.extend((key, item) for item in value)
            if pairs:
                url += "?" + urlencode(pairs)
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: Body = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        versioned: bool = True,
    ) -> Response:
        """Send one request; ``APIError`` for a status >= 400, ``DaemonUnreachable``."""
        url = self.url(path, query, versioned)
        hdrs = {"User-Agent": "Dockyard-Client/0.1.0 (linux)", **(headers or {})}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        conn = UnixHTTPConnection(self.path)
        try:
            raw = self._exchange(conn, method, url, body, hdrs)
        except BaseException:
            conn.close()
            raise
        if raw.status >= 400:
            try:
                data = raw.read()
            finally:
                conn.close()
            raise APIError(raw.status, error_message(data, raw.reason))
        return Response(conn, raw)

    def _exchange(
        self,
        conn: UnixHTTPConnection,
        method: str,
        url: str,
        body: Body,
        headers: dict[str, str],
    ) -> http.client.HTTPResponse:
        try:
            conn.connect()
        except OSError as e:
            raise DaemonUnreachable(unreachable_message(self.host, e)) from e
        try:
            conn.request(method, url, body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon answered early (an error) and stopped reading: get that answer
        except OSError as e:
            raise DaemonUnreachable(f"lost the connection to {self.host}: {e}") from e
        try:
            return conn.getresponse()
        except (http.client.HTTPException, OSError) as e:
            raise DaemonUnreachable(
                f"the daemon at {self.host} closed the connection without an answer "
                f"to {method} {url}: {e}"
            ) from e


def quote_name(name: str) -> str:
    """An image or object name as a path segment (``/`` and ``:`` stay, as docker sends)."""
    return quote(name, safe="/:@")


def error_message(data: bytes, reason: str) -> str:
    text = data.decode("utf-8", errors="replace").strip()
    try:
        doc = json.loads(text)
    except ValueError:
        return text or reason
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):
        return str(doc["message"])
    return text or reason


def unreachable_message(host: str, err: OSError) -> str:
    base = f"cannot connect to the Dockyard daemon at {host}: is dockyardd running?"
    if isinstance(err, PermissionError):
        return base + " (permission denied: are you in the dockyard group?)"
    if isinstance(err, FileNotFoundError | ConnectionRefusedError):
        return base
    return f"{base} ({os.strerror(err.errno) if err.errno else err})"


class Hijacked:
    """A connection taken over after ``101 UPGRADED`` (attach): a plain socket.

    ``leftover`` holds stream bytes that arrived with the response head; ``multiplexed``
    says whether the output comes in 8-byte-header frames (no TTY) or raw.
    """

    def __init__(self, sock: socket.socket, leftover: bytes, headers: dict[str, str]) -> None:
        self.sock = sock
        self.leftover = leftover
        self.headers = headers

    @property
    def multiplexed(self) -> bool:
        return "multiplexed" in self.headers.get("content-type", "")

    def recv(self, size: int = 64 * 1024) -> bytes:
        if self.leftover:
            data, self.leftover = self.leftover, b""
            return data
        return self.sock.recv(size)

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()

    def frames(self) -> Iterator[tuple[int, bytes]]:
        """The output as (stream, data): demultiplexed frames, or stream 1 when raw."""
        if not self.multiplexed:
            while data := self.recv():
                yield 1, data
            return
        buf = b""
        while True:
            while len(buf) < 8:
                data = self.recv()
                if not data:
                    return
                buf += data
            stream, size = buf[0], int.from_bytes(buf[4:8], "big")
            while len(buf) < 8 + size:
                data = self.recv()
                if not data:
                    return
                buf += data
            yield stream, buf[8 : 8 + size]
            buf = buf[8 + size :]


def hijack_request(transport: Transport, method: str, url: str) -> Hijacked:
    """Send a bodyless request asking to upgrade, and take the connection over."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(transport.path)
        except OSError as e:
            raise DaemonUnreachable(unreachable_message(transport.host, e)) from e
        sock.settimeout(None)
        head = (
            f"{method} {url} HTTP/1.1\r\nHost: docker\r\n"
            "User-Agent: Dockyard-Client/0.1.0 (linux)\r\n"
            "Content-Type: text/plain\r\nContent-Length: 0\r\n"
            "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        )
        sock.sendall(head.encode("latin-1"))
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = sock.recv(64 * 1024)
            if not data:
                raise DaemonUnreachable(
                    f"the daemon at {transport.host} closed the connection without an "
                    f"answer to {method} {url}"
                )
            buf += data
        raw_head, _, rest = buf.partition(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status >= 400 or status == 0:
            body = rest
            length = int(headers.get("content-length", "-1") or -1)
            while length < 0 or len(body) < length:
                data = sock.recv(64 * 1024)
                if not data:
                    break
                body += data
            if headers.get("transfer-encoding") == "chunked":
                body = _dechunk(body)
            raise APIError(status, error_message(body, parts[2] if len(parts) > 2 else ""))
        return Hijacked(sock, rest, headers)
    except BaseException:
        sock.close()
        raise


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out
