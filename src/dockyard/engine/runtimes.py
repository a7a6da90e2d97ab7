"""The OCI runtime of each container: ``HostConfig.Runtime`` (``run --runtime NAME``).

The daemon has a registry of runtimes by name (``dockyard`` built in, ``runc``/``crun``
when installed, ``--add-runtime name=path``) and a default one. As dockerd, create
stores the chosen name in the container's ``HostConfig.Runtime`` (the default's name
when none is asked for, so that inspect shows it and a later change of the daemon's
default does not move the container), and refuses a name the registry does not know
with dockerd's message. Every verb on the container then runs that runtime's binary:
the shim (create, start, exec, kill, delete), pause/resume, top, and the clean-up of a
dead run after a daemon restart.

All runtimes share one state root (``<exec_root>/runtime``): the container ids are
unique, and runc, crun and ours each skip the others' state in ``list``.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dockyard.errors import InvalidArgument

log = logging.getLogger(__name__)

BUILTIN_NAME = "dockyard"
BUILTIN_PATH = "dockyard-runtime"


def resolve_path(runtime: str) -> str:
    """The runtime's path: as given, on PATH, or next to our interpreter (the venv)."""
    if os.sep in runtime:
        return runtime
    found = shutil.which(runtime)
    if found:
        return found
    beside = Path(sys.executable).parent / runtime
    return str(beside) if beside.exists() else runtime


def _builtin() -> Mapping[str, str]:
    return MappingProxyType({BUILTIN_NAME: BUILTIN_PATH})


@dataclass(frozen=True)
class RuntimeRegistry:
    """The daemon's runtimes by name (name -> binary, as configured) and its default."""

    default: str = BUILTIN_NAME
    paths: Mapping[str, str] = field(default_factory=_builtin)

    @classmethod
    def single(cls, path: str) -> RuntimeRegistry:
        """A registry of one runtime binary, named after it (engines built without a
        daemon config: tests, tools)."""
        name = os.path.basename(path) or path
        if name in (BUILTIN_PATH, BUILTIN_NAME):  # ours, wherever it is installed
            name = BUILTIN_NAME
        return cls(default=name, paths=MappingProxyType({name: path}))

    def choose(self, host_config: dict[str, Any]) -> str:
        """The runtime name a new container gets; stored in ``HostConfig.Runtime``."""
        name = host_config.get("Runtime") or self.default
        if not isinstance(name, str) or name not in self.paths:
            raise InvalidArgument(f"unknown or invalid runtime name: {name}")
        host_config["Runtime"] = name
        return name

    def name_of(self, host_config: Mapping[str, Any]) -> str:
        """The runtime name of an existing container (records made before containers
        carried one ran under the default)."""
        name = host_config.get("Runtime")
        return name if isinstance(name, str) and name else self.default

    def path_for_start(self, host_config: Mapping[str, Any]) -> str:
        """The binary that starts the container; a name the daemon no longer knows (its
        config changed since create) is an error, as in dockerd."""
        name = self.name_of(host_config)
        if name not in self.paths:
            raise InvalidArgument(
                f"unknown or invalid runtime name: {name}: add it to the daemon "
                "(--add-runtime name=path) or create the container again"
            )
        return resolve_path(self.paths[name])

    def path_of(self, host_config: Mapping[str, Any]) -> str:
        """The binary for the verbs on a run that exists (pause, top, delete): the
        container's runtime; if the daemon no longer knows its name, the name itself
        on PATH (``runc``, ``crun``), else the default runtime."""
        name = self.name_of(host_config)
        if name in self.paths:
            return resolve_path(self.paths[name])
        found = shutil.which(name)
        if found:
            return found
        log.warning("runtime %r is not configured any more: using the default one", name)
        return resolve_path(self.paths.get(self.default, BUILTIN_PATH))
