"""Docker's JSON for containers: ``ContainerSummary`` (``GET /containers/json``),
``ContainerInspectResponse`` (``GET /containers/{id}/json``), the ``ps`` status string and
the 8-byte frames of multiplexed attach/logs streams, built from the engine's
``ContainerView``.
"""

from __future__ import annotations

import struct
from typing import Any

from dockyard.engine.containers import ContainerView, MountPoint

ZERO_TIME = "0001-01-01T00:00:00Z"

#: stream numbers of a multiplexed stream (stdin is 0; 3 is a system error)
STDIN, STDOUT, STDERR, SYSERR = 0, 1, 2, 3

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW_STREAM = "application/vnd.docker.raw-stream"


def frame(stream: int, data: bytes) -> bytes:
    """One frame of a multiplexed stream: ``[stream, 0, 0, 0, size (u32 BE)]`` + data."""
    return struct.pack(">BxxxL", stream, len(data)) + data


def stream_content_type(tty: bool, version: str | None) -> str:
    """Multiplexed without a TTY from API 1.42 on (raw before, as Docker answers)."""
    if tty or _older(version, "1.42"):
        return RAW_STREAM
    return MULTIPLEXED


def _older(version: str | None, than: str) -> bool:
    if version is None:
        return False
    return tuple(int(p) for p in version.split(".")) < tuple(int(p) for p in than.split("."))


# -- documents ------------------------------------------------------------------------------


def _mount(m: MountPoint) -> dict[str, Any]:
    doc: dict[str, Any] = {"Type": m.type}
    if m.name:  # Name and Driver are omitted (omitempty) for binds and tmpfs
        doc["Name"] = m.name
    doc.update({"Source": m.source, "Destination": m.destination})
    if m.driver:
        doc["Driver"] = m.driver
    doc.update({"Mode": m.mode, "RW": m.rw, "Propagation": m.propagation})
    return doc


def _network_mode(view: ContainerView) -> str:
    mode = view.host_config.get("NetworkMode")
    return str(mode) if mode else "none"


def _networks(view: ContainerView) -> dict[str, Any]:
    mode = _network_mode(view)
    if mode in ("none", "host", "default", "bridge"):
        name = "none" if mode == "default" else mode
        return {
            name: {
                "IPAMConfig": None,
                "Links": None,
                "Aliases": None,
                "MacAddress": "",
                "NetworkID": "",
                "EndpointID": "",
                "Gateway": "",
                "IPAddress": "",
                "IPPrefixLen": 0,
                "IPv6Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "DriverOpts": None,
                "DNSNames": None,
            }
        }
    return {}


def container_summary(view: ContainerView) -> dict[str, Any]:
    """A ``GET /containers/json`` item."""
    doc: dict[str, Any] = {
        "Id": view.id,
        "Names": [view.name if view.name.startswith("/") else "/" + view.name],
        "Image": view.image_name or view.image,
        "ImageID": view.image,
        "Command": view.command or " ".join([view.path, *view.args]).strip(),
        "Created": view.created_unix,
        "Ports": [],
        "Labels": dict(view.labels or view.config.get("Labels") or {}),
        "State": view.state.status,
        "Status": view.status_text,  # the engine computes Docker's "Up 5 seconds"
        "HostConfig": {"NetworkMode": _network_mode(view)},
        "NetworkSettings": {"Networks": _networks(view)},
        "Mounts": [_mount(m) for m in view.mounts],
    }
    if view.size_rw is not None:
        doc["SizeRw"] = view.size_rw
    if view.size_root_fs is not None:
        doc["SizeRootFs"] = view.size_root_fs
    return doc


_CONFIG_DEFAULTS: dict[str, Any] = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": None,
    "Cmd": None,
    "Image": "",
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": {},
}

