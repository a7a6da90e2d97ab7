"""What the daemon listens on: unix sockets, and TCP only behind mutual TLS.

``plan(config)`` turns every ``-H``/``hosts`` entry into a ``UnixListener`` or a
``TcpListener`` before anything is touched, so a bad host fails the start-up at once.
The Engine API is root on the host: a TCP listener is refused unless it verifies client
certificates against a CA (``--tlsverify --tlscacert --tlscert --tlskey``), unlike
dockerd, which also serves plain or server-only TLS on TCP. ``server_context`` builds
the ``ssl.SSLContext`` (TLS 1.2 or newer); ``ssl`` is imported only when a TCP host is
configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.api.server import unix_path
from dockyard.errors import InvalidArgument

from .config import DaemonConfig

if TYPE_CHECKING:
    import ssl

TLS_FLAGS = "--tlsverify --tlscacert CA.pem --tlscert CERT.pem --tlskey KEY.pem"


@dataclass(frozen=True)
class UnixListener:
    path: Path


@dataclass(frozen=True)
class TcpListener:
    host: str  # the -H value, for messages
    address: str
    port: int


def tcp_address(host: str) -> tuple[str, int]:
    """``tcp://127.0.0.1:2376`` -> ("127.0.0.1", 2376); ``[::1]`` brackets are dropped."""
    rest = host.split("://", 1)[1] if "://" in host else host
    rest = rest.rstrip("/")
    address, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidArgument(f"invalid host {host!r}: expected tcp://ADDRESS:PORT")
    address = address.strip("[]") or "0.0.0.0"
    if "/" in address:
        raise InvalidArgument(f"invalid host {host!r}: expected tcp://ADDRESS:PORT")
    return address, int(port)


def _is_tcp(host: str) -> bool:
    return host.startswith(("tcp://", "http://", "https://")) or (
        "://" not in host and ":" in host and "/" not in host
    )


def plan(config: DaemonConfig) -> list[UnixListener | TcpListener]:
    """The listeners of ``config.hosts``; InvalidArgument/NotSupported say what to fix."""
    out: list[UnixListener | TcpListener] = []
    for host in config.hosts:
        if not _is_tcp(host):
            out.append(UnixListener(unix_path(host)))
            continue
        address, port = tcp_address(host)
        if not config.tlsverify:
            raise InvalidArgument(
                f"cannot listen on {host} without TLS client verification: anyone who can "
                f"reach a TCP socket would control the host; give {TLS_FLAGS}, or use "
                "unix:///path/to/socket"
            )
        missing = [
            flag
            for flag, value in (
                ("--tlscacert", config.tlscacert),
                ("--tlscert", config.tlscert),
                ("--tlskey", config.tlskey),
            )
            if value is None
        ]
        if missing:
            raise InvalidArgument(
                f"cannot listen on {host} with TLS: {', '.join(missing)} not given ({TLS_FLAGS})"
            )
        out.append(TcpListener(host, address, port))
    return out


def server_context(config: DaemonConfig) -> ssl.SSLContext:
    """The TLS context of the TCP listeners: our certificate, client certs checked by the CA."""
    import ssl

    assert config.tlscacert and config.tlscert and config.tlskey
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(str(config.tlscert), str(config.tlskey))
    except (OSError, ssl.SSLError) as e:
        raise InvalidArgument(
            f"cannot load the TLS certificate {config.tlscert} with key {config.tlskey}: {e}"
        ) from e
    try:
        ctx.load_verify_locations(cafile=str(config.tlscacert))
    except (OSError, ssl.SSLError) as e:
        raise InvalidArgument(f"cannot load the TLS CA {config.tlscacert}: {e}") from e
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
