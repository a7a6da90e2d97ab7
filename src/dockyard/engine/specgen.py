"""The OCI runtime config of a container: image config + create body, Docker's defaults.

``container_spec`` is pure apart from reading the container's rootfs (for user names
and supplementary groups) and the host's /dev (devices: ``devices.py``); the process part
(capabilities, security options, init, rlimits) is ``specprocess.py``. ``write_etc_files``
(``etcfiles.py``) makes /etc/hostname, /etc/hosts and /etc/resolv.conf in the container's
data dir, which the spec bind-mounts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.images.users import resolve_user

from . import cgrouprules, etcfiles, healthstate, mountspecs, nsmodes, specprocess
from . import devices as host_devices
from .containerrecord import MountPoint
from .specprocess import (
    INIT_IN_CONTAINER,
    find_init,
    init_mount,
    process_spec,
    security_options,
)

ALL_CAPS = specprocess.ALL_CAPS  # execspec reads the list here
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)  # fmt: skip
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
# Docker's default device cgroup rules: mknod of anything, use of the standard nodes
ALLOWED_DEVICES = (
    ("c", None, None, "m"), ("b", None, None, "m"), ("c", 1, 3, "rwm"), ("c", 1, 8, "rwm"),
    ("c", 1, 7, "rwm"), ("c", 5, 0, "rwm"), ("c", 1, 5, "rwm"), ("c", 1, 9, "rwm"),
    ("c", 5, 1, "rwm"), ("c", 136, None, "rwm"), ("c", 5, 2, "rwm"), ("c", 10, 200, "rwm"),
)  # fmt: skip
NOSUID = ["nosuid", "noexec", "nodev"]


def default_mounts(privileged: bool) -> list[dict[str, Any]]:
    sys_opts = [*NOSUID] if privileged else [*NOSUID, "ro"]
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": NOSUID},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_opts},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": [*sys_opts, "relatime"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": NOSUID},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": [*NOSUID, "mode=1777", "size=67108864"]},
    ]  # fmt: skip


def merge_config(image: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """The container's Config: the create body over the image's config, as dockerd does."""
    config = {k: v for k, v in body.items() if k not in {"HostConfig", "NetworkingConfig"}}
    if not config.get("Entrypoint") and not config.get("Cmd"):
        config["Cmd"] = image.get("Cmd")
    if not config.get("Entrypoint") and body.get("Entrypoint") is None:
        config["Entrypoint"] = image.get("Entrypoint")
    env = {e.partition("=")[0]: e for e in image.get("Env") or []}
    env.update({e.partition("=")[0]: e for e in body.get("Env") or []})
    config["Env"] = list(env.values())
    for key in ("WorkingDir", "User", "StopSignal"):
        if not config.get(key) and image.get(key):
            config[key] = image[key]
    config["Labels"] = {**(image.get("Labels") or {}), **(body.get("Labels") or {})}
    if image.get("ExposedPorts") or body.get("ExposedPorts"):
        config["ExposedPorts"] = {
            **(image.get("ExposedPorts") or {}),
            **(body.get("ExposedPorts") or {}),
        }
    if image.get("Volumes") or body.get("Volumes"):
        config["Volumes"] = {**(image.get("Volumes") or {}), **(body.get("Volumes") or {})}
    health = healthstate.merge_healthcheck(image.get("Healthcheck"), body.get("Healthcheck"))
    if health is not None:  # the body's fields over the image's (healthstate.py)
        config["Healthcheck"] = health
    for key, default in (("Tty", False), ("OpenStdin", False), ("StdinOnce", False),
                         ("AttachStdin", False), ("AttachStdout", False),
                         ("AttachStderr", False), ("Hostname", ""), ("Domainname", ""),
                         ("WorkingDir", ""), ("User", "")):  # fmt: skip
        config.setdefault(key, default)
        if config[key] is None:
            config[key] = default
    return config


def command_of(config: Mapping[str, Any]) -> list[str]:
    args = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
    if not args:
        raise InvalidArgument("no command specified: give a command or use an image with one")
    return [str(a) for a in args]


def _user_mounts(
    host_config: Mapping[str, Any], points: Sequence[MountPoint] | None
) -> list[dict[str, Any]]:
    """Binds, volumes and tmpfs mounts (``engine/mounts.py`` resolves the mount points;
    without them, the binds of ``HostConfig.Binds``)."""
    if points is None:
        points = mountspecs.bind_points(host_config)
    return mountspecs.oci_mounts(points, host_config.get("Tmpfs"))


def _resources(
    host_config: Mapping[str, Any], device_rules: list[dict[str, Any]]
) -> dict[str, Any]:
    res: dict[str, Any] = {}
    memory: dict[str, int] = {}
    if host_config.get("Memory"):
        memory["limit"] = int(host_config["Memory"])
        swap = host_config.get("MemorySwap")
        if swap:
            memory["swap"] = int(swap)  # -1: unlimited swap
        elif swap is None or swap == 0:
            memory["swap"] = 2 * memory["limit"]  # Docker's default: as much swap as memory
    if host_config.get("MemoryReservation"):
        memory["reservation"] = int(host_config["MemoryReservation"])
    memory.update(cgrouprules.memory_settings(host_config))  # --oom-kill-disable
    swappiness = host_config.get("MemorySwappiness")
    if swappiness is not None and int(swappiness) != -1:  # -1: the host's, as dockerd
        memory["swappiness"] = int(swappiness)
    if memory:
        res["memory"] = memory
    cpu: dict[str, Any] = {}
    if host_config.get("NanoCpus"):
        if host_config.get("CpuQuota") or host_config.get("CpuPeriod"):
            raise InvalidArgument("NanoCPUs and CPUPeriod/CPUQuota cannot both be set")
        cpu["period"] = 100000
        cpu["quota"] = int(host_config["NanoCpus"]) * 100000 // 1_000_000_000
    if host_config.get("CpuShares"):
        cpu["shares"] = int(host_config["CpuShares"])
    if host_config.get("CpuQuota"):
        cpu["quota"] = int(host_config["CpuQuota"])
    if host_config.get("CpuPeriod"):
        cpu["period"] = int(host_config["CpuPeriod"])
    if host_config.get("CpusetCpus"):
        cpu["cpus"] = str(host_config["CpusetCpus"])
    if host_config.get("CpusetMems"):
        cpu["mems"] = str(host_config["CpusetMems"])
    if cpu:
        res["cpu"] = cpu
    if host_config.get("PidsLimit"):
        res["pids"] = {"limit": int(host_config["PidsLimit"])}
    if host_config.get("BlkioWeight"):
        res["blockIO"] = {"weight": int(host_config["BlkioWeight"])}
    if host_config.get("Privileged"):
        res["devices"] = [{"allow": True, "access": "rwm"}]
    else:
        res["devices"] = [{"allow": False, "access": "rwm"}] + [
            {"allow": True, "type": t, "major": ma, "minor": mi, "access": a}
            if ma is not None
            else {"allow": True, "type": t, "access": a}
            for t, ma, mi, a in ALLOWED_DEVICES
        ]
        for d in res["devices"]:
            if d.get("major") is not None and d.get("minor") is None:
                d.pop("minor")
        res["devices"] += device_rules  # --device mappings
    return res


def system_paths(host_config: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """``MaskedPaths`` and ``ReadonlyPaths`` as dockerd fills them at create: none for a
    privileged container or ``systempaths=unconfined``, else the body's or the defaults."""
    if host_config.get("Privileged"):
        return [], []
    if security_options(host_config.get("SecurityOpt")).unconfined_paths:
        return [], []
    masked = host_config.get("MaskedPaths")
    readonly = host_config.get("ReadonlyPaths")
    return (
        list(MASKED_PATHS if masked is None else masked),
        list(READONLY_PATHS if readonly is None else readonly),
    )


