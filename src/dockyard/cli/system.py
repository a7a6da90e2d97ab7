"""``version``, ``info`` and ``system df``."""

from __future__ import annotations

import os
import sys

from dockyard import __version__
from dockyard.cli import output
from dockyard.cli.errors import CommandFailed
from dockyard.cli.flags import STRING, Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context

FORMAT_HELP = "Format output using a custom template ('json' or a Go-like template)"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}

VERSION = Command(
    "version",
    "[OPTIONS]",
    "Show the Dockyard version information",
    [Flag("format", "f", STRING, FORMAT_HELP)],
    max_args=0,
)


def client_version(api_version: str | None, default_api: str) -> dict[str, Any]:
    machine = os.uname().machine
    return {
        "Platform": {"Name": "Dockyard"},
        "Version": __version__,
        "ApiVersion": api_version or default_api,
        "DefaultAPIVersion": default_api,
        "PythonVersion": sys.version.split()[0],
        "Os": sys.platform,
        "Arch": _ARCH.get(machine, machine),
        "Context": "default",
    }


def server_components(server: dict[str, Any]) -> list[dict[str, Any]]:
    comps = server.get("Components")
    if isinstance(comps, list) and comps:
        return [c for c in comps if isinstance(c, dict)]
    details = {
        "ApiVersion": server.get("ApiVersion", ""),
        "MinAPIVersion": server.get("MinAPIVersion", ""),
        "GitCommit": server.get("GitCommit", ""),
        "GoVersion": server.get("GoVersion", ""),
        "Os": server.get("Os", ""),
        "Arch": server.get("Arch", ""),
        "BuildTime": server.get("BuildTime", ""),
        "KernelVersion": server.get("KernelVersion", ""),
        "Experimental": str(server.get("Experimental", False)).lower(),
    }
    return [{"Name": "Engine", "Version": server.get("Version", ""), "Details": details}]


def version_text(client: dict[str, Any], server: dict[str, Any] | None) -> str:
    """docker version's layout: label, tab, value; aligned by a tabwriter (20, pad 1)."""
    api = client["ApiVersion"]
    if api != client["DefaultAPIVersion"]:
        api += f" (downgraded from {client['DefaultAPIVersion']})"
    lines = [
        f"Client: {client['Platform']['Name']}",
        f" Version:\t{client['Version']}",
        f" API version:\t{api}",
        f" Python version:\t{client['PythonVersion']}",
        f" OS/Arch:\t{client['Os']}/{client['Arch']}",
        f" Context:\t{client['Context']}",
    ]
    if server is not None:
        name = (server.get("Platform") or {}).get("Name", "")
        lines += ["", f"Server:{' ' + name if name else ''}"]
        for comp in server_components(server):
            d = comp.get("Details") or {}
            lines.append(f" {comp.get('Name', '')}:")
            lines.append(f"  Version:\t{comp.get('Version', '')}")
            if comp.get("Name") == "Engine":
                lines += [
                    f"  API version:\t{d.get('ApiVersion', '')} "
                    f"(minimum version {d.get('MinAPIVersion', '')})",
                    f"  Go version:\t{d.get('GoVersion', '')}",
                    f"  Git commit:\t{d.get('GitCommit', '')}",
                    f"  Built:\t{d.get('BuildTime', '')}",
                    f"  OS/Arch:\t{d.get('Os', '')}/{d.get('Arch', '')}",
                    f"  Experimental:\t{d.get('Experimental', '')}",
                ]
            else:
                lines += [f"  {key}:\t{value}" for key, value in d.items()]
    return output.tabwrite("\n".join(lines) + "\n", minwidth=20, padding=1)


def version(ctx: Context, argv: list[str]) -> int:
    from dockyard.client.errors import ClientError
    from dockyard.client.transport import API_VERSION

    opts, _ = VERSION.parse(argv)
    api = ctx.client().transport
    server: dict[str, Any] | None = None
    failure: ClientError | None = None
    try:
        server = ctx.client().version()
    except ClientError as e:
        failure = e
    client = client_version(api.api_version if server is not None else None, API_VERSION)
    doc = {"Client": client, "Server": server}
    fmt = opts["format"]
    if fmt:
        output.print_objects(fmt, [doc])
    else:
        output.write(version_text(client, server))
    if failure is not None:
        raise failure
    return 0


INFO = Command(
    "info",
    "[OPTIONS]",
    "Display system-wide information",
    [Flag("format", "f", STRING, FORMAT_HELP)],
    max_args=0,
    aliases=("dockyard system info", "dockyard info"),
)


