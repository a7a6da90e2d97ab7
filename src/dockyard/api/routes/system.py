"""System routes: ``/_ping``, ``/version``, ``/info`` (Docker's JSON shapes)."""

from __future__ import annotations

from typing import Any

from dockyard.api.models.registryconfig import registry_config
from dockyard.api.router import (
    API_VERSION,
    MIN_API_VERSION,
    Request,
    Response,
    Router,
    json_response,
)
from dockyard.engine.system import SystemInfo, SystemService, VersionInfo

PING_HEADERS = {
    "API-Version": API_VERSION,
    "Builder-Version": "1",  # the legacy builder (POST /build); no BuildKit session
    "Cache-Control": "no-cache, no-store, must-revalidate",
    "Pragma": "no-cache",
    "Swarm": "inactive",
}


def register(router: Router, system: SystemService) -> None:
    @router.route("GET", "/_ping")
    async def ping(req: Request) -> Response:
        # HEAD is served by the GET route; the server leaves the body out
        return Response(200, b"OK", "text/plain; charset=utf-8", dict(PING_HEADERS))

    @router.route("GET", "/version")
    async def version(req: Request) -> Response:
        return json_response(version_json(system.version()))

    @router.route("GET", "/info")
    async def info(req: Request) -> Response:
        return json_response(info_json(await system.info()))


def version_json(v: VersionInfo) -> dict[str, Any]:
    details = {
        "ApiVersion": API_VERSION,
        "Arch": v.arch,
        "BuildTime": v.build_time,
        "Experimental": "false",
        "GitCommit": v.git_commit,
        "GoVersion": v.python_version,
        "KernelVersion": v.kernel_version,
        "MinAPIVersion": MIN_API_VERSION,
        "Os": v.os,
    }
    return {
        "Platform": {"Name": f"Dockyard Engine {v.version}"},
        "Components": [{"Name": "Engine", "Version": v.version, "Details": details}],
        "Version": v.version,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": v.git_commit,
        "GoVersion": v.python_version,
        "Os": v.os,
        "Arch": v.arch,
        "KernelVersion": v.kernel_version,
        "BuildTime": v.build_time,
    }


def info_json(i: SystemInfo) -> dict[str, Any]:
    return {
        "ID": i.id,
        "Containers": i.containers,
        "ContainersRunning": i.running,
        "ContainersPaused": i.paused,
        "ContainersStopped": i.stopped,
        "Images": i.images,
        "Driver": i.driver,
        "DriverStatus": [list(pair) for pair in i.driver_status],
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "none"],
            "Authorization": None,
            "Log": ["json-file"],
        },
        "MemoryLimit": True,
        "SwapLimit": True,
        "CpuCfsPeriod": True,
        "CpuCfsQuota": True,
        "CPUShares": True,
        "CPUSet": True,
        "PidsLimit": True,
        "IPv4Forwarding": True,
        "Debug": i.debug,
        "NFd": 0,
        "NGoroutines": 0,
        "SystemTime": i.system_time,
        "LoggingDriver": "json-file",
        "CgroupDriver": i.cgroup_driver,
        "CgroupVersion": i.cgroup_version,
        "NEventsListener": i.events_listeners,
        "KernelVersion": i.kernel_version,
        "OperatingSystem": i.operating_system,
        "OSVersion": i.os_version,
        "OSType": "linux",
        "Architecture": i.architecture,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": registry_config(i.insecure_registries, i.registry_mirrors),
        "NCPU": i.ncpu,
        "MemTotal": i.mem_total,
        "DockerRootDir": str(i.root_dir),
        "HttpProxy": i.http_proxy,
        "HttpsProxy": i.https_proxy,
        "NoProxy": i.no_proxy,
        "Name": i.name,
        "Labels": list(i.labels),
        "ExperimentalBuild": False,
        "ServerVersion": i.server_version,
        "Runtimes": {name: {"path": path} for name, path in sorted(i.runtimes.items())},
        "DefaultRuntime": i.default_runtime,
        "Swarm": {
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "inactive",
            "ControlAvailable": False,
            "Error": "",
            "RemoteManagers": None,
        },
        "LiveRestoreEnabled": False,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": ""},
        "RuncCommit": {"ID": ""},
        "InitCommit": {"ID": ""},
        "SecurityOptions": [],
        "CDISpecDirs": [],
        "Warnings": list(i.warnings),
    }
