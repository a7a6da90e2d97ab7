"""Two ``HostConfig`` fields that become cgroup settings of the OCI spec, as dockerd
treats them: ``DeviceCgroupRules`` (``--device-cgroup-rule 'c 1:3 rwm'``) and
``OomKillDisable`` (``--oom-kill-disable``).

A device cgroup rule lets the container use (open, and ``mknod`` with ``m``) devices it
has no node for: ``TYPE MAJOR:MINOR ACCESS`` with ``a``/``b``/``c``, numbers or ``*`` and
letters of ``rwm``; each becomes an allow entry of ``linux.resources.devices`` after the
default ones (a privileged container may use every device anyway). Create checks them
with dockerd's pattern and message, so a bad rule is a 400 and not a failed start.

``OomKillDisable`` is ``linux.resources.memory.disableOOMKiller``: only a cgroup v1
memory controller has the switch (``memory.oom_control``), so elsewhere it is discarded
with dockerd's warning; without a memory limit it is kept and warned about, as dockerd
does, because the whole host may then run out of memory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument

# dockerd's deviceCgroupRuleRegex (daemon/oci_linux.go)
RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")

NO_OOM_CONTROL = "Your kernel does not support OomKillDisable. OomKillDisable discarded."
NO_MEMORY_LIMIT = (
    "OOM killer is disabled for the container, but no memory limit is set, this can "
    "result in the system running out of resources."
)


def parse_rule(text: str) -> dict[str, Any]:
    """One rule as an OCI ``linux.resources.devices`` entry (``*``: the key is left out,
    the OCI wildcard)."""
    match = RULE.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidArgument(f"invalid device cgroup rule format: '{text}'")
    kind, major, minor, access = match.groups()
    entry: dict[str, Any] = {"allow": True, "type": kind}
    if major != "*":
        entry["major"] = int(major)
    if minor != "*":
        entry["minor"] = int(minor)
    entry["access"] = access
    return entry


def device_rules(host_config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The allow entries of ``HostConfig.DeviceCgroupRules``, in the order given."""
    rules = host_config.get("DeviceCgroupRules") or []
    if not isinstance(rules, list):
        raise InvalidArgument("DeviceCgroupRules: expected a list of rules like 'c 1:3 rwm'")
    return [parse_rule(rule) for rule in rules]


def oom_control_supported(cgroup_root: Path = Path("/sys/fs/cgroup")) -> bool:
    """Is there a v1 memory controller with ``memory.oom_control`` (dockerd's probe)?"""
    return (cgroup_root / "memory" / "memory.oom_control").exists()


def check(hc: dict[str, Any], cgroup_root: Path = Path("/sys/fs/cgroup")) -> list[str]:
    """Validate at create; answer dockerd's warnings (a discarded OomKillDisable is
    cleared in ``hc``, as dockerd stores it)."""
    device_rules(hc)
    warnings: list[str] = []
    disable = hc.get("OomKillDisable")
    if disable is not None and not isinstance(disable, bool):
        raise InvalidArgument("OomKillDisable: expected true or false")
    if disable is not None and not oom_control_supported(cgroup_root):
        if disable:
            warnings.append(NO_OOM_CONTROL)
        hc["OomKillDisable"] = None
        disable = None
    if disable and not int(hc.get("Memory") or 0):
        warnings.append(NO_MEMORY_LIMIT)
    return warnings


def memory_settings(host_config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``linux.resources.memory`` keys of ``OomKillDisable``."""
    return {"disableOOMKiller": True} if host_config.get("OomKillDisable") else {}
