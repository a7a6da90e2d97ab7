"""The network options of ``create`` and ``run`` and the create-body fields they set, as
the docker CLI sends them: ``-p/--publish``, ``-P/--publish-all``, ``--expose``, ``--ip``,
``--network-alias``, ``--mac-address`` (``NetworkingConfig.EndpointsConfig``), ``--dns``,
``--dns-search``, ``--dns-option``, ``--add-host``.

``-p`` is parsed by ``dockyard.types.ports``, the parser the daemon uses, so a malformed
spec fails here with the daemon's words before anything is sent.
"""

from __future__ import annotations

from dockyard.cli.errors import UsageError
from dockyard.cli.flags import BOOL, LIST, STRING, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NET_FLAGS = [
    Flag("add-host", kind=LIST, help="Add a custom host-to-IP mapping (host:ip)"),
    Flag("dns", kind=LIST, help="Set custom DNS servers"),
    Flag("dns-option", kind=LIST, help="Set DNS options"),
    Flag("dns-opt", kind=LIST, help="Set DNS options"),
    Flag("dns-search", kind=LIST, help="Set custom DNS search domains"),
    Flag("expose", kind=LIST, help="Expose a port or a range of ports"),
    Flag("ip", kind=STRING, help="IPv4 address (e.g., 172.30.100.104)"),
    Flag("link", kind=LIST, help="Add link to another container"),
    Flag("mac-address", kind=STRING, help="Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    Flag("network-alias", kind=LIST, help="Add network-scoped alias for the container"),
    Flag("publish", "p", LIST, "Publish a container's port(s) to the host"),
    Flag("publish-all", "P", BOOL, "Publish all exposed ports to random ports"),
]


def _bad(value: str, flag: str, why: str) -> UsageError:
    return UsageError(f'invalid argument "{value}" for "--{flag}" flag: {why}', "run")


def _ip(value: str, flag: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _bad(value, flag, f"{value} is not an ip address") from None


def _add_host(spec: str) -> str:
    """``host:ip`` (or ``host=ip``) with an IP address or ``host-gateway``, as docker sends."""
    sep = "=" if "=" in spec else ":"
    host, _, addr = spec.partition(sep)
    if not host or not addr:
        raise _bad(spec, "add-host", f"bad format for add-host: {spec!r}")
    if addr != "host-gateway":
        addr = _ip(addr.strip("[]"), "add-host")
    return f"{host}:{addr}"


def _link(spec: str) -> str:
    """``name[:alias]`` as the docker CLI checks it."""
    name, sep, alias = spec.partition(":")
    if not name or (sep and not alias) or alias.count(":"):
        raise _bad(spec, "link", f"invalid link format: {spec}")
    return spec


def _mac(value: str) -> str:
    parts = value.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and _is_hex(p) for p in parts):
        raise _bad(value, "mac-address", f"{value} is not a valid mac address")
    return value.lower()


def _is_hex(text: str) -> bool:
    return all(ch in "0123456789abcdefABCDEF" for ch in text)


def _exposed(specs: list[str]) -> list[str]:
    out = []
    for spec in specs:
        body, _, proto = spec.partition("/")
        first, sep, last = body.partition("-")
        if not first.isdigit() or (sep and not last.isdigit()):
            raise _bad(spec, "expose", f"invalid range format for --expose: {spec}")
        for port in range(int(first), int(last if sep else first) + 1):
            out.append(f"{port}/{proto or 'tcp'}")
    return out


def net_settings(opts: dict[str, Any], network_mode: str) -> tuple[dict[str, Any], ...]:
    """(Config fields, HostConfig fields, NetworkingConfig or {}) of the options given."""
    config: dict[str, Any] = {}
    host: dict[str, Any] = {}
    exposed = _exposed(opts["expose"])
    if opts["publish"]:
        from dockyard.errors import DockyardError
        from dockyard.types import ports  # only then: it imports ipaddress and random

        try:
            mappings = ports.parse_specs(opts["publish"])
        except DockyardError as e:
            raise UsageError(f"invalid argument for -p/--publish: {e}", "run") from None
        host["PortBindings"] = ports.to_bindings(mappings)
        exposed += [m.key for m in mappings]  # docker exposes what it publishes
    if exposed:
        config["ExposedPorts"] = {key: {} for key in dict.fromkeys(exposed)}
    if opts["publish_all"]:
        host["PublishAllPorts"] = True
    if opts["dns"]:
        host["Dns"] = [_ip(d, "dns") for d in opts["dns"]]
    if opts["dns_search"]:
        host["DnsSearch"] = list(opts["dns_search"])
    if opts["dns_option"] or opts["dns_opt"]:
        host["DnsOptions"] = [*opts["dns_option"], *opts["dns_opt"]]
    if opts["add_host"]:
        host["ExtraHosts"] = [_add_host(h) for h in opts["add_host"]]
    if opts["link"]:
        host["Links"] = [_link(spec) for spec in opts["link"]]
    endpoint: dict[str, Any] = {}
    if opts["ip"]:
        endpoint["IPAMConfig"] = {"IPv4Address": _ip(opts["ip"], "ip")}
    if opts["network_alias"]:
        endpoint["Aliases"] = list(opts["network_alias"])
    if opts["mac_address"]:
        endpoint["MacAddress"] = _mac(opts["mac_address"])
        config["MacAddress"] = endpoint["MacAddress"]  # where API < 1.44 reads it
    networking = {"EndpointsConfig": {network_mode: endpoint}} if endpoint else {}
    return config, host, networking


# the docker CLI's config.json ``proxies`` keys and the variables each one sets
_PROXY_VARS = {
    "httpProxy": "HTTP_PROXY",
    "httpsProxy": "HTTPS_PROXY",
    "noProxy": "NO_PROXY",
    "ftpProxy": "FTP_PROXY",
    "allProxy": "ALL_PROXY",
}


def with_proxy_env(env: list[str], host: str = "") -> list[str]:
    """``env`` plus the proxies of the docker CLI's config.json (``proxies.default``, or
    the entry of the daemon's ``host``), upper and lower case, as docker adds them to
    ``run``/``create``: a variable the user set (either case) is left alone."""
    from dockyard._internal import fastjson
    from dockyard.cli.distribution import config_path

    try:
        with open(config_path(), "rb") as f:
            proxies = fastjson.loads(f.read()).get("proxies") or {}
    except (OSError, ValueError, AttributeError):
        return env
    entry = proxies.get(host) or proxies.get("default") if isinstance(proxies, dict) else None
    if not isinstance(entry, dict):
        return env
    given = {e.partition("=")[0] for e in env}
    out = list(env)
    for key, var in _PROXY_VARS.items():
        value = entry.get(key)
        if not isinstance(value, str) or not value:
            continue
        if var in given or var.lower() in given:
            continue
        out += [f"{var}={value}", f"{var.lower()}={value}"]
    return out
