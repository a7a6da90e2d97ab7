"""A container's mount requests, parsed from its create body as dockerd does.

``plan`` reads ``HostConfig.Binds`` (``src:dst[:mode]``), ``HostConfig.Mounts`` (``--mount``
documents) and ``Config.Volumes`` (``-v /path`` and the image's ``VOLUME``s) into
``MountRequest``s: what to bind, which volume to use or create, which tmpfs to make.
Errors carry dockerd's messages (``invalid volume specification: '...'``, ``invalid mount
config for type "bind": ...``, ``Duplicate mount point: /x``). ``oci_mounts`` turns the
resolved mount points (and ``HostConfig.Tmpfs``) into OCI ``mounts`` entries. Pure: no
file system access apart from ``check_sources``.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidArgument, NotSupported

from .containerrecord import MountPoint

RW_MODES = frozenset({"rw", "ro"})
LABEL_MODES = frozenset({"z", "Z"})
PROPAGATIONS = frozenset({"private", "rprivate", "slave", "rslave", "shared", "rshared"})
CONSISTENCIES = frozenset({"consistent", "cached", "delegated", "default"})
COPY_MODES = frozenset({"nocopy"})
DEFAULT_PROPAGATION = "rprivate"
TMPFS_DEFAULTS = ("noexec", "nosuid", "nodev")


@dataclass(frozen=True)
class MountRequest:
    """One mount a container asks for; ``source`` is a host path (bind), a volume name
    (volume; empty for an anonymous one) or empty (tmpfs)."""

    type: str
    destination: str
    source: str = ""
    rw: bool = True
    mode: str = ""
    propagation: str = ""
    copy_data: bool = True
    recursive: bool = True
    must_exist: bool = False  # a --mount bind source is not created (dockerd's rule)
    volume_driver: str = "local"
    volume_labels: dict[str, str] | None = None
    volume_options: dict[str, str] | None = field(default=None)
    tmpfs_data: str = ""


def valid_mode(mode: str) -> bool:
    """dockerd's linuxValidMountMode: each kind of option at most once, nothing else."""
    if not mode:
        return True
    counts = {"rw": 0, "label": 0, "propagation": 0, "copy": 0, "consistency": 0}
    for opt in mode.split(","):
        kind = (
            "rw" if opt in RW_MODES
            else "label" if opt in LABEL_MODES
            else "propagation" if opt in PROPAGATIONS
            else "copy" if opt in COPY_MODES
            else "consistency" if opt in CONSISTENCIES - {"default"}
            else ""
        )  # fmt: skip
        if not kind:
            return False
        counts[kind] += 1
    return all(n <= 1 for n in counts.values())


def _check_target(kind: str, target: str) -> str:
    if not target:
        raise InvalidArgument(
            f'invalid mount config for type "{kind}": field Target must not be empty'
        )
    if not target.startswith("/"):
        raise InvalidArgument(f"invalid mount path: '{target}' mount path must be absolute")
    clean = "/" + posixpath.normpath(target).lstrip("/")
    if clean == "/":
        raise InvalidArgument("invalid specification: destination can't be '/'")
    return clean


def parse_bind(spec: str) -> MountRequest:
    """One ``HostConfig.Binds`` entry: ``/host:/ctr[:mode]`` or ``volume:/ctr[:mode]``."""
    parts = spec.split(":")
    invalid = f"invalid volume specification: '{spec}'"
    if not parts[0] or len(parts) > 3:
        raise InvalidArgument(invalid)
    if len(parts) == 1:
        source, target, mode = "", parts[0], ""
    elif len(parts) == 2:
        if valid_mode(parts[1]) and parts[1]:
            raise InvalidArgument(invalid)  # "/foo:rw": a mode without a source
        source, target, mode = parts[0], parts[1], ""
    else:
        source, target, mode = parts
    if not valid_mode(mode):
        raise InvalidArgument(f"invalid mode: {mode}")
    opts = mode.split(",") if mode else []
    kind = "bind" if source.startswith("/") else "volume"
    propagation = next((o for o in opts if o in PROPAGATIONS), "")
    try:
        target = _check_target(kind, target)
        if kind == "bind" and "nocopy" in opts:
            raise InvalidArgument(
                'invalid mount config for type "bind": field VolumeOptions must not be specified'
            )
        if kind == "volume" and propagation:
            raise InvalidArgument(
                'invalid mount config for type "volume": field BindOptions must not be specified'
            )
    except InvalidArgument as e:
        raise InvalidArgument(f"{invalid}: {e}") from None
    return MountRequest(
        type=kind,
        destination=target,
        source=posixpath.normpath(source) if kind == "bind" else source,
        rw="ro" not in opts,
        mode=mode or ("z" if kind == "volume" else ""),  # dockerd's setBindModeIfNull
        propagation=propagation or (DEFAULT_PROPAGATION if kind == "bind" else ""),
        copy_data="nocopy" not in opts,
    )


