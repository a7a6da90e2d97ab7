"""Device nodes of a container: the host's devices for ``--privileged``, ``--device``
mappings, and the device cgroup rules that go with them (``linux.devices`` and
``linux.resources.devices`` of the OCI spec), as dockerd builds them.

A device is read from the host with ``lstat`` (type, major, minor, mode, owner); a
``--device`` that names a directory brings every device under it, as in Docker.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument

log = logging.getLogger(__name__)

# containerd's HostDevices skips these: they are the container's own (devpts, shm,
# mqueue, fd links) or tooling state; /dev/console is set up from the container's tty
SKIPPED_DIRS = frozenset({"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"})
# /dev/ptmx of the host opens the host's devpts instance: the container gets its own
# through the pts/ptmx symlink
SKIPPED_FILES = frozenset({"console", "ptmx"})


def device_from_path(path: str) -> dict[str, Any] | None:
    """The OCI device entry for the node at ``path`` (its path as on the host), or None
    when ``path`` is no character or block device."""
    st = os.lstat(path)
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        return None
    return {
        "path": path,
        "type": kind,
        "major": os.major(st.st_rdev),
        "minor": os.minor(st.st_rdev),
        "fileMode": stat.S_IMODE(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
    }


def host_devices(root: str = "/dev") -> list[dict[str, Any]]:
    """Every character and block device under ``root`` (what a privileged container sees)."""
    out: list[dict[str, Any]] = []
    for top, dirs, files in os.walk(root):
        if top == root:
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        for name in sorted(files):
            if top == root and name in SKIPPED_FILES:
                continue
            try:
                device = device_from_path(os.path.join(top, name))
            except OSError:  # gone while we looked
                continue
            if device is not None:
                out.append(device)
    return out


def _rule(device: Mapping[str, Any], access: str) -> dict[str, Any]:
    return {"allow": True, "type": device["type"], "major": device["major"],
            "minor": device["minor"], "access": access}  # fmt: skip


def from_mapping(mapping: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The devices and cgroup rules of one ``HostConfig.Devices`` entry."""
    host = str(mapping.get("PathOnHost") or "")
    inside = str(mapping.get("PathInContainer") or host)
    access = str(mapping.get("CgroupPermissions") or "rwm")
    if not host.startswith("/") or not inside.startswith("/"):
        raise InvalidArgument(
            f"invalid device {host}:{inside}: use absolute paths, /dev/x[:/dev/y][:rwm]"
        )
    if not access or not set(access) <= set("rwm"):
        raise InvalidArgument(f"invalid device permissions {access!r}: use letters of rwm")
    resolved = os.path.realpath(host) if os.path.islink(host) else host
    try:
        device = device_from_path(resolved)
    except OSError as e:
        raise InvalidArgument(
            f'error gathering device information while adding custom device "{host}": '
            f"{(e.strerror or str(e)).lower()}"
        ) from None
    if device is not None:
        return [{**device, "path": inside}], [_rule(device, access)]
    devices, rules = [], []
    if os.path.isdir(resolved):
        for d in host_devices(resolved):
            d["path"] = inside + d["path"][len(resolved) :]
            devices.append(d)
            rules.append(_rule(d, access))
    if not devices:
        raise InvalidArgument(
            f'error gathering device information while adding custom device "{host}": '
            "not a device node"
        )
    return devices, rules


def container_devices(
    host_config: Mapping[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``linux.devices`` and the device cgroup rules beyond the defaults.

    Privileged: every host device and an allow-all rule; the ``--device`` mappings only
    add nodes at other paths (their permissions do not matter then), as in dockerd.
    """
    mappings = list(host_config.get("Devices") or [])
    if host_config.get("Privileged"):
        devices = host_devices()
        for m in mappings:
            if m.get("PathOnHost") == (m.get("PathInContainer") or m.get("PathOnHost")):
                continue  # already there
            devices += from_mapping({**m, "CgroupPermissions": "rwm"})[0]
        return devices, [{"allow": True, "access": "rwm"}]
    devices, rules = [], []
    for m in mappings:
        d, r = from_mapping(m)
        devices += d
        rules += r
    from .cgrouprules import device_rules  # --device-cgroup-rule, after the mappings

    return devices, rules + device_rules(host_config)


def blkio_weight_supported(cgroup_root: Path = Path("/sys/fs/cgroup")) -> bool:
    """Can a blkio weight be set here (cgroup v1 CFQ/BFQ weight file, or v2 io.weight)?"""
    blkio = cgroup_root / "blkio"
    if (blkio / "blkio.weight").exists() or (blkio / "blkio.bfq.weight").exists():
        return True
    return (cgroup_root / "cgroup.controllers").exists() and "io" in (
        cgroup_root / "cgroup.controllers"
    ).read_text().split()


def check_resources(hc: dict[str, Any]) -> list[str]:
    """dockerd's checks of limits (swappiness, storage size), and its warnings for limits
    this host cannot apply (the value is discarded)."""
    warnings = []
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and int(swappiness) != -1 and not 0 <= int(swappiness) <= 100:
        raise InvalidArgument(
            f"Invalid value: {swappiness}, valid memory swappiness range is 0-100"
        )
    if hc.get("StorageOpt"):
        raise InvalidArgument(
            "--storage-opt is not supported: this daemon sets no per-container size "
            "quotas (dockerd needs overlay over xfs with pquota for them)"
        )
    weight = int(hc.get("BlkioWeight") or 0)
    if weight and not 10 <= weight <= 1000:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    if weight and not blkio_weight_supported():
        warnings.append(
            "Your kernel does not support Block I/O weight or the cgroup is not mounted. "
            "Weight discarded."
        )
        hc["BlkioWeight"] = 0
    return warnings
