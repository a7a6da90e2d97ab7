"""A container's /etc/hostname, /etc/hosts and /etc/resolv.conf, as dockerd writes them.

The files live in the container's data dir and are bind-mounted into it (``specgen``).
resolv.conf: the host's, with loopback resolvers dropped (they do not answer in the
container's namespace); ``--dns``/``--dns-search``/``--dns-option`` (or the daemon's
``--dns``) replace the host's lines; with no resolver left, Docker's defaults 8.8.8.8 and
8.8.4.4 are written. On a user-defined network the container asks the embedded DNS
(127.0.0.11, ``network/dns.py``), which relays other names to ``upstream_resolvers``.
hosts: localhost and IPv6 names, ``--add-host`` entries (``host-gateway`` is the default
bridge's gateway), then the container's own address (added when its link exists,
``add_hosts_line``). Pure text functions plus one writer; no network access.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument

log = logging.getLogger(__name__)

EMBEDDED_DNS = "127.0.0.11"
DEFAULT_DNS = ("8.8.8.8", "8.8.4.4")  # Docker's, when the host has no usable resolver
HOST_GATEWAY = "host-gateway"
HOSTS_DEFAULTS = (
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", maxsplit=1)[0]).is_loopback
    except ValueError:
        return False


def _lines(text: str, key: str) -> list[list[str]]:
    return [fields[1:] for fields in (line.split() for line in text.splitlines()) if
            fields[:1] == [key]]  # fmt: skip


def host_nameservers(host_text: str) -> list[str]:
    """The host's resolvers that also answer from a container's own namespace."""
    return [f[0] for f in _lines(host_text, "nameserver") if f and not _loopback(f[0])]


def upstream_resolvers(
    host_text: str, dns: Sequence[str] = (), daemon_dns: Sequence[str] = ()
) -> list[str]:
    """Where the embedded DNS relays what it does not know: ``--dns``, else the daemon's
    ``--dns``, else the host's non-loopback resolvers (never Docker's public defaults:
    nothing here sends a query off the machine unless the host itself would)."""
    return list(dns or daemon_dns or host_nameservers(host_text))


def resolv_conf(
    host_text: str,
    network_mode: str,
    host_config: Mapping[str, Any] | None = None,
    daemon_dns: Sequence[str] = (),
    embedded: bool = False,
) -> str:
    """The container's resolv.conf (``embedded``: on a user-defined network)."""
    hc = host_config or {}
    dns = [str(d) for d in hc.get("Dns") or []]
    search = [str(s) for s in hc.get("DnsSearch") or []]
    options = [str(o) for o in hc.get("DnsOptions") or []]
    if network_mode == "host" and not (dns or search or options or daemon_dns):
        return host_text
    if not search:
        search = [s for f in _lines(host_text, "search") for s in f]
    elif search == ["."]:  # docker: "." means no search domains
        search = []
    if not options:
        options = [o for f in _lines(host_text, "options") for o in f]
    out: list[str] = []
    if embedded:
        upstream = upstream_resolvers(host_text, dns, daemon_dns)
        out.append(f"nameserver {EMBEDDED_DNS}")
        out.append(f"# ExtServers: [{' '.join(upstream)}]")
        if "ndots:0" not in options and not any(o.startswith("ndots:") for o in options):
            options = ["ndots:0", *options]
    else:
        servers = dns or list(daemon_dns) or host_nameservers(host_text) or list(DEFAULT_DNS)
        out += [f"nameserver {s}" for s in servers]
    if search:
        out.append("search " + " ".join(search))
    if options:
        out.append("options " + " ".join(options))
    return "\n".join(out) + "\n"


def extra_hosts(entries: Sequence[str] | None, host_gateway: str) -> list[tuple[str, str]]:
    """``--add-host`` entries (``name:ip``) as (address, name); ``host-gateway`` becomes
    ``host_gateway``. InvalidArgument when malformed or when there is no gateway."""
    out = []
    for entry in entries or []:
        sep = "=" if "=" in entry else ":"
        name, _, addr = str(entry).partition(sep)
        if not name or not addr:
            raise InvalidArgument(f"invalid extra host {entry!r}: use name:address")
        if addr == HOST_GATEWAY:
            if not host_gateway:
                raise InvalidArgument(
                    "unable to derive the IP value for host-gateway: the daemon has no "
                    "default bridge; give the address instead"
                )
            addr = host_gateway
        try:
            addr = str(ipaddress.ip_address(addr.strip("[]")))
        except ValueError:
            raise InvalidArgument(f"invalid IP address {addr!r} in extra host {entry!r}") from None
        out.append((addr, name))
    return out


def hosts_file(
    network_mode: str, extra: Sequence[tuple[str, str]] = (), host_text: str | None = None
) -> str:
    """The container's /etc/hosts before its own address is known (``host_text``: the
    host's /etc/hosts, used as is in host mode)."""
    text = host_text if network_mode == "host" and host_text is not None else HOSTS_DEFAULTS
    if text and not text.endswith("\n"):
        text += "\n"
    return text + "".join(f"{addr}\t{name}\n" for addr, name in extra)


def own_names(hostname: str, domainname: str) -> str:
    """The names of the container's own hosts line: ``host.domain host`` as dockerd."""
    return f"{hostname}.{domainname}\t{hostname}" if domainname else hostname


def add_hosts_line(path: Path, address: str, names: str) -> None:
    """Append ``address names`` in place: the file is bind-mounted into the container, so
    replacing it (a new inode) would not show there."""
    try:
        with open(path, "a") as f:
            f.write(f"{address}\t{names}\n")
    except OSError as e:
        log.warning("cannot add %s to %s: %s", address, path, e)


def write_etc_files(
    files: Path,
    hostname: str,
    network_mode: str,
    *,
    host_config: Mapping[str, Any] | None = None,
    daemon_dns: Sequence[str] = (),
    host_gateway: str = "",
    embedded: bool = False,
    linked_hosts: Sequence[tuple[str, str]] = (),
) -> None:
    """hostname, hosts and resolv.conf of a container into its data dir ``files``
    (``linked_hosts``: (address, names) of its ``--link`` targets)."""

    def read(path: str) -> str:
        try:
            return Path(path).read_text()
        except OSError:
            return ""

    hc = host_config or {}
    extra = extra_hosts(hc.get("ExtraHosts"), host_gateway) + list(linked_hosts)
    (files / "hostname").write_text(hostname + "\n")
    host_hosts = read("/etc/hosts") if network_mode == "host" else None
    (files / "hosts").write_text(hosts_file(network_mode, extra, host_hosts))
    text = resolv_conf(read("/etc/resolv.conf"), network_mode, hc, daemon_dns, embedded)
    (files / "resolv.conf").write_text(text)
