"""``DaemonConfig``: built once from flags merged over ``daemon.json``, then passed down.

Like dockerd: a directive given both as a flag and in the file with different values is
an error naming every such directive; a key the daemon does not know is an error naming
the key; an explicitly named config file must exist, the default one may be absent.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dockyard.errors import InvalidArgument

DEFAULT_CONFIG_FILE = Path("/etc/dockyard/daemon.json")
DEFAULT_HOST = "unix:///run/dockyard.sock"
BUILTIN_RUNTIME = "dockyard"
BUILTIN_RUNTIME_PATH = "dockyard-runtime"
# other OCI runtimes registered by default when they are installed (like dockerd's runc)
KNOWN_RUNTIMES = ("runc", "crun")
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")
STORAGE_DRIVERS = ("overlay", "btrfs", "vfs")


def _frozen(d: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class DaemonConfig:
    hosts: tuple[str, ...] = (DEFAULT_HOST,)
    data_root: Path = Path("/var/lib/dockyard")
    exec_root: Path = Path("/run/dockyard")
    storage_driver: str = "overlay"
    cgroup_parent: str = "/dockyard"
    init_path: str = ""  # the --init binary; "" finds docker-init or tini on PATH
    default_runtime: str = BUILTIN_RUNTIME
    runtimes: Mapping[str, str] = field(
        default_factory=lambda: _frozen({BUILTIN_RUNTIME: BUILTIN_RUNTIME_PATH})
    )
    pidfile: Path = Path("/run/dockyardd.pid")
    log_level: str = "info"
    debug: bool = False
    group: str = "dockyard"
    dns: tuple[str, ...] = ()
    http_proxy: str = ""
    https_proxy: str = ""
    no_proxy: str = ""
    shutdown_timeout: float = 15.0
    config_file: Path = DEFAULT_CONFIG_FILE
    # TLS of tcp:// hosts (daemon/listeners.py): tlsverify is required for any of them
    tls: bool = False
    tlsverify: bool = False
    tlscacert: Path | None = None
    tlscert: Path | None = None
    tlskey: Path | None = None
    # the default network "bridge": its Linux bridge ("none": no default bridge network),
    # the gateway address with prefix (--bip) and the part containers get (--fixed-cidr)
    bridge: str = "dockyard0"
    bip: str = ""
    fixed_cidr: str = ""
    mtu: int = 0  # the default bridge's MTU; 0: automatic (engine/containernet.py)
    firewall_backend: str = ""  # iptables, nftables; "": iptables if installed, else nft
    iptables: bool = True  # False: no NAT or filter rules at all (dockerd's --iptables)
    icc: bool = True  # containers of the default bridge reach each other
    ip_masq: bool = True  # masquerade what leaves the default bridge
    ip: str = "0.0.0.0"  # the host address -p publishes on when it names none
    # registries reached over plain HTTP (names or CIDRs), and mirrors of docker.io
    insecure_registries: tuple[str, ...] = ()
    registry_mirrors: tuple[str, ...] = ()


# daemon.json key -> (DaemonConfig field, expected JSON type)
FILE_KEYS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "hosts": ("hosts", list),
    "data-root": ("data_root", str),
    "exec-root": ("exec_root", str),
    "storage-driver": ("storage_driver", str),
    "cgroup-parent": ("cgroup_parent", str),
    "init-path": ("init_path", str),
    "default-runtime": ("default_runtime", str),
    "runtimes": ("runtimes", dict),
    "pidfile": ("pidfile", str),
    "log-level": ("log_level", str),
    "debug": ("debug", bool),
    "group": ("group", str),
    "dns": ("dns", list),
    "proxies": ("proxies", dict),
    "shutdown-timeout": ("shutdown_timeout", (int, float)),
    "tls": ("tls", bool),
    "tlsverify": ("tlsverify", bool),
    "tlscacert": ("tlscacert", str),
    "tlscert": ("tlscert", str),
    "tlskey": ("tlskey", str),
    "bridge": ("bridge", str),
    "bip": ("bip", str),
    "fixed-cidr": ("fixed_cidr", str),
    "mtu": ("mtu", int),
    "firewall-backend": ("firewall_backend", str),
    "iptables": ("iptables", bool),
    "icc": ("icc", bool),
    "ip-masq": ("ip_masq", bool),
    "ip": ("ip", str),
    "insecure-registries": ("insecure_registries", list),
    "registry-mirrors": ("registry_mirrors", list),
}
PROXY_KEYS = {"http-proxy": "http_proxy", "https-proxy": "https_proxy", "no-proxy": "no_proxy"}


def read_file(path: Path, explicit: bool) -> dict[str, Any]:
    """The directives of ``daemon.json`` as DaemonConfig field values."""
    try:
        raw = path.read_text()
    except FileNotFoundError:
        if explicit:
            raise InvalidArgument(f"config file {path} does not exist") from None
        return {}
    except OSError as e:
        raise InvalidArgument(f"cannot read config file {path}: {e.strerror}") from None
    where = f"unable to configure the Dockyard daemon with file {path}"
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise InvalidArgument(f"{where}: invalid JSON: {e}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"{where}: expected a JSON object")
    unknown = sorted(k for k in data if k not in FILE_KEYS)
    if unknown:
        raise InvalidArgument(
            f"{where}: the following directives don't match any configuration option: "
            + ", ".join(unknown)
        )
    out: dict[str, Any] = {}
    for key, raw in data.items():
        value: Any = raw
        name, kind = FILE_KEYS[key]
        if not isinstance(raw, kind) or (kind is not bool and isinstance(raw, bool)):
            raise InvalidArgument(f"{where}: {key}: expected {_kind_name(kind)}, got {value!r}")
        if key in ("hosts", "dns", "insecure-registries", "registry-mirrors"):
            if not all(isinstance(v, str) for v in value):
                raise InvalidArgument(f"{where}: {key}: expected a list of strings")
            out[name] = tuple(value)
        elif key == "runtimes":
            out[name] = _file_runtimes(value, where)
        elif key == "proxies":
            for pk, pv in value.items():
                if pk not in PROXY_KEYS or not isinstance(pv, str):
                    raise InvalidArgument(f"{where}: proxies: unknown or invalid entry {pk!r}")
                out[PROXY_KEYS[pk]] = pv
        elif key in ("data-root", "exec-root", "pidfile", "tlscacert", "tlscert", "tlskey"):
            out[name] = Path(value)
        elif key == "shutdown-timeout":
            out[name] = float(value)
        else:
            out[name] = value
    return out


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {list: "a list", str: "a string", dict: "an object", bool: "true or false"}
    return "a number" if isinstance(kind, tuple) else names.get(kind, kind.__name__)


def _file_runtimes(value: dict[str, Any], where: str) -> dict[str, str]:
    out = {}
    for name, spec in value.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
            raise InvalidArgument(f'{where}: runtimes: {name}: expected {{"path": "..."}}')
        out[name] = spec["path"]
    return out


def parse_runtime(flag: str) -> tuple[str, str]:
    """``--add-runtime name=path``."""
    name, sep, path = flag.partition("=")
    if not sep or not name or not path:
        raise InvalidArgument(f"--add-runtime {flag!r}: expected name=path")
    return name, path


def build(flags: Mapping[str, Any], config_file: Path | None = None) -> DaemonConfig:
    """Merge ``flags`` (only those given on the command line) over the config file.

    ``flags`` uses DaemonConfig field names; ``runtimes`` holds the --add-runtime pairs.
    """
    explicit = config_file is not None
    path = config_file or DEFAULT_CONFIG_FILE
    from_file = read_file(path, explicit)
    conflicts = []
    for name, value in flags.items():
        if name == "runtimes" or name not in from_file:
            continue
        if from_file[name] != value:
            conflicts.append(
                f"{name.replace('_', '-')}: (from flag: {_show(value)}, "
                f"from file: {_show(from_file[name])})"
            )
    added: dict[str, str] = dict(flags.get("runtimes", {}))
    file_runtimes: dict[str, str] = from_file.get("runtimes", {})
    for name, rpath in added.items():
        if name in file_runtimes and file_runtimes[name] != rpath:
            conflicts.append(
                f"runtimes: {name} (from flag: {rpath}, from file: {file_runtimes[name]})"
            )
    if conflicts:
        raise InvalidArgument(
            f"unable to configure the Dockyard daemon with file {path}: the following "
            "directives are specified both as a flag and in the configuration file: "
            + "; ".join(conflicts)
        )
    values = {**from_file, **{k: v for k, v in flags.items() if k != "runtimes"}}
    values["runtimes"] = _runtimes(file_runtimes, added)
    for proxy, env in (
        ("http_proxy", "HTTP_PROXY"),
        ("https_proxy", "HTTPS_PROXY"),
        ("no_proxy", "NO_PROXY"),
    ):
        if proxy not in values:
            values[proxy] = os.environ.get(env, os.environ.get(env.lower(), ""))
    values["config_file"] = path
    config = DaemonConfig(**values)
    check(config)
    return config


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + " ".join(map(str, value)) + "]"
    return str(value)


def _runtimes(from_file: Mapping[str, str], added: Mapping[str, str]) -> Mapping[str, str]:
    runtimes = {BUILTIN_RUNTIME: BUILTIN_RUNTIME_PATH}
    for name in KNOWN_RUNTIMES:
        found = shutil.which(name)
        if found:
            runtimes[name] = found
    for name, path in {**from_file, **added}.items():
        if name == BUILTIN_RUNTIME:
            raise InvalidArgument(f"runtime name {name!r} is reserved for the built-in runtime")
        runtimes[name] = path
    return _frozen(runtimes)


def check(config: DaemonConfig) -> None:
    """Values that are well-formed but wrong (each message says what to use instead)."""
    if not config.hosts:
        raise InvalidArgument("no host to listen on: give -H unix:///path/to/socket")
    if config.storage_driver not in STORAGE_DRIVERS:
        raise InvalidArgument(
            f"unknown storage driver {config.storage_driver!r}: use one of "
            + ", ".join(STORAGE_DRIVERS)
        )
    if config.default_runtime not in config.runtimes:
        raise InvalidArgument(
            f"default runtime {config.default_runtime!r} is not configured: use one of "
            + ", ".join(sorted(config.runtimes))
            + " or add it with --add-runtime name=path"
        )
    if config.log_level not in LOG_LEVELS:
        raise InvalidArgument(
            f"unknown log level {config.log_level!r}: use one of " + ", ".join(LOG_LEVELS)
        )
    for name in ("data_root", "exec_root", "pidfile"):
        if not getattr(config, name).is_absolute():
            raise InvalidArgument(f"{name.replace('_', '-')} must be an absolute path")
    if config.shutdown_timeout < 0:
        raise InvalidArgument("shutdown-timeout must not be negative")
    _check_bridge(config)
    _check_registries(config)


def _check_registries(config: DaemonConfig) -> None:
    from dockyard.registry.hosts import check_insecure, normalize_mirror

    for mirror in config.registry_mirrors:
        normalize_mirror(mirror)
    for entry in config.insecure_registries:
        check_insecure(entry)


def _check_bridge(config: DaemonConfig) -> None:
    import ipaddress

    if not config.bridge or len(config.bridge) > 15:
        raise InvalidArgument("bridge must be an interface name of 1-15 characters, or none")
    if config.mtu and not 68 <= config.mtu <= 65535:
        raise InvalidArgument(f"mtu {config.mtu}: use 68 to 65535, or 0 for automatic")
    try:
        ipaddress.ip_address(config.ip)
    except ValueError:
        raise InvalidArgument(
            f"ip {config.ip!r}: use the host address to publish ports on"
        ) from None
    if config.firewall_backend not in ("", "iptables", "nftables"):
        raise InvalidArgument(
            f"firewall-backend {config.firewall_backend!r}: use iptables or nftables"
        )
    bip = None
    if config.bip:
        try:
            bip = ipaddress.IPv4Interface(config.bip)
        except ValueError:
            raise InvalidArgument(
                f"bip {config.bip!r}: use the bridge's address with its prefix, e.g. 172.30.0.1/16"
            ) from None
        if bip.ip in (bip.network.network_address, bip.network.broadcast_address):
            raise InvalidArgument(f"bip {config.bip}: use a host address of the subnet")
    if config.fixed_cidr:
        try:
            fixed = ipaddress.IPv4Network(config.fixed_cidr)
        except ValueError:
            raise InvalidArgument(
                f"fixed-cidr {config.fixed_cidr!r}: use a subnet such as 172.30.1.0/24"
            ) from None
        if bip is not None and not fixed.subnet_of(bip.network):
            raise InvalidArgument(f"fixed-cidr {fixed} is not inside bip's subnet {bip.network}")
