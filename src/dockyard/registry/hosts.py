"""Where and how to reach a registry: scheme, TLS material, proxy.

``RegistryHosts`` answers an ``Endpoint`` per registry domain (``host[:port]`` as in a
reference):

- TLS: a per-registry directory ``<certs_dir>/<host:port>/`` (Docker's
  ``/etc/docker/certs.d`` layout; Dockyard's default is ``/etc/dockyard/certs.d``) may
  hold ``ca.crt`` (trusted in addition to the system CAs) and ``client.cert`` +
  ``client.key`` (a client certificate). Any ``*.crt`` there is a CA, as in Docker.
- Insecure registries (plain HTTP): the names given, CIDRs given, and 127.0.0.0/8 and
  ``::1`` always, as Docker does. For those we still try HTTPS first only when TLS
  material exists for them.
- Proxies: ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` (either case) from the
  environment handed in; loopback addresses and ``localhost`` never go through a proxy
  (as Go's ``http.ProxyFromEnvironment``).
- Aliases: a domain may be mapped to another host (``docker.io`` has no built-in
  endpoint: the daemon configures one, or pulls from it are refused).
- Mirrors (``registry-mirrors``): URLs that serve ``docker.io``; the first one is its
  endpoint (an ``http://`` mirror is reached over plain HTTP).
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dockyard.errors import InvalidArgument, NotSupported

DEFAULT_CERTS_DIR = Path("/etc/dockyard/certs.d")


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    auth: str | None = None  # "user:password" from the proxy URL


@dataclass(frozen=True)
class Endpoint:
    """One registry: ``host``/``port`` to connect to, ``secure`` for HTTPS."""

    domain: str  # as in references (and in the token scope's service, usually)
    host: str
    port: int
    secure: bool
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False)
    proxy: Proxy | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.secure else "http"

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.netloc}"


def split_host_port(domain: str, default_port: int) -> tuple[str, int]:
    """``host`` and port of ``host[:port]`` or ``[v6][:port]``."""
    if domain.startswith("["):
        host, _, rest = domain[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = domain.partition(":")
    if not port:
        return host, default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidArgument(f"invalid registry address {domain!r}: bad port")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def proxy_for(host: str, secure: bool, environ: Mapping[str, str]) -> Proxy | None:
    """The proxy for ``host`` from ``*_PROXY``/``NO_PROXY`` in ``environ`` (or None)."""
    if is_loopback(host):
        return None

    def env(name: str) -> str:
        return environ.get(name) or environ.get(name.lower()) or ""

    no_proxy = env("NO_PROXY")
    for entry in (e.strip() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return None
        name = entry.split(":")[0] if entry.count(":") == 1 else entry
        if _no_proxy_match(host, name):
            return None
    url = env("HTTPS_PROXY") if secure else env("HTTP_PROXY")
    if not url:
        return None
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", ""):
        raise NotSupported(f"proxy {url!r}: only http:// proxies are supported")
    if not parts.hostname:
        raise InvalidArgument(f"invalid proxy URL {url!r}")
    auth = None
    if parts.username is not None:
        auth = f"{parts.username}:{parts.password or ''}"
    return Proxy(parts.hostname, parts.port or 80, auth)


def _no_proxy_match(host: str, entry: str) -> bool:
    if "/" in entry:
        try:
            return ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False
    entry = entry.lstrip("*")
    if entry.startswith("."):
        return host.endswith(entry) or host == entry[1:]
    return host == entry or host.endswith("." + entry)


def normalize_mirror(url: str) -> str:
    """A registry mirror as Docker keeps it (``scheme://host[:port]/``); InvalidArgument
    for anything else (no scheme, a path, a query)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidArgument(
            f"invalid mirror: {url!r}: give an http:// or https:// URL (e.g. https://host:5000)"
        )
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise InvalidArgument(f"invalid mirror: {url!r}: path, query or fragment at its end")
    return f"{parts.scheme}://{parts.netloc}/"


def check_insecure(entry: str) -> None:
    """An ``insecure-registries`` entry: a CIDR or ``host[:port]`` (no scheme, no path)."""
    if "://" in entry or not entry.strip():
        raise InvalidArgument(f"insecure registry {entry!r}: give host[:port] or a CIDR")
    if "/" in entry:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise InvalidArgument(
                f"insecure registry {entry!r}: give host[:port] or a CIDR such as 10.0.0.0/8"
            ) from None


class RegistryHosts:
    """Endpoint configuration of every registry (built once, shared by clients)."""

    def __init__(
        self,
        certs_dir: Path | None = DEFAULT_CERTS_DIR,
        insecure: Iterable[str] = (),
        aliases: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        mirrors: Iterable[str] = (),
    ) -> None:
        self.certs_dir = certs_dir
        self.aliases = dict(aliases or {})
        self.mirrors = [normalize_mirror(m) for m in mirrors]
        self.environ = dict(os.environ if environ is None else environ)
        self._insecure_names: set[str] = set()
        self._insecure_nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = [
            ipaddress.ip_network("127.0.0.0/8"),
            ipaddress.ip_network("::1/128"),
        ]
        for item in insecure:
            try:
                self._insecure_nets.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self._insecure_names.add(item)
        self._contexts: dict[str, ssl.SSLContext] = {}

    def is_insecure(self, domain: str) -> bool:
        """True when ``domain`` may be reached over plain HTTP."""
        if domain in self._insecure_names:
            return True
        host, _ = split_host_port(domain, 443)
        if host == "localhost":
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in net for net in self._insecure_nets)

    def cert_dir(self, domain: str) -> Path | None:
        if self.certs_dir is None:
            return None
        path = self.certs_dir / domain
        return path if path.is_dir() else None

    def endpoint(self, domain: str) -> Endpoint:
        """How to reach the registry of references with this ``domain``."""
        target = self.aliases.get(domain, domain)
        if target == "docker.io" and self.mirrors:
            mirror = urlsplit(self.mirrors[0])
            secure = mirror.scheme == "https"
            host, port = split_host_port(mirror.netloc, 443 if secure else 80)
            context = self.ssl_context(mirror.netloc) if secure else None
            proxy = proxy_for(host, secure, self.environ)
            return Endpoint(domain, host, port, secure, context, proxy)
        if target == "docker.io" and domain == target:
            raise NotSupported(
                "no endpoint is configured for docker.io: configure a registry mirror "
                "or name the registry in the image reference (host:port/name)"
            )
        certs = self.cert_dir(target)
        secure = certs is not None or not self.is_insecure(target)
        host, port = split_host_port(target, 443 if secure else 80)
        context = self.ssl_context(target) if secure else None
        return Endpoint(domain, host, port, secure, context, proxy_for(host, secure, self.environ))

    def ssl_context(self, domain: str) -> ssl.SSLContext:
        """The TLS context for ``domain``: system CAs, its ``*.crt``, its client cert."""
        context = self._contexts.get(domain)
        if context is not None:
            return context
        context = ssl.create_default_context()
        certs = self.cert_dir(domain)
        if certs is not None:
            for ca in sorted(certs.glob("*.crt")):
                try:
                    context.load_verify_locations(cafile=str(ca))
                except (ssl.SSLError, OSError) as e:
                    raise InvalidArgument(f"cannot load CA certificate {ca}: {e}") from e
            cert, key = certs / "client.cert", certs / "client.key"
            if cert.exists() != key.exists():
                missing = key if cert.exists() else cert
                raise InvalidArgument(f"client certificate for {domain}: {missing} is missing")
            if cert.exists():
                try:
                    context.load_cert_chain(str(cert), str(key))
                except (ssl.SSLError, OSError) as e:
                    raise InvalidArgument(f"cannot load client certificate {cert}: {e}") from e
        self._contexts[domain] = context
        return context
