"""HTTP/1.1 to registries on the stdlib: one connection pool per endpoint, retries.

``Transport.request`` sends one request and answers a ``Response`` whose body the
caller reads (or ``close``s); a fully read body gives the connection back to the pool.
Connection resets, refused connections and 5xx answers are retried with exponential
back-off (``RetryPolicy``) when the request body can be sent again; the last answer or
error is then handed up. Redirects (301/302/303/307/308) are followed, to another host
too (without our ``Authorization``: it belongs to the registry, not to a blob store).
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol
from urllib.parse import urljoin, urlsplit

from dockyard._internal import lazylog

from .errors import RegistryUnavailable
from .hosts import Endpoint, RegistryHosts, split_host_port

log = lazylog.getLogger(__name__)


class Stream(Protocol):
    """A request body read in pieces (a file, a counting wrapper)."""

    def read(self, n: int = -1, /) -> bytes: ...


Body = bytes | BinaryIO | Stream | Iterable[bytes] | None
RETRY_STATUS = frozenset({500, 502, 503, 504})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
NETWORK_ERRORS = (ConnectionError, http.client.HTTPException, socket.timeout, ssl.SSLError)
MAX_IDLE = 4
USER_AGENT = "dockyard/0.1"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # tries in all, the first included
    base_delay: float = 0.2
    max_delay: float = 5.0
    timeout: float = 60.0  # socket timeout of one read or connect

    def delay(self, attempt: int) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 1)."""
        return float(min(self.max_delay, self.base_delay * (2 ** (attempt - 1))))


class Response:
    """A response whose body is still on the wire."""

    def __init__(
        self, raw: http.client.HTTPResponse, release: Callable[[bool], None], url: str
    ) -> None:
        self.raw = raw
        self.status = raw.status
        self.headers = raw.headers
        self.url = url
        self._release = release
        self._done = False

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    def read(self, n: int = -1, /) -> bytes:
        data = self.raw.read() if n < 0 else self.raw.read(n)
        if n < 0 or not data:
            self._finish(True)
        return data

    def close(self) -> None:
        """Drop the body: the connection is closed unless the body was all read."""
        self._finish(self.raw.isclosed())

    def _finish(self, reusable: bool) -> None:
        if not self._done:
            self._done = True
            self._release(reusable and not self.raw.will_close)

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Pool:
    """Idle connections of one endpoint."""

    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.idle: list[http.client.HTTPConnection] = []
        self.lock = threading.Lock()

    def get(self) -> http.client.HTTPConnection:
        with self.lock:
            if self.idle:
                return self.idle.pop()
        return self._new()

    def put(self, conn: http.client.HTTPConnection, reusable: bool) -> None:
        if reusable:
            with self.lock:
                if len(self.idle) < MAX_IDLE:
                    self.idle.append(conn)
                    return
        conn.close()

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()

    def _new(self) -> http.client.HTTPConnection:
        ep = self.endpoint
        proxy = ep.proxy
        conn: http.client.HTTPConnection
        if ep.secure:
            target = (proxy.host, proxy.port) if proxy else (ep.host, ep.port)
            conn = http.client.HTTPSConnection(
                *target, timeout=self.timeout, context=ep.ssl_context
            )
            if proxy is not None:
                headers = _proxy_auth(proxy.auth)
                conn.set_tunnel(ep.host, ep.port, headers=headers)
        elif proxy is not None:
            conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=self.timeout)
        else:
            conn = http.client.HTTPConnection(ep.host, ep.port, timeout=self.timeout)
        return conn


