"""``network create|ls|inspect|rm|prune|connect|disconnect``, as the docker CLI prints them."""

from __future__ import annotations

from dockyard.cli import output
from dockyard.cli.errors import CommandFailed, UsageError
from dockyard.cli.flags import LIST, STRING, Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context

NETWORK_HEADERS = {
    "ID": "NETWORK ID",
    "Name": "NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "IPv6": "IPV6",
    "Internal": "INTERNAL",
    "Labels": "LABELS",
    "CreatedAt": "CREATED AT",
}
NETWORKS_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
FORMAT_HELP = "Format output using a custom template ('table', 'table TEMPLATE', 'json')"
PRUNE_WARNING = "WARNING! This will remove all custom networks not used by at least one container."


def _key_values(specs: list[str], flag: str, command: str) -> dict[str, str]:
    out = {}
    for spec in specs:
        key, eq, value = spec.partition("=")
        if not key or (not eq and flag != "--label"):
            raise UsageError(f'invalid argument "{spec}" for "{flag}" flag: use key=value', command)
        out[key] = value
    return out


CREATE = Command(
    "network create",
    "[OPTIONS] NETWORK",
    "Create a network",
    [
        Flag("attachable", help="Enable manual container attachment"),
        Flag("driver", "d", STRING, 'Driver to manage the Network (default "bridge")'),
        Flag("gateway", kind=LIST, help="IPv4 Gateway for the master subnet"),
        Flag("internal", help="Restrict external access to the network"),
        Flag("ip-range", kind=LIST, help="Allocate container ip from a sub-range"),
        Flag("ipam-driver", kind=STRING, help='IP Address Management Driver (default "default")'),
        Flag("ipv6", help="Enable IPv6 networking"),
        Flag("label", kind=LIST, help="Set metadata on a network"),
        Flag("opt", "o", LIST, "Set driver specific options"),
        Flag("subnet", kind=LIST, help="Subnet in CIDR format that represents a network segment"),
    ],
    min_args=1,
    max_args=1,
)


def create(ctx: Context, argv: list[str]) -> int:
    opts, args = CREATE.parse(argv)
    subnets, gateways, ranges = opts["subnet"], opts["gateway"], opts["ip_range"]
    if len(gateways) > len(subnets) or len(ranges) > len(subnets):
        raise CommandFailed("every --gateway and --ip-range needs a --subnet")
    config = []
    for i, subnet in enumerate(subnets):
        entry = {"Subnet": subnet}
        if i < len(gateways):
            entry["Gateway"] = gateways[i]
        if i < len(ranges):
            entry["IPRange"] = ranges[i]
        config.append(entry)
    body = {
        "Name": args[0],
        "Driver": opts["driver"] or "bridge",
        "Internal": bool(opts["internal"]),
        "Attachable": bool(opts["attachable"]),
        "EnableIPv6": bool(opts["ipv6"]),
        "IPAM": {"Driver": opts["ipam_driver"] or "default", "Config": config},
        "Options": _key_values(opts["opt"], "--opt", CREATE.name),
        "Labels": _key_values(opts["label"], "--label", CREATE.name),
    }
    doc = ctx.client().create_network(body)
    if doc.get("Warning"):
        output.err(f"WARNING: {doc['Warning']}")
    output.out(str(doc.get("Id", "")))
    return 0


LS = Command(
    "network ls",
    "[OPTIONS]",
    "List networks",
    [
        Flag("filter", "f", LIST, "Provide filter values (e.g. 'driver=bridge')"),
        Flag("format", kind=STRING, help=FORMAT_HELP),
        Flag("no-trunc", help="Do not truncate the output"),
        Flag("quiet", "q", help="Only display network IDs"),
    ],
    max_args=0,
    aliases=("dockyard network ls", "dockyard network list"),
)


def network_rows(networks: list[dict[str, Any]], trunc: bool) -> list[dict[str, str]]:
    """Rows of ``network ls``, sorted by name as the docker CLI does."""
    rows = []
    for n in sorted(networks, key=lambda n: output.natural_key(str(n.get("Name", "")))):
        labels = n.get("Labels") or {}
        nid = str(n.get("Id", ""))
        rows.append(
            {
                "ID": nid[:12] if trunc else nid,
                "Name": str(n.get("Name", "")),
                "Driver": str(n.get("Driver", "")),
                "Scope": str(n.get("Scope", "")),
                "IPv6": str(bool(n.get("EnableIPv6"))).lower(),
                "IPv4": str(bool(n.get("EnableIPv4"))).lower(),  # API 1.47's field
                "Internal": str(bool(n.get("Internal"))).lower(),
                "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
                "CreatedAt": output.go_time_string(str(n.get("Created", ""))),
            }
        )
    return rows


