"""OCI bundles for tests and benchmarks: a directory with a config.json over a given rootfs.

The base config is ``dockyard.runtime.specgen.default_spec()`` (what ``runc spec`` writes),
changed for unattended runs: no terminal, and a cgroupsPath named after the container id so
a leftover cgroup is recognisable by the leak check.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.runtime.specgen import default_spec

CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")

Config = dict[str, Any]


@dataclass
class Bundle:
    """A bundle directory and its config; change ``config`` then ``write()`` again."""

    path: Path
    config: Config

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    def write(self) -> Bundle:
        self.path.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(self.config, indent=2))
        return self


def _namespace(ns: str | Mapping[str, str]) -> dict[str, str]:
    return {"type": ns} if isinstance(ns, str) else dict(ns)


def make_config(
    rootfs: Path,
    *,
    args: Sequence[str] = ("true",),
    env: Sequence[str] | None = None,
    cwd: str | None = None,
    terminal: bool = False,
    hostname: str | None = "dockyard",
    domainname: str | None = None,
    user: Mapping[str, Any] | None = None,
    readonly: bool = True,
    mounts: Sequence[Mapping[str, Any]] = (),
    namespaces: Sequence[str | Mapping[str, str]] | None = None,
    uid_mappings: Sequence[Mapping[str, int]] | None = None,
    gid_mappings: Sequence[Mapping[str, int]] | None = None,
    rlimits: Sequence[Mapping[str, Any]] | None = None,
    capabilities: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    no_new_privileges: bool | None = None,
    oom_score_adj: int | None = None,
    sysctl: Mapping[str, str] | None = None,
    resources: Mapping[str, Any] | None = None,
    cgroups_path: str | None = None,
    hooks: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    edit: Callable[[Config], None] | None = None,
) -> Config:
    """The default spec with the given changes; ``None`` keeps the default.

    ``hostname=None`` removes the hostname; ``mounts`` are appended to the defaults;
    ``capabilities`` as a list sets every set except inheritable (as ``runc spec`` does);
    ``resources`` is merged into ``linux.resources``; ``edit`` gets the final dict last.
    """
    spec = default_spec()
    process = spec["process"]
    linux = spec["linux"]
    spec["root"] = {"path": str(rootfs), "readonly": readonly}
    process["args"] = list(args)
    process["terminal"] = terminal
    if env is not None:
        process["env"] = list(env)
    if cwd is not None:
        process["cwd"] = cwd
    if hostname is None:
        spec.pop("hostname", None)
    else:
        spec["hostname"] = hostname
    if domainname is not None:
        spec["domainname"] = domainname
    if user is not None:
        process["user"] = dict(user)
    spec["mounts"] += [dict(m) for m in mounts]
    if namespaces is not None:
        linux["namespaces"] = [_namespace(ns) for ns in namespaces]
    if uid_mappings is not None:
        linux["uidMappings"] = [dict(m) for m in uid_mappings]
    if gid_mappings is not None:
        linux["gidMappings"] = [dict(m) for m in gid_mappings]
    if rlimits is not None:
        process["rlimits"] = [dict(r) for r in rlimits]
    if capabilities is not None:
        if isinstance(capabilities, Mapping):
            process["capabilities"] = {k: list(v) for k, v in capabilities.items()}
        else:
            process["capabilities"] = {
                k: list(capabilities) for k in CAP_SETS if k != "inheritable"
            }
    if no_new_privileges is not None:
        process["noNewPrivileges"] = no_new_privileges
    if oom_score_adj is not None:
        process["oomScoreAdj"] = oom_score_adj
    if sysctl is not None:
        linux["sysctl"] = dict(sysctl)
    if resources is not None:
        linux.setdefault("resources", {}).update(resources)
    if cgroups_path is not None:
        linux["cgroupsPath"] = cgroups_path
    if hooks is not None:
        spec["hooks"] = {k: [dict(h) for h in v] for k, v in hooks.items()}
    if edit is not None:
        edit(spec)
    return spec


def make_bundle(path: Path, rootfs: Path, **changes: Any) -> Bundle:
    """Write ``path/config.json``: the default spec over ``rootfs`` with ``changes``."""
    return Bundle(path, make_config(rootfs, **changes)).write()