def tmpfs_options(options: Mapping[str, Any] | None, read_only: bool) -> str:
    """dockerd's ConvertTmpfsOptions: ``ro``, ``mode=<octal>``, ``size=<n>[kmg]``."""
    raw = ["ro"] if read_only else []
    options = options or {}
    mode = int(options.get("Mode") or 0)
    if mode:
        raw.append(f"mode={mode:o}")
    size = int(options.get("SizeBytes") or 0)
    if size < 0:
        raise InvalidArgument('invalid mount config for type "tmpfs": invalid tmpfs size')
    if size:
        for suffix, divisor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if size % divisor == 0:
                raw.append(f"size={size // divisor}{suffix}")
                break
        else:
            raw.append(f"size={size}")
    return ",".join(raw)


def parse_mount(doc: Mapping[str, Any]) -> MountRequest:
    """One ``HostConfig.Mounts`` document (``--mount``)."""
    kind = str(doc.get("Type") or "")
    source = str(doc.get("Source") or "")
    read_only = bool(doc.get("ReadOnly"))
    bind_opts = doc.get("BindOptions")
    volume_opts = doc.get("VolumeOptions")
    tmpfs_opts = doc.get("TmpfsOptions")

    def fail(message: str) -> InvalidArgument:
        return InvalidArgument(f'invalid mount config for type "{kind}": {message}')

    def extra(name: str, value: Any) -> None:
        if value:
            raise fail(f"field {name} must not be specified")

    if kind not in ("bind", "volume", "tmpfs"):
        if kind in ("npipe", "cluster", "image"):
            raise NotSupported(f"mount type {kind!r} is not supported: use bind, volume or tmpfs")
        raise fail("mount type unknown")
    target = _check_target(kind, str(doc.get("Target") or ""))
    if kind == "bind":
        extra("VolumeOptions", volume_opts)
        extra("TmpfsOptions", tmpfs_opts)
        if not source:
            raise fail("field Source must not be empty")
        if not source.startswith("/"):
            raise fail(f"invalid mount path: '{source}' mount path must be absolute")
        bind_opts = bind_opts or {}
        propagation = str(bind_opts.get("Propagation") or DEFAULT_PROPAGATION)
        if propagation not in PROPAGATIONS:
            raise fail(f"invalid propagation mode: {propagation}")
        return MountRequest(
            type="bind",
            destination=target,
            source=posixpath.normpath(source),
            rw=not read_only,
            propagation=propagation,
            recursive=not bind_opts.get("NonRecursive"),
            must_exist=not bind_opts.get("CreateMountpoint"),
        )
    if kind == "volume":
        extra("BindOptions", bind_opts)
        extra("TmpfsOptions", tmpfs_opts)
        volume_opts = volume_opts or {}
        if read_only and not source:
            raise fail("must not set ReadOnly mode when using anonymous volumes")
        if volume_opts.get("Subpath"):
            raise NotSupported("volume subpaths are not supported yet: mount the whole volume")
        driver_config = volume_opts.get("DriverConfig") or {}
        return MountRequest(
            type="volume",
            destination=target,
            source=source,
            rw=not read_only,
            mode="z",  # dockerd's setBindModeIfNull for local volumes
            copy_data=not volume_opts.get("NoCopy"),
            volume_driver=str(driver_config.get("Name") or "local"),
            volume_labels=dict(volume_opts.get("Labels") or {}) or None,
            volume_options=dict(driver_config.get("Options") or {}) or None,
        )
    extra("BindOptions", bind_opts)
    extra("VolumeOptions", volume_opts)
    if source:
        raise fail("field Source must not be specified")
    return MountRequest(
        type="tmpfs", destination=target, rw=not read_only,
        tmpfs_data=tmpfs_options(tmpfs_opts, read_only),
    )  # fmt: skip