def ls(ctx: Context, argv: list[str]) -> int:
    from dockyard.cli.images import parse_filters

    opts, _ = LS.parse(argv)
    found = ctx.client().networks(parse_filters(opts["filter"], LS.name))
    rows = network_rows(found, trunc=not opts["no_trunc"])
    fmt = output.list_format(opts["quiet"], opts["format"], NETWORKS_TABLE)
    output.print_rows(fmt, rows, NETWORK_HEADERS, "*network.networkContext")
    return 0


INSPECT = Command(
    "network inspect",
    "[OPTIONS] NETWORK [NETWORK...]",
    "Display detailed information on one or more networks",
    [Flag("format", "f", STRING, FORMAT_HELP), Flag("verbose", "v", help="Verbose output")],
    min_args=1,
)


def inspect(ctx: Context, argv: list[str]) -> int:
    opts, args = INSPECT.parse(argv)
    output.inspect_each(opts["format"], args, ctx.client().inspect_network)
    return 0


RM = Command(
    "network rm",
    "[OPTIONS] NETWORK [NETWORK...]",
    "Remove one or more networks",
    [Flag("force", "f", help="Do not error if the network does not exist")],
    min_args=1,
    aliases=("dockyard network rm", "dockyard network remove"),
)


def rm(ctx: Context, argv: list[str]) -> int:
    from dockyard.client.errors import APIError

    opts, args = RM.parse(argv)
    client = ctx.client()
    errors = []
    for ref in args:
        try:
            client.remove_network(ref)
        except APIError as e:
            if not (opts["force"] and e.not_found):
                errors.append(f"Error response from daemon: {e.message}")
            continue
        output.out(ref)
    if errors:
        raise CommandFailed("\n".join(errors))
    return 0


PRUNE = Command(
    "network prune",
    "[OPTIONS]",
    "Remove all unused networks",
    [
        Flag("filter", kind=LIST, help="Provide filter values (e.g. 'until=<timestamp>')"),
        Flag("force", "f", help="Do not prompt for confirmation"),
    ],
    max_args=0,
)


def prune(ctx: Context, argv: list[str]) -> int:
    from dockyard.cli.images import parse_filters

    opts, _ = PRUNE.parse(argv)
    filters = parse_filters(opts["filter"], PRUNE.name)
    if not opts["force"] and not output.confirm(
        f"{PRUNE_WARNING}\nAre you sure you want to continue?"
    ):
        return 0
    deleted = ctx.client().prune_networks(filters).get("NetworksDeleted") or []
    if deleted:
        output.out("Deleted Networks:\n" + "\n".join(str(d) for d in deleted) + "\n")
    return 0


CONNECT = Command(
    "network connect",
    "[OPTIONS] NETWORK CONTAINER",
    "Connect a container to a network",
    [
        Flag("alias", kind=LIST, help="Add network-scoped alias for the container"),
        Flag("ip", kind=STRING, help="IPv4 address (e.g., 172.30.100.104)"),
    ],
    min_args=2,
    max_args=2,
)


def connect(ctx: Context, argv: list[str]) -> int:
    opts, (network, container) = CONNECT.parse(argv)
    endpoint: dict[str, Any] = {"Aliases": opts["alias"]}
    if opts["ip"]:
        endpoint["IPAMConfig"] = {"IPv4Address": opts["ip"]}
    ctx.client().network_connect(network, {"Container": container, "EndpointConfig": endpoint})
    return 0


DISCONNECT = Command(
    "network disconnect",
    "[OPTIONS] NETWORK CONTAINER",
    "Disconnect a container from a network",
    [Flag("force", "f", help="Force the container to disconnect from a network")],
    min_args=2,
    max_args=2,
)


def disconnect(ctx: Context, argv: list[str]) -> int:
    opts, (network, container) = DISCONNECT.parse(argv)
    ctx.client().network_disconnect(network, container, force=bool(opts["force"]))
    return 0
