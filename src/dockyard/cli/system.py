"""``version``, ``info`` and ``system df``."""

from __future__ import annotations

import os
import sys

from dockyard import __version__
from dockyard.cli import output
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


def ansic_time(rfc3339: str) -> str:
    """docker version's ``reformatDate``: an RFC 3339 time as Go's ANSIC layout in local
    time ("Fri Nov 27 18:30:03 2026"); other text as it is."""
    import time

    from dockyard.cli.diskusage import unix_time

    stamp = unix_time(rfc3339) if "T" in rfc3339 else 0.0
    if not stamp:
        return rfc3339
    return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(stamp))


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
                    f"  Built:\t{ansic_time(str(d.get('BuildTime', '')))}",
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
    from dockyard.cli.template import GoNames

    go = {"APIVersion": "ApiVersion", "DefaultAPIVersion": "DefaultAPIVersion"}
    doc = {
        "Client": GoNames(client, go),
        "Server": GoNames(server, go) if server is not None else None,
    }
    fmt = opts["format"]
    if fmt:
        output.print_objects(fmt, [doc], context="system.versionInfo", name="version")
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
    """docker info's layout (prettyPrintInfo): the client part, then the server's."""
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
    ]

    def non_empty(label: str, key: str) -> None:
        if g(key):
            lines.append(f" {label}: {g(key)}")

    non_empty("Server Version", "ServerVersion")
    non_empty("Storage Driver", "Driver")
    lines += [f"  {p[0]}: {p[1]}" for p in g("DriverStatus") or [] if len(p) == 2]
    non_empty("Logging Driver", "LoggingDriver")
    non_empty("Cgroup Driver", "CgroupDriver")
    non_empty("Cgroup Version", "CgroupVersion")
    plugins = g("Plugins") or {}
    lines += [
        " Plugins:",
        f"  Volume: {' '.join(plugins.get('Volume') or [])}",
        f"  Network: {' '.join(plugins.get('Network') or [])}",
    ]
    if plugins.get("Authorization"):
        lines.append(f"  Authorization: {' '.join(plugins['Authorization'])}")
    lines.append(f"  Log: {' '.join(plugins.get('Log') or [])}")
    if g("CDISpecDirs"):
        lines += [" CDI spec directories:", *(f"  {d}" for d in g("CDISpecDirs") or [])]
    lines.append(f" Swarm: {(g('Swarm') or {}).get('LocalNodeState', 'inactive')}")
    runtimes = g("Runtimes") or {}
    if runtimes:
        lines.append(f" Runtimes: {' '.join(sorted(runtimes))}")
        lines.append(f" Default Runtime: {g('DefaultRuntime', '')}")
    if g("OSType") == "linux":
        lines.append(f" Init Binary: {g('InitBinary', '')}")
        for name, key in (("containerd", "ContainerdCommit"), ("runc", "RuncCommit")):
            lines.append(f" {name} version: {(g(key) or {}).get('ID', '')}")
        lines.append(f" init version: {(g('InitCommit') or {}).get('ID', '')}")
        if g("SecurityOptions"):
            lines.append(" Security Options:")
            for option in g("SecurityOptions") or []:
                fields = dict(kv.partition("=")[::2] for kv in str(option).split(","))
                lines.append(f"  {fields.get('name', option)}")
                if "profile" in fields:
                    lines.append(f"   Profile: {fields['profile']}")
    non_empty("Kernel Version", "KernelVersion")
    non_empty("Operating System", "OperatingSystem")
    non_empty("OSType", "OSType")
    non_empty("Architecture", "Architecture")
    lines.append(f" CPUs: {g('NCPU', 0)}")
    lines.append(f" Total Memory: {output.bytes_size(int(g('MemTotal') or 0))}")
    non_empty("Name", "Name")
    non_empty("ID", "ID")
    lines.append(f" Docker Root Dir: {g('DockerRootDir', '')}")
    lines.append(f" Debug Mode: {str(bool(g('Debug'))).lower()}")
    if g("Debug") or ctx.debug:
        lines += [
            f"  File Descriptors: {g('NFd', 0)}",
            f"  Goroutines: {g('NGoroutines', 0)}",
            f"  System Time: {g('SystemTime', '')}",
            f"  EventsListeners: {g('NEventsListener', 0)}",
        ]
    non_empty("HTTP Proxy", "HttpProxy")
    non_empty("HTTPS Proxy", "HttpsProxy")
    non_empty("No Proxy", "NoProxy")
    if g("Labels"):
        lines += [" Labels:", *(f"  {label}" for label in g("Labels") or [])]
    lines.append(f" Experimental: {str(bool(g('ExperimentalBuild'))).lower()}")
    registry = g("RegistryConfig") or {}
    insecure = [
        str(c.get("Name"))
        for c in (registry.get("IndexConfigs") or {}).values()
        if isinstance(c, dict) and not c.get("Secure", True)
    ]
    cidrs = [str(c) for c in registry.get("InsecureRegistryCIDRs") or []]
    if registry.get("InsecureRegistryCIDRs") or registry.get("IndexConfigs"):
        lines += [" Insecure Registries:", *(f"  {n}" for n in insecure + cidrs)]
    if registry.get("Mirrors"):
        lines += [" Registry Mirrors:", *(f"  {m}" for m in registry["Mirrors"])]
    lines.append(f" Live Restore Enabled: {str(bool(g('LiveRestoreEnabled'))).lower()}")
    return "\n".join(lines) + "\n"


def info(ctx: Context, argv: list[str]) -> int:
    opts, _ = INFO.parse(argv)
    doc = ctx.client().info()
    if opts["format"]:
        output.print_objects(opts["format"], [doc], context="system.dockerInfo")
        return 0
    output.out(info_text(ctx, doc))
    for warning in doc.get("Warnings") or []:
        output.err(str(warning))
    return 0


DF = Command(
    "system df",
    "[OPTIONS]",
    "Show dockyard disk usage",
    [
        Flag("format", kind=STRING, help=FORMAT_HELP),
        Flag("verbose", "v", help="Show detailed information on space usage"),
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
    doc = ctx.client().system_df()
    if opts["verbose"] and not opts["format"]:
        from dockyard.cli.diskusage import verbose_text

        output.write(verbose_text(doc))
        return 0
    rows = df_rows(doc)
    fmt = opts["format"] if opts["format"] and opts["format"] != "table" else DF_TABLE
    output.print_rows(fmt, rows, DF_HEADERS)
    return 0
