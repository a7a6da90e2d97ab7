"""``dockyard update`` (a container's resource limits and restart policy) and
``dockyard port`` (its published ports, from inspect's ``NetworkSettings.Ports``).

Both print what docker prints: ``update`` the name of each container it changed,
``port`` ``80/tcp -> 0.0.0.0:8080`` lines (or the host addresses of one private port),
nothing at all when nothing is published.
"""

from __future__ import annotations

from dockyard.cli import output
from dockyard.cli.errors import CommandFailed, UsageError
from dockyard.cli.flags import STRING, Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context

UPDATE = Command(
    "update",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Update configuration of one or more containers",
    [
        Flag("blkio-weight", kind=STRING, help="Block IO (relative weight), between 10 and 1000"),
        Flag("cpu-period", kind=STRING, help="Limit CPU CFS (Completely Fair Scheduler) period"),
        Flag("cpu-quota", kind=STRING, help="Limit CPU CFS (Completely Fair Scheduler) quota"),
        Flag("cpu-shares", "c", STRING, "CPU shares (relative weight)"),
        Flag("cpus", kind=STRING, help="Number of CPUs"),
        Flag("cpuset-cpus", kind=STRING, help="CPUs in which to allow execution (0-3, 0,1)"),
        Flag("cpuset-mems", kind=STRING, help="MEMs in which to allow execution (0-3, 0,1)"),
        Flag("memory", "m", STRING, "Memory limit"),
        Flag("memory-reservation", kind=STRING, help="Memory soft limit"),
        Flag(
            "memory-swap",
            kind=STRING,
            help="Swap limit equal to memory plus swap: -1 to enable unlimited swap",
        ),
        Flag("pids-limit", kind=STRING, help="Tune container pids limit (set -1 for unlimited)"),
        Flag("restart", kind=STRING, help="Restart policy to apply when a container exits"),
    ],
    min_args=1,
    aliases=("dockyard container update", "dockyard update"),
)

PORT = Command(
    "port",
    "CONTAINER [PRIVATE_PORT[/PROTO]]",
    "List port mappings or a specific mapping for the container",
    [],
    min_args=1,
    max_args=2,
    aliases=("dockyard container port", "dockyard port"),
)


def _int(text: str, flag: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(
            f'invalid argument "{text}" for "--{flag}" flag: strconv.ParseInt: parsing '
            f'"{text}": invalid syntax',
            "update",
        ) from None


def _bytes(text: str, flag: str, allow_unlimited: bool = False) -> int:
    from dockyard.cli.containerconfig import ram_in_bytes

    if allow_unlimited and text.strip() == "-1":
        return -1
    try:
        return ram_in_bytes(text)
    except UsageError:
        raise UsageError(f'invalid argument "{text}" for "--{flag}" flag', "update") from None


def update_config(opts: dict[str, Any]) -> dict[str, Any]:
    """The UpdateConfig body of the flags given (docker sends only those)."""
    body: dict[str, Any] = {}
    for flag, key in (
        ("blkio_weight", "BlkioWeight"),
        ("cpu_period", "CpuPeriod"),
        ("cpu_quota", "CpuQuota"),
        ("cpu_shares", "CpuShares"),
        ("pids_limit", "PidsLimit"),
    ):
        if opts[flag] is not None:
            body[key] = _int(opts[flag], flag.replace("_", "-"))
    for flag, key in (("cpuset_cpus", "CpusetCpus"), ("cpuset_mems", "CpusetMems")):
        if opts[flag] is not None:
            body[key] = opts[flag]
    if opts["memory"] is not None:
        body["Memory"] = _bytes(opts["memory"], "memory")
    if opts["memory_reservation"] is not None:
        body["MemoryReservation"] = _bytes(opts["memory_reservation"], "memory-reservation")
    if opts["memory_swap"] is not None:
        body["MemorySwap"] = _bytes(opts["memory_swap"], "memory-swap", allow_unlimited=True)
    if opts["cpus"] is not None:
        try:
            body["NanoCpus"] = round(float(opts["cpus"]) * 1e9)
        except ValueError:
            raise UsageError(
                f'invalid argument "{opts["cpus"]}" for "--cpus" flag', "update"
            ) from None
    if opts["restart"] is not None:
        name, _, count = opts["restart"].partition(":")
        body["RestartPolicy"] = {
            "Name": name,
            "MaximumRetryCount": _int(count, "restart") if count else 0,
        }
    return body


def update(ctx: Context, argv: list[str]) -> int:
    from dockyard.cli.containers import for_each_container

    opts, args = UPDATE.parse(argv)
    body = update_config(opts)
    if not body:
        raise CommandFailed("you must provide one or more flags when using this command")
    client = ctx.client()
    return for_each_container(args, lambda n: client.update_container(n, body))


def _join(ip: str, port: str) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _natural_key(text: str) -> list[Any]:
    import re

    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text) if p]


def port_lines(ports: dict[str, Any] | None, container: str, private: str | None) -> list[str]:
    """docker port's lines for inspect's ``NetworkSettings.Ports``."""
    ports = ports or {}
    out = []
    if private is not None:
        number, _, proto = private.partition("/")
        if not number.isdigit() or int(number) > 65535:
            raise CommandFailed(f"Error: invalid port ({number})")
        frontends = ports.get(f"{number}/{proto or 'tcp'}")
        if not frontends:
            raise CommandFailed(f"Error: No public port '{private}' published for {container}")
        out = [_join(str(f.get("HostIp", "")), str(f.get("HostPort", ""))) for f in frontends]
    else:
        for key, frontends in ports.items():
            for f in frontends or []:
                host = _join(str(f.get("HostIp", "")), str(f.get("HostPort", "")))
                out.append(f"{key} -> {host}")
    return sorted(out, key=_natural_key)


def port(ctx: Context, argv: list[str]) -> int:
    _, args = PORT.parse(argv)
    doc = ctx.client().inspect_container(args[0])
    settings = doc.get("NetworkSettings") or {}
    lines = port_lines(settings.get("Ports"), args[0], args[1] if len(args) > 1 else None)
    if lines:
        output.out("\n".join(lines))
    return 0