_HOST_CONFIG_DEFAULTS: dict[str, Any] = {
    "Binds": None,
    "ContainerIDFile": "",
    "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "none",
    "PortBindings": {},
    "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
    "AutoRemove": False,
    "VolumeDriver": "",
    "VolumesFrom": None,
    "CapAdd": None,
    "CapDrop": None,
    "Dns": [],
    "DnsOptions": [],
    "DnsSearch": [],
    "ExtraHosts": None,
    "GroupAdd": None,
    "IpcMode": "private",
    "Cgroup": "",
    "CgroupnsMode": "host",  # a record from before nsmodes.py ran without one
    "Links": None,
    "OomScoreAdj": 0,
    "PidMode": "",
    "Privileged": False,
    "PublishAllPorts": False,
    "ReadonlyRootfs": False,
    "SecurityOpt": None,
    "UTSMode": "",
    "UsernsMode": "",
    "ShmSize": 67108864,
    "Runtime": "runc",
    "Isolation": "",
    "CpuShares": 0,
    "Memory": 0,
    "NanoCpus": 0,
    "CgroupParent": "",
    "BlkioWeight": 0,
    "CpuPeriod": 0,
    "CpuQuota": 0,
    "CpusetCpus": "",
    "CpusetMems": "",
    "Devices": [],
    "DeviceCgroupRules": None,
    "MemoryReservation": 0,
    "MemorySwap": 0,
    "MemorySwappiness": None,
    "OomKillDisable": None,
    "PidsLimit": None,
    "Ulimits": None,
    "Init": None,
    "MaskedPaths": None,
    "ReadonlyPaths": None,
}


def _with_defaults(given: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    out = dict(defaults)
    out.update({k: v for k, v in given.items() if v is not None or k not in out})
    return out


def health_doc(health: dict[str, Any]) -> dict[str, Any]:
    """``State.Health`` of the engine's record (``engine/healthstate.py``)."""
    log = [
        {"Start": r["start"], "End": r["end"], "ExitCode": r["exit_code"], "Output": r["output"]}
        for r in health.get("log") or []
    ]
    return {
        "Status": health.get("status") or "unhealthy",
        "FailingStreak": int(health.get("failing_streak") or 0),
        "Log": log,
    }


def container_inspect(view: ContainerView, version: str | None = None) -> dict[str, Any]:
    """``GET /containers/{id}/json``."""
    s = view.state
    config = _with_defaults(view.config, _CONFIG_DEFAULTS)
    config.setdefault("Image", view.image_name)
    if not config.get("Image"):
        config["Image"] = view.image_name
    host_config = _with_defaults(view.host_config, _HOST_CONFIG_DEFAULTS)
    if not host_config.get("LogConfig") or not host_config["LogConfig"].get("Type"):
        # the default driver, keeping the options given (--log-opt max-size=...)
        given = (host_config.get("LogConfig") or {}).get("Config") or {}
        host_config["LogConfig"] = {"Type": "json-file", "Config": dict(given)}
    doc: dict[str, Any] = {
        "Id": view.id,
        "Created": view.created,
        "Path": view.path,
        "Args": list(view.args),
        "State": {
            "Status": s.status,
            "Running": s.running,
            "Paused": s.paused,
            "Restarting": s.restarting,
            "OOMKilled": s.oom_killed,
            "Dead": s.dead,
            "Pid": s.pid,
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": s.started_at or ZERO_TIME,
            "FinishedAt": s.finished_at or ZERO_TIME,
            **({"Health": health_doc(s.health)} if s.health is not None else {}),
        },
        "Image": view.image,
        "ResolvConfPath": view.resolv_conf_path,
        "HostnamePath": view.hostname_path,
        "HostsPath": view.hosts_path,
        "LogPath": view.log_path,
        "Name": view.name if view.name.startswith("/") else "/" + view.name,
        "RestartCount": view.restart_count,
        "Driver": view.driver,
        "Platform": view.platform,
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": host_config,
        "GraphDriver": {"Name": view.driver, "Data": None},
        "Mounts": [_mount(m) for m in view.mounts],
        "Config": config,
        "NetworkSettings": {
            "Bridge": "",
            "SandboxID": "",
            "SandboxKey": "",
            "Ports": {},
            "HairpinMode": False,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "SecondaryIPAddresses": None,
            "SecondaryIPv6Addresses": None,
            "EndpointID": "",
            "Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "IPAddress": "",
            "IPPrefixLen": 0,
            "IPv6Gateway": "",
            "MacAddress": "",
            "Networks": _networks(view),
        },
    }
    if view.size_rw is not None:
        doc["SizeRw"] = view.size_rw
    if view.size_root_fs is not None:
        doc["SizeRootFs"] = view.size_root_fs
    return doc
