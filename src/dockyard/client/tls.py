"""Dialing the daemon: a unix socket, or TCP wrapped in TLS, with docker's TLS options.

``TLSOptions.resolve`` applies the docker CLI's rules: ``--tlsverify`` (or
``DOCKYARD_TLS_VERIFY``/``DOCKER_TLS_VERIFY`` set to anything but empty) checks the
daemon's certificate against the CA; ``--tls`` encrypts without checking it; the
``--tlscacert``/``--tlscert``/``--tlskey`` files default to ``ca.pem``, ``cert.pem`` and
``key.pem`` in ``DOCKYARD_CERT_PATH`` (then ``DOCKER_CERT_PATH``, then ``~/.dockyard``),
and a default file that does not exist is left out, as docker does. ``ssl`` is imported
only when a tcp:// host is dialed: the CLI on the unix socket never pays for it.
"""

from __future__ import annotations

import os
import socket

from dockyard.client.errors import InvalidHost

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping

DEFAULT_CERT_DIR = "~/.dockyard"


class TLSOptions:
    """Whether to use TLS, whether to verify the daemon, and the three PEM files."""

    __slots__ = ("ca", "cert", "key", "verify")

    def __init__(
        self,
        verify: bool = True,
        ca: str | None = None,
        cert: str | None = None,
        key: str | None = None,
    ) -> None:
        self.verify = verify
        self.ca = ca
        self.cert = cert
        self.key = key

    @classmethod
    def resolve(
        cls,
        flags: Mapping[str, str | bool | None],
        environ: Mapping[str, str],
    ) -> TLSOptions | None:
        """The options of ``--tls``/``--tlsverify``/``--tlscacert``/... and the environment.

        None when TLS is not asked for at all.
        """
        env_verify = bool(environ.get("DOCKYARD_TLS_VERIFY") or environ.get("DOCKER_TLS_VERIFY"))
        verify = bool(flags.get("tlsverify")) or env_verify
        given = {k: flags.get(f"tls{k}") for k in ("cacert", "cert", "key")}
        if not (verify or flags.get("tls") or any(given.values())):
            return None
        base = (
            environ.get("DOCKYARD_CERT_PATH")
            or environ.get("DOCKER_CERT_PATH")
            or os.path.expanduser(DEFAULT_CERT_DIR)
        )
        files: dict[str, str | None] = {}
        for key, name in (("cacert", "ca.pem"), ("cert", "cert.pem"), ("key", "key.pem")):
            value = given[key]
            if isinstance(value, str) and value:
                files[key] = os.path.expanduser(value)
            else:
                default = os.path.join(base, name)
                files[key] = default if os.path.exists(default) else None
        if bool(files["cert"]) != bool(files["key"]):
            raise InvalidHost(
                "a TLS client certificate needs its key: give both --tlscert and --tlskey"
            )
        return cls(verify=verify, ca=files["cacert"], cert=files["cert"], key=files["key"])

    def context(self) -> ssl.SSLContext:
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            if self.verify:
                if self.ca:
                    ctx.load_verify_locations(cafile=self.ca)
                else:
                    ctx.load_default_certs()
            else:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if self.cert and self.key:
                ctx.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as e:
            raise InvalidHost(f"cannot load the TLS files ({self.ca}, {self.cert}): {e}") from e
        return ctx


def tcp_address(host: str) -> tuple[str, int]:
    """``tcp://127.0.0.1:2376`` -> ("127.0.0.1", 2376)."""
    rest = host.split("://", 1)[1].rstrip("/")
    address, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit() or not address:
        raise InvalidHost(f"invalid host {host!r}: expected tcp://ADDRESS:PORT")
    return address.strip("[]"), int(port)


def is_tcp(host: str) -> bool:
    return host.startswith(("tcp://", "https://"))


def dial_tcp(host: str, tls: TLSOptions | None, timeout: float) -> socket.socket:
    """A connected TLS socket to a tcp:// host (OSError when the daemon is not there)."""
    if tls is None:
        raise InvalidHost(
            f"cannot use {host} without TLS: dockyardd serves TCP only with client "
            "certificates; give --tlsverify --tlscacert --tlscert --tlskey (or set "
            "DOCKYARD_TLS_VERIFY=1 and DOCKYARD_CERT_PATH)"
        )
    address, port = tcp_address(host)
    ctx = tls.context()
    import ssl

    from dockyard.client.errors import DaemonUnreachable

    raw = socket.create_connection((address, port), timeout=timeout)
    try:
        sock = ctx.wrap_socket(raw, server_hostname=address)
    except ssl.SSLError as e:
        raw.close()
        raise DaemonUnreachable(f"TLS handshake with the daemon at {host} failed: {e}") from e
    except BaseException:
        raw.close()
        raise
    sock.settimeout(None)
    return sock
