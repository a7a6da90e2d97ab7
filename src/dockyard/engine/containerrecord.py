"""One container's record (``config.v2.json``) and the views the API reads of it.

``Container`` is the mutable record the service owns; ``ContainerView`` is the frozen
snapshot handed out (everything ContainerInspect and ContainerSummary need).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dockyard._internal.atomicfile import write_atomic
from dockyard._internal.humanize import human_duration

from .healthstate import status_suffix

ZERO_TIME = "0001-01-01T00:00:00Z"
RECORD_FILE = "config.v2.json"


@dataclass(frozen=True)
class ContainerState:
    status: str  # created|running|paused|restarting|removing|exited|dead
    running: bool
    paused: bool
    restarting: bool
    oom_killed: bool
    dead: bool
    pid: int
    exit_code: int
    error: str
    started_at: str  # RFC 3339 with nanoseconds; ZERO_TIME when never
    finished_at: str
    health: dict[str, Any] | None = None  # healthstate's record; None: no healthcheck ran


@dataclass(frozen=True)
class MountPoint:
    type: str  # bind|volume|tmpfs
    source: str  # the host path (a volume's _data); empty for tmpfs
    destination: str
    mode: str
    rw: bool
    propagation: str
    name: str = ""  # the volume's name
    driver: str = ""  # the volume's driver
    anonymous: bool = False  # an anonymous volume: removed by rm -v / --rm
    copy_data: bool = True  # fill an empty volume with the image's files at destination
    recursive: bool = True  # rbind (bind for BindOptions.NonRecursive)
    data: str = ""  # tmpfs options


@dataclass(frozen=True)
class ContainerView:
    """One container as the API needs it (ContainerInspect, ContainerSummary)."""

    id: str
    name: str  # with the leading "/"
    created: str  # RFC 3339 nano
    created_unix: int
    path: str
    args: tuple[str, ...]
    config: dict[str, Any]  # Config (merged with the image's), Docker names
    host_config: dict[str, Any]  # HostConfig as given (NetworkMode filled in)
    state: ContainerState
    image: str  # "sha256:<hex>"
    image_name: str  # Config.Image as given at create
    resolv_conf_path: str
    hostname_path: str
    hosts_path: str
    log_path: str
    restart_count: int
    driver: str
    platform: str
    mounts: tuple[MountPoint, ...] = ()
    size_rw: int | None = None
    size_root_fs: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    command: str = ""  # ContainerSummary.Command
    status_text: str = ""  # ContainerSummary.Status: "Up 5 seconds", "Exited (0) 3 ..."


@dataclass
class Container:
    id: str
    name: str
    created: str
    created_unix: float
    path: str
    args: list[str]
    config: dict[str, Any]
    host_config: dict[str, Any]
    image: str
    image_name: str
    driver: str
    platform: str = "linux"
    status: str = "created"
    pid: int = 0
    exit_code: int = 0
    oom_killed: bool = False
    error: str = ""
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    finished_unix: float = 0.0
    started_unix: float = 0.0
    restart_count: int = 0
    exits: int = 0  # how many times it exited (for wait next-exit)
    manually_stopped: bool = False  # dockerd's HasBeenManuallyStopped (restarts.py)
    mounts: list[dict[str, Any]] | None = None  # MountPoint fields; None: made before volumes
    health: dict[str, Any] | None = None  # State.Health (healthstate.py); None: never probed

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused")

    def save(self, data_dir: Path) -> None:
        write_atomic(
            str(data_dir / RECORD_FILE),
            json.dumps(asdict(self), indent=1).encode(),
            mode=0o600,
            durable=True,
        )

    @classmethod
    def load(cls, data_dir: Path) -> Container:
        doc = json.loads((data_dir / RECORD_FILE).read_text())
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in doc.items() if k in known})

    def view(self, data_dir: Path, now: float | None = None) -> ContainerView:
        now = time.time() if now is None else now
        mode = str(self.host_config.get("NetworkMode") or "")
        # container:<id> uses the other container's hostname, hosts and resolv.conf
        files = data_dir.parent / mode[10:] if mode.startswith("container:") else data_dir
        state = ContainerState(
            status=self.status,
            running=self.running or self.status == "restarting",  # as dockerd's State
            paused=self.status == "paused",
            restarting=self.status == "restarting",
            oom_killed=self.oom_killed,
            dead=self.status == "dead",
            pid=self.pid if self.running else 0,
            exit_code=self.exit_code,
            error=self.error,
            started_at=self.started_at,
            finished_at=self.finished_at,
            health=json.loads(json.dumps(self.health)) if self.health is not None else None,
        )
        return ContainerView(
            id=self.id,
            name=self.name,
            created=self.created,
            created_unix=int(self.created_unix),
            path=self.path,
            args=tuple(self.args),
            config=json.loads(json.dumps(self.config)),
            host_config=json.loads(json.dumps(self.host_config)),
            state=state,
            image=self.image,
            image_name=self.image_name,
            resolv_conf_path=str(files / "resolv.conf"),
            hostname_path=str(files / "hostname"),
            hosts_path=str(files / "hosts"),
            log_path=str(data_dir / f"{self.id}-json.log"),
            restart_count=self.restart_count,
            driver=self.driver,
            platform=self.platform,
            mounts=mount_points(self.host_config)
            if self.mounts is None
            else tuple(MountPoint(**m) for m in self.mounts),
            labels=dict(self.config.get("Labels") or {}),
            command=" ".join([self.path, *self.args]),
            status_text=status_text(self, now),
        )


def mount_points(host_config: dict[str, Any]) -> tuple[MountPoint, ...]:
    out = []
    for bind in host_config.get("Binds") or []:
        parts = bind.split(":")
        if len(parts) < 2:
            continue
        mode = parts[2] if len(parts) > 2 else ""
        opts = mode.split(",")
        propagation = next(
            (o for o in opts if o.endswith(("private", "shared", "slave"))), "rprivate"
        )
        out.append(MountPoint("bind", parts[0], parts[1], mode, "ro" not in opts, propagation))
    return tuple(out)


def status_text(c: Container, now: float) -> str:
    if c.status == "running":
        return f"Up {human_duration(now - c.started_unix)}{status_suffix(c.health)}"
    if c.status == "paused":
        return f"Up {human_duration(now - c.started_unix)} (Paused)"
    if c.status == "restarting":
        return f"Restarting ({c.exit_code}) {human_duration(now - c.finished_unix)} ago"
    if c.status == "exited":
        return f"Exited ({c.exit_code}) {human_duration(now - c.finished_unix)} ago"
    if c.status == "removing":
        return "Removal In Progress"
    if c.status == "dead":
        return "Dead"
    return "Created"
