"""Legacy container links (``--link NAME[:ALIAS]``, ``HostConfig.Links``), as dockerd
keeps them.

At create each link is checked (the target exists; not with ``host`` or ``container:``
networking) and stored as dockerd shows it: ``/db:/web/alias``. At start every target
must be running. On the default bridge the linking container gets, for each link, an
``/etc/hosts`` line (``ip alias hostname [name]``) and dockerd's environment variables
(``ALIAS_PORT_80_TCP=tcp://ip:80``, ``ALIAS_NAME=/web/alias``, ``ALIAS_ENV_X=...``; its own
``Env`` wins on a clash); on a user-defined network the alias is a name only that
container's embedded DNS resolves (no file lines, no variables), as dockerd.

Targets are found by name at each start: a renamed target breaks the link (dockerd
follows the rename).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.errors import Conflict, InvalidArgument, NotFound

from .containerrecord import Container


@dataclass(frozen=True)
class Link:
    """One link of a container about to start: the running target and its alias."""

    target: Container
    alias: str  # "db"
    name: str  # "/web/db": the link's full name, as the variables show it


def parse(spec: str) -> tuple[str, str]:
    """``name[:alias]`` (either may start with ``/``; ``/db:/web/alias`` as stored) as
    (target name without its ``/``, alias)."""
    target, _, alias = str(spec).partition(":")
    target = target.lstrip("/")
    alias = alias.rsplit("/", 1)[-1] if alias else target
    if not target or not alias:
        raise InvalidArgument(f"invalid link {spec!r}: use NAME or NAME:ALIAS")
    return target, alias


def normalize(
    specs: Iterable[Any] | None, container_name: str, mode: str, get: Callable[[str], Container]
) -> list[str] | None:
    """Create's check of ``HostConfig.Links``; the links as dockerd stores them, or None
    when there are none. ``get`` finds a container by name or id (NotFound)."""
    specs = list(specs or [])
    if not specs:
        return None
    if mode == "host":
        raise InvalidArgument(
            "conflicting options: host type networking can't be used with links. "
            "This would result in undefined behavior"
        )
    if mode.startswith("container:"):
        raise InvalidArgument(
            "conflicting options: container type network can't be used with links. "
            "This would result in undefined behavior"
        )
    out = []
    for spec in specs:
        target, alias = parse(spec)
        try:
            found = get(target)
        except NotFound:
            raise NotFound(f"could not get container for {target}: No such container") from None
        out.append(f"{found.name}:{container_name}/{alias}")
    return out


def resolve(c: Container, get: Callable[[str], Container]) -> list[Link]:
    """The links of ``c`` at its start: every target must exist and run."""
    out = []
    for spec in c.host_config.get("Links") or []:
        target, alias = parse(spec)
        name = f"{c.name}/{alias}"
        try:
            found = get(target)
        except NotFound:
            raise NotFound(f"could not get container for {target}: No such container") from None
        if not found.running:
            raise Conflict(f"Cannot link to a non running container: /{target} AS {name}")
        out.append(Link(found, alias, name))
    return out


def hosts_names(link: Link) -> str:
    """The names of the linking container's hosts line for ``link``: the alias, the
    target's hostname, and its name unless that is the alias (dockerd's order)."""
    names = [link.alias, str(link.target.config.get("Hostname") or link.target.id[:12])]
    own = link.target.name.lstrip("/")
    if own != link.alias:
        names.append(own)
    return " ".join(names)


def _ports(exposed: Mapping[str, Any] | None) -> list[tuple[int, str]]:
    """The target's exposed ports as (number, protocol), TCP first, then by number."""
    out = []
    for key in exposed or {}:
        num, _, proto = str(key).partition("/")
        if num.isdigit():
            out.append((int(num), proto or "tcp"))
    return sorted(out, key=lambda p: (p[1] != "tcp", p[1], p[0]))


def env(link: Link, address: str) -> list[str]:
    """dockerd's variables for ``link`` whose target has ``address`` on the bridge."""
    alias = link.alias.upper().replace("-", "_")
    ports = _ports(link.target.config.get("ExposedPorts"))
    out: list[str] = []
    start = end = None
    for i, (num, proto) in enumerate(ports):
        if i == 0:
            start = end = (num, proto)
            out.append(f"{alias}_PORT={proto}://{address}:{num}")
        prefix = f"{alias}_PORT_{num}_{proto.upper()}"
        out += [
            f"{prefix}={proto}://{address}:{num}",
            f"{prefix}_ADDR={address}",
            f"{prefix}_PORT={num}",
            f"{prefix}_PROTO={proto}",
        ]
        assert start is not None and end is not None
        if num == end[0] + 1 and proto == end[1]:  # a range of consecutive ports
            end = (num, proto)
            if i < len(ports) - 1:
                continue
        if end != start:
            first = f"{alias}_PORT_{start[0]}_{start[1].upper()}"
            out += [
                f"{first}_START={start[1]}://{address}:{start[0]}",
                f"{first}_PORT_START={start[0]}",
                f"{first}_END={end[1]}://{address}:{end[0]}",
                f"{first}_PORT_END={end[0]}",
            ]
        start = end = (num, proto)
    out.append(f"{alias}_NAME={link.name}")
    for item in link.target.config.get("Env") or []:
        key, eq, value = str(item).partition("=")
        if eq and key not in ("HOME", "PATH"):
            out.append(f"{alias}_ENV_{key}={value}")
    return out


def merge_env(own: Sequence[str], linked: Sequence[str]) -> list[str]:
    """The container's environment with the link variables it does not set itself."""
    keys = {e.partition("=")[0] for e in own}
    return [*own, *(e for e in linked if e.partition("=")[0] not in keys)]


def dns_aliases(host_config: Mapping[str, Any]) -> dict[str, str]:
    """alias -> target name of the container's links, for its embedded DNS on a
    user-defined network (lower case: DNS names are)."""
    out = {}
    for spec in host_config.get("Links") or []:
        target, alias = parse(spec)
        out[alias.lower()] = target
    return out


def without(host_config: Mapping[str, Any], link_name: str) -> list[str]:
    """``HostConfig.Links`` minus the link called ``link_name`` (``/web/alias``): ``rm
    --link``. NotFound when there is no such link."""
    kept = [s for s in host_config.get("Links") or [] if s.partition(":")[2] != link_name]
    if len(kept) == len(host_config.get("Links") or []):
        raise NotFound(f"no link {link_name}: give it as /CONTAINER/ALIAS")
    return kept