def plan(
    config: Mapping[str, Any], host_config: Mapping[str, Any], mounted: Collection[str] = ()
) -> list[MountRequest]:
    """Every mount of a create body, in dockerd's order: binds, mounts, then an anonymous
    volume for each ``Config.Volumes`` path nothing else (nor ``mounted``, the paths of
    ``--volumes-from``) is mounted on."""
    out: list[MountRequest] = []
    taken: set[str] = set()
    tmpfs = {posixpath.normpath(str(p)) for p in (host_config.get("Tmpfs") or {})}
    for spec in host_config.get("Binds") or []:
        req = parse_bind(str(spec))
        if req.destination in taken or req.destination in tmpfs:
            raise InvalidArgument(f"Duplicate mount point: {req.destination}")
        taken.add(req.destination)
        out.append(req)
    for doc in host_config.get("Mounts") or []:
        if not isinstance(doc, Mapping):
            raise InvalidArgument("HostConfig.Mounts: each mount must be an object")
        req = parse_mount(doc)
        if req.destination in taken:
            raise InvalidArgument(f"Duplicate mount point: {doc.get('Target')}")
        taken.add(req.destination)
        out.append(req)
    for path in config.get("Volumes") or {}:
        dest = _check_target("volume", str(path))
        if dest in taken or dest in tmpfs or dest in mounted:
            continue
        taken.add(dest)
        out.append(MountRequest(type="volume", destination=dest))
    for dest in tmpfs:
        _check_target("tmpfs", dest)
    return out


def parse_volumes_from(spec: str) -> tuple[str, bool]:
    """``container[:ro|rw]`` of ``--volumes-from``: (container, read-write)."""
    ref, _, mode = spec.partition(":")
    if not ref or mode not in ("", "ro", "rw"):
        raise InvalidArgument(f"invalid mode: {mode}" if ref else f"malformed volumes-from: {spec}")
    return ref, mode != "ro"


def check_sources(requests: Sequence[MountRequest]) -> None:
    """A ``--mount`` bind's source must exist (dockerd checks at create)."""
    for req in requests:
        if req.type == "bind" and req.must_exist and not os.path.exists(req.source):
            raise InvalidArgument(
                f'invalid mount config for type "bind": bind source path does not exist: '
                f"{req.source}"
            )


def _oci_mount(p: MountPoint) -> dict[str, Any]:
    if p.type == "tmpfs":
        data = [o for o in p.data.split(",") if o]
        options = [*TMPFS_DEFAULTS, DEFAULT_PROPAGATION, *data]
        return {"destination": p.destination, "type": "tmpfs", "source": "tmpfs",
                "options": options}  # fmt: skip
    options = [
        "rbind" if p.recursive else "bind",
        "rw" if p.rw else "ro",
        p.propagation or DEFAULT_PROPAGATION,
    ]
    return {"destination": p.destination, "type": "bind", "source": p.source, "options": options}


def oci_mounts(
    points: Sequence[MountPoint], tmpfs: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The OCI ``mounts`` of a container's mount points and ``HostConfig.Tmpfs``,
    parents before children (dockerd's sortMounts)."""
    out = [_oci_mount(p) for p in points]
    for dest, raw in (tmpfs or {}).items():
        data = [o for o in str(raw or "").split(",") if o]
        out.append({"destination": posixpath.normpath(str(dest)), "type": "tmpfs",
                    "source": "tmpfs",
                    "options": [*TMPFS_DEFAULTS, DEFAULT_PROPAGATION, *data]})  # fmt: skip
    return sorted(out, key=lambda m: len([c for c in m["destination"].split("/") if c]))


def bind_points(host_config: Mapping[str, Any]) -> list[MountPoint]:
    """The mount points of ``HostConfig.Binds`` alone (host paths; a spec made without
    the volume service, which resolves volume names)."""
    out = []
    for spec in host_config.get("Binds") or []:
        req = parse_bind(str(spec))
        if req.type != "bind":
            raise NotSupported(f"bind {spec!r}: volumes need the volume service")
        out.append(
            MountPoint("bind", req.source, req.destination, req.mode, req.rw, req.propagation)
        )
    return out
