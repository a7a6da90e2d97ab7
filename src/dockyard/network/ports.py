"""Published ports of the bridge driver: the pure ``-p``/``PortBindings`` logic lives in
``dockyard.types.ports`` (the CLI parses ``-p`` with it too); this module is the network
layer's name for it."""

from __future__ import annotations

from dockyard.types.ports import (
    EPHEMERAL_FIRST,
    EPHEMERAL_LAST,
    PROTOCOLS,
    PortMapping,
    choose_host_port,
    exposed_mappings,
    from_bindings,
    parse_spec,
    parse_specs,
    to_bindings,
)

__all__ = [
    "EPHEMERAL_FIRST",
    "EPHEMERAL_LAST",
    "PROTOCOLS",
    "PortMapping",
    "choose_host_port",
    "exposed_mappings",
    "from_bindings",
    "parse_spec",
    "parse_specs",
    "to_bindings",
]
