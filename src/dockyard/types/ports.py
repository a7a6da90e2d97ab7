"""Published ports: ``-p`` specs parsed as Docker does (the CLI and the daemon share it),
the API's ``PortBindings`` read and written, and random host ports chosen from Docker's
ephemeral range.

Pure logic (stdlib only). Accepted ``-p`` forms, each with an optional ``/tcp|/udp|/sctp``:
``80``, ``8080:80``, ``127.0.0.1:8080:80``, ``127.0.0.1::80``, ``[::1]:8080:80``, ranges
``8000-8002:80-82`` and ``80-82``, and a host range for one container port
``8000-8010:80`` (one free host port of the range is used).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.errors import Conflict, InvalidArgument

PROTOCOLS = ("tcp", "udp", "sctp")
# Docker's default ephemeral range for -P and -p without a host port
EPHEMERAL_FIRST = 49153
EPHEMERAL_LAST = 60999


@dataclass(frozen=True)
class PortMapping:
    """One container port and where it is published. ``host_port`` 0 means "any free
    port" (of ``host_range`` when given); ``host_ip`` "" means every address."""

    container_port: int
    proto: str = "tcp"
    host_ip: str = ""
    host_port: int = 0
    host_range: tuple[int, int] | None = None

    @property
    def key(self) -> str:
        """The API's ``"80/tcp"``."""
        return f"{self.container_port}/{self.proto}"


def _port(text: str, spec: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 65535:
        raise InvalidArgument(f"invalid port {text!r} in {spec!r}: use a number 1-65535")
    return int(text)


def _range(text: str, spec: str) -> tuple[int, int]:
    first, sep, last = text.partition("-")
    lo = _port(first, spec)
    hi = _port(last, spec) if sep else lo
    if hi < lo:
        raise InvalidArgument(
            f"invalid port range {text!r} in {spec!r}: the end is before the start"
        )
    return lo, hi


def _split_ip(spec: str, body: str) -> tuple[str, str]:
    """(host ip, the rest) of ``ip:host:container`` forms; IPv6 in brackets."""
    if body.startswith("["):
        end = body.find("]")
        if end < 0 or body[end + 1 : end + 2] != ":":
            raise InvalidArgument(f"invalid ip address in {spec!r}: use [addr]:hostport:port")
        return body[1:end], body[end + 2 :]
    parts = body.split(":")
    if len(parts) <= 2:
        return "", body
    if len(parts) > 3:
        raise InvalidArgument(f"invalid port spec {spec!r}: too many colons")
    return parts[0], f"{parts[1]}:{parts[2]}"


def parse_spec(spec: str) -> list[PortMapping]:
    """The mappings of one ``-p`` value; InvalidArgument with the spec when malformed."""
    if not spec:
        raise InvalidArgument("empty port spec: use [ip:][hostport:]port[/proto]")
    body, _, proto = spec.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in PROTOCOLS:
        raise InvalidArgument(f"invalid protocol {proto!r} in {spec!r}: use tcp, udp or sctp")
    host_ip, rest = _split_ip(spec, body)
    if host_ip:
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise InvalidArgument(f"invalid ip address {host_ip!r} in {spec!r}") from None
    host_text, sep, container_text = rest.rpartition(":")
    if not sep:
        host_text, container_text = "", rest
    if not container_text:
        raise InvalidArgument(f"no container port in {spec!r}: use [ip:][hostport:]port")
    c_lo, c_hi = _range(container_text, spec)
    count = c_hi - c_lo + 1
    if not host_text:
        return [PortMapping(p, proto, host_ip) for p in range(c_lo, c_hi + 1)]
    h_lo, h_hi = _range(host_text, spec)
    if count == 1 and h_hi > h_lo:
        return [PortMapping(c_lo, proto, host_ip, 0, (h_lo, h_hi))]
    if h_hi - h_lo + 1 != count:
        raise InvalidArgument(
            f"invalid port spec {spec!r}: host range {host_text} and container range "
            f"{container_text} differ in length"
        )
    return [PortMapping(c_lo + i, proto, host_ip, h_lo + i) for i in range(count)]


def parse_specs(specs: Iterable[str]) -> list[PortMapping]:
    out: list[PortMapping] = []
    for spec in specs:
        out.extend(parse_spec(spec))
    return out


def to_bindings(mappings: Iterable[PortMapping]) -> dict[str, list[dict[str, str]]]:
    """The API's ``HostConfig.PortBindings``: ``{"80/tcp": [{"HostIp", "HostPort"}]}``."""
    out: dict[str, list[dict[str, str]]] = {}
    for m in mappings:
        if m.host_range:
            host = f"{m.host_range[0]}-{m.host_range[1]}"
        else:
            host = str(m.host_port) if m.host_port else ""
        out.setdefault(m.key, []).append({"HostIp": m.host_ip, "HostPort": host})
    return out


def from_bindings(bindings: Mapping[str, Any] | None) -> list[PortMapping]:
    """Mappings of ``HostConfig.PortBindings`` (as clients send it); InvalidArgument if
    malformed."""
    out: list[PortMapping] = []
    for key, entries in (bindings or {}).items():
        port_text, _, proto = str(key).partition("/")
        proto = proto or "tcp"
        spec = f"{port_text}/{proto}"
        container = _port(port_text, spec)
        if proto not in PROTOCOLS:
            raise InvalidArgument(f"invalid protocol {proto!r} in port binding {key!r}")
        for entry in entries or [{}]:
            entry = entry or {}
            host_ip = str(entry.get("HostIp") or "")
            host_text = str(entry.get("HostPort") or "")
            if not host_text:
                out.append(PortMapping(container, proto, host_ip))
                continue
            lo, hi = _range(host_text, spec)
            if hi > lo:
                out.append(PortMapping(container, proto, host_ip, 0, (lo, hi)))
            else:
                out.append(PortMapping(container, proto, host_ip, lo))
    return out


def exposed_mappings(exposed: Iterable[str]) -> list[PortMapping]:
    """``-P``: every exposed port (``"80/tcp"``) on a random host port."""
    out = []
    for key in exposed:
        port_text, _, proto = key.partition("/")
        out.append(PortMapping(_port(port_text, key), proto or "tcp"))
    return out


def choose_host_port(
    mapping: PortMapping, taken: set[tuple[str, int]], rng: random.Random | None = None
) -> int:
    """The host port for ``mapping``: its own, or a free one (not in ``taken``, pairs of
    (proto, port)) of its range or the ephemeral range. Conflict when none is left."""
    if mapping.host_port:
        if (mapping.proto, mapping.host_port) in taken:
            raise Conflict(
                f"host port {mapping.host_port}/{mapping.proto} is already allocated; "
                "publish on another port"
            )
        return mapping.host_port
    lo, hi = mapping.host_range or (EPHEMERAL_FIRST, EPHEMERAL_LAST)
    candidates = [p for p in range(lo, hi + 1) if (mapping.proto, p) not in taken]
    if not candidates:
        raise Conflict(f"no free host port in {lo}-{hi} for {mapping.key}")
    return (rng or random.SystemRandom()).choice(candidates)