def hostname_of(container_id: str, config: Mapping[str, Any], network_mode: str) -> str:
    if config.get("Hostname"):
        return str(config["Hostname"])
    if network_mode == "host":
        return os.uname().nodename
    return container_id[:12]


def container_spec(
    container_id: str,
    config: Mapping[str, Any],
    host_config: Mapping[str, Any],
    *,
    rootfs: Path,
    files: Path,
    cgroups_path: str,
    network_mode: str,
    init_path: str = "",
    mount_points: Sequence[MountPoint] | None = None,
    netns_path: str = "",
    joined: nsmodes.Joined | None = None,
) -> dict[str, Any]:
    """The OCI config.json of a container (``files``: its hostname/hosts/resolv.conf;
    ``init_path``: the host's init binary, used when ``HostConfig.Init`` is set;
    ``netns_path``: the network namespace to join, for ``container:<id>``)."""
    privileged = bool(host_config.get("Privileged"))
    hostname = hostname_of(container_id, config, network_mode)
    env = list(config.get("Env") or [])
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, DEFAULT_PATH)
    if not any(e.startswith("HOSTNAME=") for e in env):
        env.append(f"HOSTNAME={hostname}")
    if config.get("Tty") and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")
    devices, device_rules = host_devices.container_devices(host_config)
    args = command_of(config)
    if host_config.get("Init"):
        args = [INIT_IN_CONTAINER, "--", *args]
    user = resolve_user(rootfs, str(config.get("User") or ""))
    process = process_spec(config, host_config, args=args, env=env, user=user, rootfs=rootfs)
    mounts = [m for m in default_mounts(privileged) if m["destination"] != "/dev/shm"]
    shm = nsmodes.shm_mount(host_config, joined)  # ShmSize, --ipc (nsmodes.py)
    mounts += [shm] if shm else []
    etc_opts = ["rbind", "rprivate"] + (["ro"] if host_config.get("ReadonlyRootfs") else [])
    for name in ("resolv.conf", "hostname", "hosts"):
        mounts.append({"destination": f"/etc/{name}", "type": "bind",
                       "source": str(files / name), "options": etc_opts})  # fmt: skip
    user_mounts = _user_mounts(host_config, mount_points)
    taken = {m["destination"] for m in user_mounts}
    mounts = [m for m in mounts if m["destination"] not in taken] + user_mounts
    if host_config.get("Init"):
        mounts.append(init_mount(find_init(init_path)))
    namespaces = nsmodes.namespaces(host_config, joined)  # pid, ipc, uts, mount, cgroup
    if netns_path:
        namespaces.append({"type": "network", "path": netns_path})
    elif network_mode != "host":
        namespaces.append({"type": "network"})
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "resources": _resources(host_config, device_rules),
        "cgroupsPath": cgroups_path,
    }
    if devices:
        linux["devices"] = devices
    masked, readonly = system_paths(host_config)
    if masked:
        linux["maskedPaths"] = masked
    if readonly:
        linux["readonlyPaths"] = readonly
    if host_config.get("Sysctls"):
        linux["sysctl"] = {str(k): str(v) for k, v in host_config["Sysctls"].items()}
    spec: dict[str, Any] = {
        "ociVersion": "1.0.2-dev",
        "process": process,
        "root": {"path": "rootfs", "readonly": bool(host_config.get("ReadonlyRootfs"))},
        "hostname": hostname,
        "mounts": mounts,
        "linux": linux,
    }
    if config.get("Domainname"):
        spec["domainname"] = str(config["Domainname"])
    if nsmodes.uts_host(host_config):  # --uts host: the host's names stay untouched
        spec.pop("hostname")
        spec.pop("domainname", None)
    return spec


def write_etc_files(files: Path, hostname: str, network_mode: str) -> None:
    """The etc files of a container without container networking (``etcfiles.py``)."""
    etcfiles.write_etc_files(files, hostname, network_mode)
