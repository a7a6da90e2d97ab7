"""HTTP/1.1 over the daemon's unix socket, with Docker's API version negotiation.

One short-lived connection per request (the socket is local, so that costs little and
keeps a streamed response from blocking the next call), dialed by ``Transport.dial``
(the unix socket, or TLS over TCP) and spoken by ``http1.py`` (not ``http.client``: its
import alone costs the CLI about 20 ms).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Iterator, Mapping

from dockyard._internal import fastjson
from dockyard.client import http1
from dockyard.client.errors import APIError, DaemonUnreachable, InvalidHost
from dockyard.client.tls import TLSOptions, dial_tcp, is_tcp

DEFAULT_HOST = "unix:///run/dockyard.sock"
#: the newest Engine API this client speaks; lowered to the daemon's on the first call
API_VERSION = "1.45"
#: what Docker assumes when a daemon's /_ping has no API-Version header
FALLBACK_API_VERSION = "1.24"
CONNECT_TIMEOUT = 10.0

TYPE_CHECKING = False
if TYPE_CHECKING:  # (``typing`` costs the CLI 3 ms at import)
    from typing import IO, Any, TypeAlias

    QueryValue: TypeAlias = str | int | bool | Iterable[str] | None
    Query: TypeAlias = Mapping[str, QueryValue]
    Body: TypeAlias = bytes | IO[bytes] | Iterable[bytes] | None

#: what a URL keeps as is (RFC 3986 unreserved), as ``urllib.parse.quote``
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


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
            f"cannot use {host} as a unix socket: a TCP host needs TLS (--tlsverify ...)"
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


class Response:
    """A successful response; read it whole, as JSON, as chunks or as JSON messages."""

    def __init__(self, raw: http1.Response) -> None:
        self._raw = raw
        self.status = raw.status
        self.headers = raw.headers

    def read(self) -> bytes:
        try:
            return self._raw.read()
        except http1.ProtocolError as e:
            raise DaemonUnreachable(f"the daemon's answer broke off: {e}") from e
        finally:
            self.close()

    def json(self) -> Any:
        data = self.read()
        if not data.strip():
            return None
        return fastjson.loads(data)

    def chunks(self, size: int = 64 * 1024) -> Iterator[bytes]:
        """The body as it arrives, in pieces of at most ``size`` bytes."""
        try:
            while True:
                try:
                    chunk = self._raw.read1(size)
                except http1.ProtocolError as e:
                    raise DaemonUnreachable(f"the daemon's answer broke off: {e}") from e
                if not chunk:
                    return
                yield chunk
        finally:
            self.close()

    def messages(self) -> Iterator[Any]:
        """A stream of JSON values (Docker's progress streams: one object per line)."""
        import json  # streams only: json (with re) costs the CLI 5 ms at import

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
        self._raw.sock.close()


class Transport:
    """Requests to one daemon; negotiates the API version on first use, like docker."""

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        api_version: str | None = None,
        tls: TLSOptions | None = None,
    ) -> None:
        self.host = host
        self.tls = tls
        self.path = "" if is_tcp(host) else socket_path(host)
        self._version = api_version
        self.server_api_version: str | None = None

    def dial(self, timeout: float = CONNECT_TIMEOUT) -> socket.socket:
        """A connected socket: TLS over TCP for tcp:// hosts, else the unix socket."""
        if self.path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(self.path)
            except BaseException:
                sock.close()
                raise
            sock.settimeout(None)
            return sock
        return dial_tcp(self.host, self.tls, timeout)

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
                url += "?" + "&".join(f"{_quote(k, plus=True)}={_quote(v, plus=True)}"
                                      for k, v in pairs)  # fmt: skip
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
            body = fastjson.dumps(json_body, compact=False).encode()
            hdrs["Content-Type"] = "application/json"
        raw = self.exchange(method, url, body, hdrs)
        if raw.status >= 400:
            try:
                data = raw.read()
            except http1.ProtocolError:
                data = b""
            finally:
                raw.sock.close()
            raise APIError(raw.status, error_message(data, raw.reason))
        return Response(raw)

    def exchange(
        self, method: str, url: str, body: Body, headers: Mapping[str, str]
    ) -> http1.Response:
        """Connect, send the request, read the answer's head (any status)."""
        try:
            sock = self.dial()
        except OSError as e:
            raise DaemonUnreachable(unreachable_message(self.host, e)) from e
        try:
            try:
                http1.send_request(sock, method, url, headers, body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the daemon answered early (an error) and stopped reading
            except OSError as e:
                raise DaemonUnreachable(f"lost the connection to {self.host}: {e}") from e
            try:
                return http1.Response(sock, method)
            except OSError as e:  # http1.ProtocolError included
                raise DaemonUnreachable(
                    f"the daemon at {self.host} closed the connection without an answer "
                    f"to {method} {url}: {e}"
                ) from e
        except BaseException:
            sock.close()
            raise


def quote_name(name: str) -> str:
    """An image or object name as a path segment (``/`` and ``:`` stay, as docker sends)."""
    return _quote(name, safe="/:@")


def _quote(text: str, safe: str = "", plus: bool = False) -> str:
    """Percent-encode ``text`` as UTF-8, as ``urllib.parse.quote`` (``plus``: as
    ``quote_plus``, a space becoming ``+``), without importing ``urllib``."""
    out = []
    for ch in text:
        if ch in _UNRESERVED or ch in safe:
            out.append(ch)
        elif ch == " " and plus:
            out.append("+")
        else:
            out.extend(f"%{b:02X}" for b in ch.encode())
    return "".join(out)


def error_message(data: bytes, reason: str) -> str:
    text = data.decode("utf-8", errors="replace").strip()
    try:
        doc = fastjson.loads(text)
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
        if hasattr(self.sock, "unwrap"):
            # TLS: shutdown() would drop the TLS layer and leave the socket reading raw
            # records, and the stdlib cannot send close_notify without waiting for the
            # daemon's; so no half-close: the stream still ends when the container does.
            return
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


def hijack_request(transport: Transport, method: str, url: str, body: bytes = b"") -> Hijacked:
    """Send a request (a JSON ``body``, or none) asking to upgrade, and take the connection
    over."""
    headers = {
        "User-Agent": "Dockyard-Client/0.1.0 (linux)",
        "Content-Type": "application/json" if body else "text/plain",
        "Connection": "Upgrade",
        "Upgrade": "tcp",
    }
    raw = transport.exchange(method, url, body if body else None, headers)
    try:
        if raw.status >= 400:
            try:
                data = raw.read()
            except http1.ProtocolError:
                data = b""
            raise APIError(raw.status, error_message(data, raw.reason))
        return Hijacked(raw.sock, raw.leftover(), raw.headers)
    except BaseException:
        raw.sock.close()
        raise