def _proxy_auth(auth: str | None) -> dict[str, str]:
    if not auth:
        return {}
    return {"Proxy-Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}


def _replayable(body: Body) -> bool:
    if body is None or isinstance(body, bytes | bytearray):
        return True
    seekable = getattr(body, "seekable", None)
    return bool(seekable and seekable())


class Transport:
    """Pools and retries for every endpoint; thread-safe."""

    def __init__(
        self,
        hosts: RegistryHosts,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.hosts = hosts
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self._pools: dict[Endpoint, _Pool] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    def _pool(self, endpoint: Endpoint) -> _Pool:
        with self._lock:
            pool = self._pools.get(endpoint)
            if pool is None:
                pool = self._pools[endpoint] = _Pool(endpoint, self.retry.timeout)
            return pool

    def request(
        self,
        endpoint: Endpoint,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        *,
        retry: bool = True,
    ) -> Response:
        """Send ``method url`` (a path or an absolute URL) with retries and redirects."""
        hops = 0
        while True:
            response = self._with_retries(endpoint, method, url, headers or {}, body, retry)
            if response.status not in REDIRECTS or hops >= 5:
                return response
            location = response.header("Location")
            response.close()
            if not location:
                return response
            hops += 1
            url = urljoin(f"{endpoint.base_url}{_path_of(url)}", location)
            parts = urlsplit(url)
            if parts.netloc != endpoint.netloc or parts.scheme != endpoint.scheme:
                endpoint = self._foreign(parts.scheme, parts.netloc, endpoint)
                headers = {k: v for k, v in (headers or {}).items() if k != "Authorization"}
            if response.status == 303:
                method, body = "GET", None

    def _foreign(self, scheme: str, netloc: str, origin: Endpoint) -> Endpoint:
        secure = scheme == "https"
        host, port = split_host_port(netloc, 443 if secure else 80)
        base = self.hosts.endpoint(netloc) if secure else origin
        return Endpoint(netloc, host, port, secure, base.ssl_context if secure else None)

    def _with_retries(
        self,
        endpoint: Endpoint,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body,
        retry: bool,
    ) -> Response:
        attempts = self.retry.attempts if retry and _replayable(body) else 1
        rewind: Any = body if hasattr(body, "seek") and _replayable(body) else None
        start = rewind.tell() if rewind is not None else 0
        for attempt in range(1, attempts + 1):
            if attempt > 1 and rewind is not None:
                rewind.seek(start)
            try:
                response = self._send(endpoint, method, url, headers, body)
            except socket.gaierror as e:  # a name lookup failure does not heal by retrying
                where = endpoint.proxy.host if endpoint.proxy else endpoint.host
                raise RegistryUnavailable(
                    f"cannot resolve {where}: {e.strerror or e}: check the registry name "
                    "(host[:port]) and the DNS or proxy settings"
                ) from e
            except NETWORK_ERRORS as e:
                if attempt == attempts:
                    raise RegistryUnavailable(
                        f"cannot reach {endpoint.netloc}: {e or type(e).__name__} "
                        f"(after {attempt} tries): check that the registry is up"
                    ) from e
                log.debug("%s %s: %s; retrying", method, url, e)
            else:
                if response.status not in RETRY_STATUS or attempt == attempts:
                    return response
                log.debug("%s %s: status %s; retrying", method, url, response.status)
                response.read()  # drain so the connection can be reused
            self.sleep(self.retry.delay(attempt))
        raise AssertionError("unreachable")

    def _send(
        self,
        endpoint: Endpoint,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body,
    ) -> Response:
        pool = self._pool(endpoint)
        conn = pool.get()
        target = _path_of(url)
        if endpoint.proxy is not None and not endpoint.secure:
            target = endpoint.base_url + target  # absolute form for a plain HTTP proxy
        all_headers = {"User-Agent": USER_AGENT, "Host": endpoint.netloc, **headers}
        if endpoint.proxy is not None and not endpoint.secure and endpoint.proxy.auth:
            all_headers.update(_proxy_auth(endpoint.proxy.auth))
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in all_headers.items():
                conn.putheader(name, value)
            chunked = body is not None and not isinstance(body, bytes | bytearray)
            chunked = chunked and "Content-Length" not in headers
            if body is None and method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", "0")
            elif isinstance(body, bytes | bytearray):
                conn.putheader("Content-Length", str(len(body)))
            elif chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            if body is not None:
                _send_body(conn, body, chunked)
            raw = conn.getresponse()
        except BaseException:
            conn.close()
            raise

        def release(reusable: bool) -> None:
            pool.put(conn, reusable)

        response = Response(raw, release, url)
        if method == "HEAD" or raw.status in (204, 304) or raw.length == 0:
            response.read()
        return response


def _send_body(conn: http.client.HTTPConnection, body: Body, chunked: bool) -> None:
    if isinstance(body, bytes | bytearray):
        conn.send(body)
        return
    chunks: Iterable[bytes]
    if hasattr(body, "read"):
        reader: Any = body
        chunks = iter(lambda: bytes(reader.read(1 << 20)), b"")
    else:
        chunks = body  # type: ignore[assignment]
    for chunk in chunks:
        if not chunk:
            continue
        if chunked:
            conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        else:
            conn.send(chunk)
    if chunked:
        conn.send(b"0\r\n\r\n")


def _path_of(url: str) -> str:
    if url.startswith("/"):
        return url
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
