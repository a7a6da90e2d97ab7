"""``RegistryConfig`` of ``GET /info``, as dockerd builds it from ``insecure-registries``
and ``registry-mirrors``: loopback CIDRs always insecure, each named insecure registry
an index config of its own, docker.io's with the mirrors."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from dockyard.registry.hosts import normalize_mirror

LOOPBACK = ("127.0.0.0/8", "::1/128")


def registry_config(insecure: Sequence[str], mirrors: Sequence[str]) -> dict[str, Any]:
    urls = [normalize_mirror(m) for m in mirrors]
    cidrs = list(LOOPBACK)
    indexes: dict[str, Any] = {
        "docker.io": {"Name": "docker.io", "Mirrors": urls, "Secure": True, "Official": True}
    }
    for entry in insecure:
        try:
            net = str(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            indexes[entry] = {"Name": entry, "Mirrors": [], "Secure": False, "Official": False}
            continue
        if net not in cidrs:
            cidrs.append(net)
    return {
        "AllowNondistributableArtifactsCIDRs": None,
        "AllowNondistributableArtifactsHostnames": None,
        "InsecureRegistryCIDRs": cidrs,
        "IndexConfigs": indexes,
        "Mirrors": urls,
    }
