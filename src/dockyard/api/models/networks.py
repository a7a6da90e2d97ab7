"""Docker's JSON of networks: Network (list and inspect), NetworkCreateRequest,
NetworkConnectRequest / NetworkDisconnectRequest, NetworkPruneResponse."""

from __future__ import annotations

from typing import Any

from dockyard.engine.containerports import ContainerNetworking
from dockyard.engine.networkrecord import CreateRequest, NetworkRecord
from dockyard.errors import InvalidArgument


def network(rec: NetworkRecord, containers: bool = True) -> dict[str, Any]:
    config: list[dict[str, str]] = []
    if rec.subnet:
        entry = {"Subnet": rec.subnet, "Gateway": rec.gateway}
        if rec.ip_range:
            entry["IPRange"] = rec.ip_range
        config.append(entry)
    doc: dict[str, Any] = {
        "Name": rec.name,
        "Id": rec.id,
        "Created": rec.created,
        "Scope": "local",
        "Driver": rec.driver,
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None if rec.predefined else {}, "Config": config},
        "Internal": rec.internal,
        "Attachable": rec.attachable,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": {},
        "Options": dict(rec.options),
        "Labels": dict(rec.labels),
    }
    if containers:
        prefix = rec.subnet.partition("/")[2]
        doc["Containers"] = {
            cid: {
                "Name": ep.container_name,
                "EndpointID": ep.endpoint_id,
                "MacAddress": ep.mac,
                "IPv4Address": f"{ep.address}/{prefix}" if ep.address else "",
                "IPv6Address": "",
            }
            for cid, ep in sorted(rec.endpoints.items())
        }
    return doc


def _object(body: Any, what: str) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidArgument(f"{what} must be a JSON object")
    return body


def _strings(doc: dict[str, Any], key: str) -> dict[str, str]:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"{key} must be an object of strings")
    return {str(k): str(v) for k, v in value.items()}


def _str(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"{key} must be a string")
    return value


def create_request(body: Any) -> CreateRequest:
    """``NetworkCreateRequest``; only one IPv4 IPAM config and the default IPAM driver."""
    doc = _object(body, "the network config")
    ipam = _object(doc.get("IPAM"), "IPAM")
    if _str(ipam, "Driver") not in ("", "default"):
        raise InvalidArgument(f"IPAM driver {ipam['Driver']!r} is not supported: use default")
    if doc.get("EnableIPv6"):
        raise InvalidArgument("IPv6 networks are not supported yet: leave --ipv6 off")
    configs = ipam.get("Config") or []
    if not isinstance(configs, list) or not all(isinstance(c, dict) for c in configs):
        raise InvalidArgument("IPAM.Config must be a list of objects")
    if len(configs) > 1:
        raise InvalidArgument("only one subnet per network is supported: give one --subnet")
    first: dict[str, Any] = configs[0] if configs else {}
    return CreateRequest(
        name=_str(doc, "Name"),
        driver=_str(doc, "Driver") or "bridge",
        subnet=_str(first, "Subnet"),
        gateway=_str(first, "Gateway"),
        ip_range=_str(first, "IPRange"),
        internal=bool(doc.get("Internal")),
        attachable=bool(doc.get("Attachable")),
        labels=_strings(doc, "Labels"),
        options=_strings(doc, "Options"),
    )


def connect_request(body: Any) -> tuple[str, list[str], str]:
    """``NetworkConnectRequest``: (Container, EndpointConfig.Aliases, IPAMConfig.IPv4Address)."""
    doc = _object(body, "the connect request")
    container = _str(doc, "Container")
    if not container:
        raise InvalidArgument("Container is required: the container to connect")
    endpoint = _object(doc.get("EndpointConfig"), "EndpointConfig")
    aliases = endpoint.get("Aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise InvalidArgument("EndpointConfig.Aliases must be a list of strings")
    ipam = _object(endpoint.get("IPAMConfig"), "IPAMConfig")
    return container, list(aliases), _str(ipam, "IPv4Address")


def disconnect_request(body: Any) -> tuple[str, bool]:
    doc = _object(body, "the disconnect request")
    container = _str(doc, "Container")
    if not container:
        raise InvalidArgument("Container is required: the container to disconnect")
    return container, bool(doc.get("Force"))


def _endpoints(
    networking: ContainerNetworking, container_id: str, running: bool
) -> dict[str, dict[str, Any]]:
    """``EndpointSettings`` by network name; addresses only while the container runs."""
    out = {}
    for name, (rec, ep) in sorted(networking.networks.endpoints_of(container_id).items()):
        linked = running and bool(ep.host_ifname)
        out[name] = {
            "IPAMConfig": {"IPv4Address": ep.requested_ip} if ep.requested_ip else None,
            "Links": None,
            "Aliases": ep.aliases or None,
            "MacAddress": ep.mac if linked else "",
            "NetworkID": rec.id,
            "EndpointID": ep.endpoint_id if linked else "",
            "Gateway": rec.gateway if linked else "",
            "IPAddress": ep.address if linked else "",
            "IPPrefixLen": rec.prefixlen if linked else 0,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "DriverOpts": None,
            "DNSNames": None,
        }
    return out


def fill_container(doc: dict[str, Any], networking: ContainerNetworking, container_id: str) -> None:
    """A container inspect's ``NetworkSettings`` from its endpoints and published ports:
    ``Networks`` by name, the default bridge's address at the top level (as dockerd),
    ``Ports`` with the exposed but unpublished ones as null."""
    settings = doc.setdefault("NetworkSettings", {})
    running = bool((doc.get("State") or {}).get("Running"))
    networks = _endpoints(networking, container_id, running)
    if networks:
        settings["Networks"] = networks
        default = networks.get("bridge")
        if default is not None and networking.networks.has_network("bridge"):
            for key in ("EndpointID", "Gateway", "IPAddress", "IPPrefixLen", "MacAddress"):
                settings[key] = default[key]
    if running:
        ports: dict[str, Any] = dict(networking.ports_of(container_id))
        exposed = (doc.get("Config") or {}).get("ExposedPorts") or {}
        for key in exposed:
            ports.setdefault(key, None)
        settings["Ports"] = ports


def fill_summary(doc: dict[str, Any], networking: ContainerNetworking) -> None:
    """A ``ContainerSummary``'s ``NetworkSettings.Networks`` and ``Ports`` (``docker ps``)."""
    cid = str(doc.get("Id", ""))
    running = doc.get("State") == "running"
    networks = _endpoints(networking, cid, running)
    if networks:
        doc.setdefault("NetworkSettings", {})["Networks"] = networks
    if running:
        listed = []
        for key, bindings in networking.ports_of(cid).items():
            port, _, proto = key.partition("/")
            for b in bindings:
                listed.append(
                    {
                        "IP": b["HostIp"],
                        "PrivatePort": int(port),
                        "PublicPort": int(b["HostPort"]),
                        "Type": proto,
                    }
                )
        if listed:
            doc["Ports"] = listed