def info_text(ctx: Context, doc: dict[str, Any]) -> str:
    g = doc.get
    lines = [
        "Client:",
        f" Version:    {__version__}",
        " Context:    default",
        f" Debug Mode: {str(ctx.debug).lower()}",
        "",
        "Server:",
        f" Containers: {g('Containers', 0)}",
        f"  Running: {g('ContainersRunning', 0)}",
        f"  Paused: {g('ContainersPaused', 0)}",
        f"  Stopped: {g('ContainersStopped', 0)}",
        f" Images: {g('Images', 0)}",
        f" Server Version: {g('ServerVersion', '')}",
        f" Storage Driver: {g('Driver', '')}",
    ]
    for pair in g("DriverStatus") or []:
        if isinstance(pair, list) and len(pair) == 2:
            lines.append(f"  {pair[0]}: {pair[1]}")
    if g("CgroupDriver"):
        lines.append(f" Cgroup Driver: {g('CgroupDriver')}")
    if g("CgroupVersion"):
        lines.append(f" Cgroup Version: {g('CgroupVersion')}")
    runtimes = g("Runtimes") or {}
    if runtimes:
        lines.append(f" Runtimes: {' '.join(sorted(runtimes))}")
    if g("DefaultRuntime"):
        lines.append(f" Default Runtime: {g('DefaultRuntime')}")
    lines += [
        f" Kernel Version: {g('KernelVersion', '')}",
        f" Operating System: {g('OperatingSystem', '')}",
        f" OSType: {g('OSType', '')}",
        f" Architecture: {g('Architecture', '')}",
        f" CPUs: {g('NCPU', 0)}",
        f" Total Memory: {output.bytes_size(int(g('MemTotal') or 0))}",
        f" Name: {g('Name', '')}",
        f" ID: {g('ID', '')}",
        f" Docker Root Dir: {g('DockerRootDir', '')}",
        f" Debug Mode: {str(bool(g('Debug'))).lower()}",
        f" Experimental: {str(bool(g('ExperimentalBuild'))).lower()}",
        f" Live Restore Enabled: {str(bool(g('LiveRestoreEnabled'))).lower()}",
    ]
    return "\n".join(lines)


def info(ctx: Context, argv: list[str]) -> int:
    opts, _ = INFO.parse(argv)
    doc = ctx.client().info()
    if opts["format"]:
        output.print_objects(opts["format"], [doc])
        return 0
    output.out(info_text(ctx, doc))
    for warning in doc.get("Warnings") or []:
        output.err(str(warning))
    return 0


DF = Command(
    "system df",
    "[OPTIONS]",
    "Show Dockyard disk usage",
    [
        Flag("format", kind=STRING, help=FORMAT_HELP),
        Flag("verbose", "v", help="Show detailed information on space usage (not yet)"),
    ],
    max_args=0,
)
DF_HEADERS = {
    "Type": "TYPE",
    "TotalCount": "TOTAL",
    "Active": "ACTIVE",
    "Size": "SIZE",
    "Reclaimable": "RECLAIMABLE",
}
DF_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"


def _reclaim(reclaimable: int, total: int, percent: bool = True) -> str:
    text = output.human_size(reclaimable, 4)
    if percent and total > 0:
        text += f" ({reclaimable * 100 // total}%)"
    return text


def df_rows(doc: dict[str, Any]) -> list[dict[str, str]]:
    """docker system df's summary, computed as docker's formatter does."""
    images = doc.get("Images") or []
    layers = int(doc.get("LayersSize") or 0)
    used = 0
    for i in images:
        if int(i.get("Containers") or 0) > 0 and int(i.get("SharedSize", 0) or 0) != -1:
            used += int(i.get("Size") or 0) - int(i.get("SharedSize") or 0)
    containers = doc.get("Containers") or []
    c_size = sum(int(c.get("SizeRw") or 0) for c in containers)
    c_idle = sum(int(c.get("SizeRw") or 0) for c in containers if c.get("State") != "running")
    volumes = doc.get("Volumes") or []

    def vol_size(v: dict[str, Any]) -> int:
        size = int((v.get("UsageData") or {}).get("Size", -1))
        return max(size, 0)

    def vol_refs(v: dict[str, Any]) -> int:
        return int((v.get("UsageData") or {}).get("RefCount", 0))

    v_size = sum(vol_size(v) for v in volumes)
    v_idle = sum(vol_size(v) for v in volumes if vol_refs(v) == 0)
    cache = doc.get("BuildCache") or []
    b_size = sum(int(b.get("Size") or 0) for b in cache if not b.get("Shared"))
    b_idle = sum(
        int(b.get("Size") or 0) for b in cache if not b.get("Shared") and not b.get("InUse")
    )
    hs = output.human_size
    return [
        {
            "Type": "Images",
            "TotalCount": str(len(images)),
            "Active": str(sum(1 for i in images if int(i.get("Containers") or 0) > 0)),
            "Size": hs(layers, 4),
            "Reclaimable": _reclaim(max(layers - used, 0), layers),
        },
        {
            "Type": "Containers",
            "TotalCount": str(len(containers)),
            "Active": str(sum(1 for c in containers if c.get("State") == "running")),
            "Size": hs(c_size, 4),
            "Reclaimable": _reclaim(c_idle, c_size),
        },
        {
            "Type": "Local Volumes",
            "TotalCount": str(len(volumes)),
            "Active": str(sum(1 for v in volumes if vol_refs(v) > 0)),
            "Size": hs(v_size, 4),
            "Reclaimable": _reclaim(v_idle, v_size),
        },
        {
            "Type": "Build Cache",
            "TotalCount": str(len(cache)),
            "Active": str(sum(1 for b in cache if b.get("InUse"))),
            "Size": hs(b_size, 4),
            "Reclaimable": _reclaim(b_idle, b_size, percent=False),
        },
    ]


def df(ctx: Context, argv: list[str]) -> int:
    opts, _ = DF.parse(argv)
    if opts["verbose"]:
        raise CommandFailed("dockyard system df --verbose is not supported yet")
    rows = df_rows(ctx.client().system_df())
    fmt = opts["format"] if opts["format"] and opts["format"] != "table" else DF_TABLE
    output.print_rows(fmt, rows, DF_HEADERS)
    return 0
