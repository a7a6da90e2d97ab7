"""The stored form of a network and its endpoints, the files that hold them, and the
plain values ``NetworkService`` takes (settings, create requests, container references,
list filters).

A network is ``<data_root>/networks/<id>/network.json`` (this record, written
atomically and durably) plus ``pool.json`` (its addresses, ``network/ipam.py``). The
record is written last on create and removed first on delete: a directory without one
is half-made and cleared at load.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dockyard._internal.atomicfile import write_atomic
from dockyard.errors import InvalidArgument

log = logging.getLogger(__name__)

RECORD = "network.json"
POOL = "pool.json"
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
MTU_OPTION = "com.docker.network.driver.mtu"
ICC_OPTION = "com.docker.network.bridge.enable_icc"
MASQUERADE_OPTION = "com.docker.network.bridge.enable_ip_masquerade"
HOST_BINDING_OPTION = "com.docker.network.bridge.host_binding_ipv4"
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")
MIN_MTU, MAX_MTU = 68, 65535
PREDEFINED = ("bridge", "host", "none")
# the drivers of the predefined networks; only "bridge" networks can be created
DRIVERS = {"bridge": "bridge", "host": "host", "none": "null"}
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def new_id() -> str:
    """A network's or an endpoint's id: 64 hex digits, as dockerd's."""
    return secrets.token_hex(32)


def parse_mtu(value: str, what: str = MTU_OPTION) -> int:
    """An MTU given as text (a network option, a daemon flag): 68-65535."""
    try:
        mtu = int(value)
    except ValueError:
        mtu = 0
    if not MIN_MTU <= mtu <= MAX_MTU:
        raise InvalidArgument(f"{what}={value!r}: the MTU must be a number from 68 to 65535")
    return mtu


def bool_option(options: dict[str, str], key: str, default: bool = True) -> bool:
    """A true/false network option as Go's ParseBool reads it."""
    value = options.get(key)
    if value is None or value == "":
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidArgument(f"{key}={value!r}: use true or false")


def check_name(name: str) -> None:
    if not name:
        raise InvalidArgument("a network needs a name: network create NAME")
    if not _NAME.match(name):
        raise InvalidArgument(
            f"invalid network name {name!r}: use letters, digits and _ . - "
            "(starting with a letter or digit)"
        )


@dataclass
class EndpointRecord:
    """A container's membership of a network (links exist only while it runs)."""

    container_id: str
    container_name: str
    endpoint_id: str
    address: str = ""  # IPv4 without prefix; "" on host/none networks
    mac: str = ""
    aliases: list[str] = field(default_factory=list)
    requested_ip: str = ""  # --ip: kept across restarts of the container
    requested_mac: str = ""  # --mac-address: else Docker's 02:42 + the IPv4 bytes
    host_ifname: str = ""  # the host end of its veth while the container runs


@dataclass
class NetworkRecord:
    id: str
    name: str
    driver: str
    created: str
    bridge: str = ""  # the Linux bridge of a bridge network
    subnet: str = ""
    gateway: str = ""
    ip_range: str = ""
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    endpoints: dict[str, EndpointRecord] = field(default_factory=dict)

    @property
    def predefined(self) -> bool:
        return self.name in PREDEFINED and self.driver == DRIVERS[self.name]

    @property
    def prefixlen(self) -> int:
        return int(self.subnet.partition("/")[2] or 0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> NetworkRecord:
        fields = {k: doc[k] for k in cls.__dataclass_fields__ if k in doc}
        fields["endpoints"] = {
            cid: EndpointRecord(**ep) for cid, ep in (doc.get("endpoints") or {}).items()
        }
        return cls(**fields)


class NetworkFiles:
    """The directory of every network's record and pool."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def dir(self, network_id: str) -> Path:
        return self.root / network_id

    def pool(self, network_id: str) -> Path:
        return self.dir(network_id) / POOL

    def save(self, rec: NetworkRecord) -> None:
        d = self.dir(rec.id)
        d.mkdir(parents=True, exist_ok=True)
        data = json.dumps(rec.to_json(), indent=1).encode()
        write_atomic(str(d / RECORD), data, mode=0o600, durable=True)

    def delete(self, network_id: str) -> None:
        d = self.dir(network_id)
        (d / RECORD).unlink(missing_ok=True)
        shutil.rmtree(d, ignore_errors=True)

    def load_all(self) -> list[NetworkRecord]:
        self.root.mkdir(parents=True, exist_ok=True)
        out = []
        for entry in sorted(self.root.iterdir()):
            if not entry.is_dir():
                continue
            try:
                out.append(NetworkRecord.from_json(json.loads((entry / RECORD).read_text())))
            except FileNotFoundError:
                log.warning("removing half-made network dir %s", entry)
                shutil.rmtree(entry, ignore_errors=True)
            except (OSError, ValueError, TypeError, KeyError) as e:
                log.warning("skipping network dir %s: %s", entry, e)
        return out


def matches(rec: NetworkRecord, filters: dict[str, list[str]]) -> bool:
    """Docker's ``GET /networks`` filters: dangling, driver, id, label, name, scope, type."""
    for value in filters.get("driver", []):
        if rec.driver != value:
            return False
    ids = filters.get("id")
    if ids and not any(v in rec.id for v in ids):
        return False
    names = filters.get("name")
    if names and not any(v in rec.name for v in names):
        return False
    scopes = filters.get("scope")
    if scopes and "local" not in scopes:
        return False
    for value in filters.get("type", []):
        if value not in ("custom", "builtin"):
            raise InvalidArgument(f"invalid filter 'type={value}': use custom or builtin")
        if (value == "builtin") != rec.predefined:
            return False
    for value in filters.get("dangling", []):
        if value.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"invalid filter 'dangling={value}': use true or false")
        unused = not rec.endpoints and not rec.predefined
        if unused != (value.lower() in ("true", "1")):
            return False
    return labels_match(rec.labels, filters.get("label", []), filters.get("label!", []))


def labels_match(labels: dict[str, str], wanted: list[str], unwanted: list[str]) -> bool:
    def has(spec: str) -> bool:
        key, sep, value = spec.partition("=")
        return key in labels and (not sep or labels[key] == value)

    return all(has(s) for s in wanted) and not any(has(s) for s in unwanted)


@dataclass(frozen=True)
class NetworkSettings:
    """The default bridge as the daemon's flags describe it (--bridge, --bip, --fixed-cidr,
    --mtu)."""

    bridge: str = "dockyard0"  # "none": no default bridge network
    bip: str = ""  # gateway/prefix, e.g. 172.30.0.1/16
    fixed_cidr: str = ""
    mtu: int = 0  # 0: automatic (containernet.py), else the default bridge's MTU
    icc: bool = True  # --icc: containers of the default bridge reach each other
    ip_masq: bool = True  # --ip-masq: what leaves the default bridge is masqueraded
    ip: str = "0.0.0.0"  # --ip: the host address ports are published on by default


@dataclass(frozen=True)
class CreateRequest:
    name: str
    driver: str = "bridge"
    subnet: str = ""
    gateway: str = ""
    ip_range: str = ""
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerRef:
    """What the network service needs to know of a container."""

    id: str
    name: str  # without the leading "/"
    running: bool
    pid: int
    network_mode: str


def created_unix(created: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(created[:26].rstrip("Z") + "+00:00").timestamp()


def until_filter(values: list[str]) -> float | None:
    if not values:
        return None
    value = values[-1]
    try:
        return float(value)
    except ValueError:
        pass
    from datetime import datetime

    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InvalidArgument(f"invalid filter 'until={value}': use a timestamp") from None
