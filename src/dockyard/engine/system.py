"""The system service: what ``docker version`` and ``docker info`` report about this host.

The daemon hands it a frozen ``SystemSettings`` (the parts of its config that are
reported); the API layer turns the values here into Docker's PascalCase JSON and adds
what it owns itself (the API versions).
"""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dockyard import __version__
from dockyard._internal.atomicfile import write_atomic
from dockyard.cgroups.detect import LayoutKind, discover

ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "i386": "386"}


@dataclass(frozen=True)
class SystemSettings:
    """The daemon's configuration as far as ``info`` reports it."""

    data_root: Path
    exec_root: Path
    storage_driver: str
    default_runtime: str
    runtimes: Mapping[str, str]  # name -> executable
    http_proxy: str = ""
    https_proxy: str = ""
    no_proxy: str = ""
    debug: bool = False
    cgroup_driver: str = "cgroupfs"
    insecure_registries: tuple[str, ...] = ()
    registry_mirrors: tuple[str, ...] = ()


@dataclass(frozen=True)
class VersionInfo:
    version: str
    git_commit: str
    python_version: str
    os: str
    arch: str
    kernel_version: str
    build_time: str


@dataclass(frozen=True)
class SystemInfo:
    id: str
    containers: int
    running: int
    paused: int
    stopped: int
    images: int
    driver: str
    driver_status: tuple[tuple[str, str], ...]
    root_dir: Path
    exec_root: Path
    ncpu: int
    mem_total: int
    kernel_version: str
    operating_system: str
    os_version: str
    architecture: str
    name: str
    server_version: str
    default_runtime: str
    runtimes: Mapping[str, str]
    cgroup_driver: str
    cgroup_version: str
    http_proxy: str
    https_proxy: str
    no_proxy: str
    debug: bool
    system_time: str
    warnings: tuple[str, ...] = ()
    labels: tuple[str, ...] = field(default=())
    events_listeners: int = 0
    insecure_registries: tuple[str, ...] = ()  # as configured: names and CIDRs
    registry_mirrors: tuple[str, ...] = ()


class SystemService:
    """``version`` and ``info``; ``image_count`` and ``container_statuses`` are seams to
    the image store and the container service."""

    def __init__(
        self,
        settings: SystemSettings,
        image_count: Callable[[], int] | None = None,
        container_statuses: Callable[[], Awaitable[list[str]]] | None = None,
        events_listeners: Callable[[], int] | None = None,
    ) -> None:
        self._events_listeners = events_listeners
        self.settings = settings
        self._image_count = image_count
        self._container_statuses = container_statuses
        self._id = engine_id(settings.data_root)

    def version(self) -> VersionInfo:
        return VersionInfo(
            version=__version__,
            git_commit=git_commit(),
            python_version=f"python{platform.python_version()}",
            os="linux",
            arch=ARCH.get(platform.machine(), platform.machine()),
            kernel_version=platform.release(),
            build_time=build_time(),
        )

    async def info(self) -> SystemInfo:
        s = self.settings
        images = await asyncio.to_thread(self._image_count) if self._image_count else 0
        statuses = await self._container_statuses() if self._container_statuses else []
        os_name, os_version = os_release()
        return SystemInfo(
            id=self._id,
            containers=len(statuses),
            running=statuses.count("running"),
            paused=statuses.count("paused"),
            stopped=len(statuses) - statuses.count("running") - statuses.count("paused"),
            images=images,
            driver=s.storage_driver,
            driver_status=(("Backing Filesystem", backing_fs(s.data_root)),),
            root_dir=s.data_root,
            exec_root=s.exec_root,
            ncpu=len(os.sched_getaffinity(0)),
            mem_total=mem_total(),
            kernel_version=platform.release(),
            operating_system=os_name,
            os_version=os_version,
            architecture=platform.machine(),
            name=socket.gethostname(),
            server_version=__version__,
            default_runtime=s.default_runtime,
            runtimes=dict(s.runtimes),
            cgroup_driver=s.cgroup_driver,
            cgroup_version=cgroup_version(),
            http_proxy=s.http_proxy,
            https_proxy=s.https_proxy,
            no_proxy=s.no_proxy,
            debug=s.debug,
            system_time=datetime.now(UTC).astimezone().isoformat(),
            events_listeners=self._events_listeners() if self._events_listeners else 0,
            insecure_registries=s.insecure_registries,
            registry_mirrors=s.registry_mirrors,
        )


def engine_id(data_root: Path) -> str:
    """A stable id of this engine, kept in ``<data_root>/engine-id`` (made on first use)."""
    path = data_root / "engine-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    new = str(uuid.uuid4())
    data_root.mkdir(parents=True, exist_ok=True)
    write_atomic(str(path), new.encode() + b"\n", 0o600, durable=True)
    return new


def os_release(path: str = "/etc/os-release") -> tuple[str, str]:
    """(PRETTY_NAME, VERSION_ID) from os-release; "Linux" and "" when it is missing."""
    values: dict[str, str] = {}
    try:
        with open(path) as f:
            for line in f:
                key, sep, value = line.strip().partition("=")
                if sep:
                    values[key] = value.strip().strip("\"'")
    except OSError:
        pass
    return values.get("PRETTY_NAME", "Linux"), values.get("VERSION_ID", "")


def mem_total(path: str = "/proc/meminfo") -> int:
    """MemTotal in bytes."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def backing_fs(path: Path, mountinfo: str = "/proc/self/mountinfo") -> str:
    """The file system type of the mount that holds ``path`` (Docker's "Backing Filesystem")."""
    target = os.path.realpath(path)
    best, fstype = "", "unknown"
    try:
        with open(mountinfo) as f:
            for line in f:
                fields = line.split()
                point = fields[4].replace("\\040", " ")
                sep = fields.index("-")
                inside = target == point or target.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best):
                    best, fstype = point, fields[sep + 1]
    except (OSError, ValueError, IndexError):
        pass
    return {"ext4": "extfs", "ext3": "extfs", "ext2": "extfs"}.get(fstype, fstype)


def cgroup_version() -> str:
    try:
        kind = discover().kind
    except Exception:
        return "1"
    return "2" if kind == LayoutKind.V2 else "1"


def git_commit() -> str:
    """The commit of the source tree this package runs from, or "unknown"."""
    top = Path(__file__).resolve().parents[3]
    head = top / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if not ref.startswith("ref: "):
            return ref[:12]
        name = ref[len("ref: ") :]
        loose = top / ".git" / name
        if loose.exists():
            return loose.read_text().strip()[:12]
        for line in (top / ".git" / "packed-refs").read_text().splitlines():
            if line.endswith(" " + name):
                return line.split()[0][:12]
    except OSError:
        pass
    return "unknown"


def build_time() -> str:
    """When the installed package was last changed (there is no separate build step)."""
    try:
        mtime = Path(sys.modules["dockyard"].__file__ or "").stat().st_mtime
    except (OSError, KeyError):
        return ""
    return datetime.fromtimestamp(mtime, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000000+00:00")
