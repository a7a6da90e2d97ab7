"""The container commands that manage containers once created: ``ps``, ``stop``,
``kill``, ``restart``, ``rm``, ``logs``, ``wait``, ``inspect``, ``rename``, ``pause``,
``unpause``, ``top`` and ``container prune``.

``run``, ``create``, ``start`` and ``attach`` are in ``run.py``; the options of create
and run in ``containerconfig.py``.
"""

from __future__ import annotations

from dockyard.cli import output
from dockyard.cli.errors import CommandFailed
from dockyard.cli.flags import INT, LIST, STRING, Command, Flag
from dockyard.cli.images import parse_filters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context


FORMAT_HELP = "Format output using a custom template ('table', 'table TEMPLATE', 'json')"

PS_HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "RunningFor": "CREATED",
    "CreatedAt": "CREATED AT",
    "Status": "STATUS",
    "State": "STATE",
    "Ports": "PORTS",
    "Names": "NAMES",
    "Size": "SIZE",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "Networks": "NETWORKS",
    "LocalVolumes": "LOCAL VOLUMES",
}
PS_TABLE = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)
PS_TABLE_SIZE = PS_TABLE + "\t{{.Size}}"


# -- simple verbs ------------------------------------------------------------------------


def for_each_container(
    args: list[str], call: Any, prefix: str = "Error response from daemon: ", summary: str = ""
) -> int:
    """``call(name)`` for each argument; print the name on success, collect the errors
    (and end them with ``summary`` of the failed names, as docker start does)."""
    from dockyard.client.errors import APIError

    errors = []
    failed = []
    for name in args:
        try:
            call(name)
        except APIError as e:
            errors.append(f"{prefix}{e.message}")
            failed.append(name)
            continue
        output.out(name)
    if errors:
        if summary:
            errors.append(summary.format(", ".join(failed)))
        raise CommandFailed("\n".join(errors))
    return 0


STOP = Command(
    "stop",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Stop one or more running containers",
    [
        Flag("signal", "s", STRING, "Signal to send to the container"),
        Flag("timeout", "t", INT, "Seconds to wait before killing the container"),
        Flag("time", kind=INT, help="Seconds to wait before killing the container (deprecated)"),
    ],
    min_args=1,
    aliases=("dockyard container stop", "dockyard stop"),
)


def stop(ctx: Context, argv: list[str]) -> int:
    opts, args = STOP.parse(argv)
    timeout = opts["timeout"] if opts["timeout"] is not None else opts["time"]
    client = ctx.client()
    return for_each_container(args, lambda n: client.stop(n, timeout, opts["signal"]))


RESTART = Command(
    "restart",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Restart one or more containers",
    [
        Flag("signal", "s", STRING, "Signal to send to the container"),
        Flag("timeout", "t", INT, "Seconds to wait before killing the container"),
        Flag("time", kind=INT, help="Seconds to wait before killing the container (deprecated)"),
    ],
    min_args=1,
    aliases=("dockyard container restart", "dockyard restart"),
)


def restart(ctx: Context, argv: list[str]) -> int:
    opts, args = RESTART.parse(argv)
    timeout = opts["timeout"] if opts["timeout"] is not None else opts["time"]
    client = ctx.client()
    return for_each_container(args, lambda n: client.restart(n, timeout))


KILL = Command(
    "kill",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Kill one or more running containers",
    [Flag("signal", "s", STRING, "Signal to send to the container")],
    min_args=1,
    aliases=("dockyard container kill", "dockyard kill"),
)


def kill(ctx: Context, argv: list[str]) -> int:
    opts, args = KILL.parse(argv)
    client = ctx.client()
    return for_each_container(args, lambda n: client.kill(n, opts["signal"]))


RM = Command(
    "rm",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Remove one or more containers",
    [
        Flag("force", "f", help="Force the removal of a running container (uses SIGKILL)"),
        Flag("link", "l", help="Remove the specified link"),
        Flag("volumes", "v", help="Remove anonymous volumes associated with the container"),
    ],
    min_args=1,
    aliases=("dockyard container rm", "dockyard container remove", "dockyard rm"),
)


def rm(ctx: Context, argv: list[str]) -> int:
    opts, args = RM.parse(argv)
    client = ctx.client()
    return for_each_container(
        args,
        lambda n: client.remove_container(
            n, force=opts["force"], volumes=opts["volumes"], link=opts["link"]
        ),
    )


PAUSE = Command(
    "pause",
    "CONTAINER [CONTAINER...]",
    "Pause all processes within one or more containers",
    [],
    min_args=1,
    aliases=("dockyard container pause", "dockyard pause"),
)
UNPAUSE = Command(
    "unpause",
    "CONTAINER [CONTAINER...]",
    "Unpause all processes within one or more containers",
    [],
    min_args=1,
    aliases=("dockyard container unpause", "dockyard unpause"),
)


def pause(ctx: Context, argv: list[str]) -> int:
    _, args = PAUSE.parse(argv)
    return for_each_container(args, ctx.client().pause)


def unpause(ctx: Context, argv: list[str]) -> int:
    _, args = UNPAUSE.parse(argv)
    return for_each_container(args, ctx.client().unpause)


RENAME = Command(
    "rename",
    "CONTAINER NEW_NAME",
    "Rename a container",
    [],
    min_args=2,
    max_args=2,
    aliases=("dockyard container rename", "dockyard rename"),
)


def rename(ctx: Context, argv: list[str]) -> int:
    _, (old, new) = RENAME.parse(argv)
    from dockyard.client.errors import APIError

    if not new.strip():
        raise CommandFailed("Error: Neither old nor new names may be empty")
    try:
        ctx.client().rename(old, new)
    except APIError as e:
        message = f"Error response from daemon: {e.message}"
        raise CommandFailed(f"{message}\nError: failed to rename container named {old}") from None
    return 0


WAIT = Command(
    "wait",
    "CONTAINER [CONTAINER...]",
    "Block until one or more containers stop, then print their exit codes",
    [],
    min_args=1,
    aliases=("dockyard container wait", "dockyard wait"),
)


def wait(ctx: Context, argv: list[str]) -> int:
    from dockyard.client.errors import APIError

    _, args = WAIT.parse(argv)
    client = ctx.client()
    errors = []
    for name in args:
        try:
            result = client.wait(name)
        except APIError as e:
            errors.append(f"Error response from daemon: {e.message}")
            continue
        output.out(str(result.get("StatusCode", 0)))
    if errors:
        raise CommandFailed("\n".join(errors))
    return 0


TOP = Command(
    "top",
    "CONTAINER [ps OPTIONS]",
    "Display the running processes of a container",
    [],
    min_args=1,
    aliases=("dockyard container top", "dockyard top"),
    interspersed=False,
)


def top(ctx: Context, argv: list[str]) -> int:
    _, args = TOP.parse(argv)
    doc = ctx.client().top(args[0], " ".join(args[1:]) or None)
    titles = [str(t) for t in doc.get("Titles") or []]
    rows = [[str(c) for c in p] for p in doc.get("Processes") or []]
    # docker top: tabwriter.NewWriter(out, 20, 1, 3, ' ', 0)
    output.print_tabbed("\n".join("\t".join(r) for r in [titles, *rows]) + "\n", 20, 3)
    return 0


# -- logs ---------------------------------------------------------------------------------

LOGS = Command(
    "logs",
    "[OPTIONS] CONTAINER",
    "Fetch the logs of a container",
    [
        Flag("details", help="Show extra details provided to logs"),
        Flag("follow", "f", help="Follow log output"),
        Flag("since", kind=STRING, help="Show logs since timestamp or relative (e.g. 42m)"),
        Flag("tail", "n", STRING, 'Number of lines to show from the end of the logs (or "all")'),
        Flag("timestamps", "t", help="Show timestamps"),
        Flag("until", kind=STRING, help="Show logs before a timestamp or relative (e.g. 42m)"),
    ],
    min_args=1,
    max_args=1,
    aliases=("dockyard container logs", "dockyard logs"),
)


def time_arg(value: str | None, now: float | None = None, flag: str = "") -> str | None:
    """docker's ``GetTimestamp``: a duration ago ("10m", "1h30m") or a time, as unix
    seconds ("1700000000.000000000")."""
    import re
    import time

    if not value:
        return None
    now = time.time() if now is None else now
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return value
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", value)
    if parts and "".join(n + u for n, u in parts) == value:
        scale = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
        seconds = sum(float(n) * scale[u] for n, u in parts)
        return f"{now - seconds:.9f}"
    from datetime import datetime

    # the fraction is kept to the nanosecond, as docker's "%d.%09d" (a float would round
    # "--until <a log line's -t time>" below the line's own time)
    text = value.replace("Z", "+00:00")
    nanos = "000000000"
    fraction = re.search(r"\.(\d+)", text)
    if fraction:
        nanos = fraction.group(1)[:9].ljust(9, "0")
        text = text[: fraction.start()] + text[fraction.end() :]
    for candidate in (text, text + "T00:00:00"):
        try:
            parsed = datetime.fromisoformat(candidate)  # no zone: local time, as docker
        except ValueError:
            continue
        return f"{int(parsed.timestamp())}.{nanos}"
    # docker: logs names the flag, events does not; both exit 1
    message = f'failed to parse value as time or duration: "{value}"'
    raise CommandFailed(f'invalid value for "{flag}": {message}' if flag else message)


def logs(ctx: Context, argv: list[str]) -> int:
    opts, (ref,) = LOGS.parse(argv)
    chunks = ctx.client().logs(
        ref,
        follow=opts["follow"],
        timestamps=opts["timestamps"],
        tail=opts["tail"],
        since=time_arg(opts["since"], flag="since"),
        until=time_arg(opts["until"], flag="until"),
    )
    for stream, data in chunks:
        output.write_bytes(data, stream)
    return 0


# -- ps -----------------------------------------------------------------------------------

PS = Command(
    "ps",
    "[OPTIONS]",
    "List containers",
    [
        Flag("all", "a", help="Show all containers (default shows just running)"),
        Flag("filter", "f", LIST, "Filter output based on conditions provided"),
        Flag("format", kind=STRING, help=FORMAT_HELP),
        Flag("last", "n", INT, "Show n last created containers (includes all states)", -1),
        Flag("latest", "l", help="Show the latest created container (includes all states)"),
        Flag("no-trunc", help="Don't truncate output"),
        Flag("quiet", "q", help="Only display container IDs"),
        Flag("size", "s", help="Display total file sizes"),
    ],
    max_args=0,
    aliases=("dockyard container ls", "dockyard container list", "dockyard container ps"),
)


def container_rows(
    summaries: list[dict[str, Any]], trunc: bool, now: float | None = None
) -> list[dict[str, str | None]]:
    """The ``ps`` fields of each container, as docker's ContainerContext renders them."""
    rows = []
    for c in summaries:
        cid = str(c.get("Id", ""))
        image = str(c.get("Image", ""))
        if trunc:
            if image.startswith("sha256:"):
                image = output.truncate_id(image)
            image = image.partition("@")[0] or image
        command = str(c.get("Command", ""))
        if trunc:
            command = output.ellipsis(command, 20)
        names = [str(n).lstrip("/") for n in c.get("Names") or []]
        if trunc:
            names = [n for n in names if "/" not in n][:1] or names[:1]
        created = int(c.get("Created") or 0)
        size_rw = int(c.get("SizeRw") or 0)
        size_root = int(c.get("SizeRootFs") or 0)
        size = output.human_size(size_rw, 3)
        if size_root:
            size += f" (virtual {output.human_size(size_root, 3)})"
        labels = c.get("Labels") or {}
        networks = sorted(((c.get("NetworkSettings") or {}).get("Networks") or {}).keys())
        mounts = [
            str(m.get("Name") or m.get("Source") or "")
            for m in c.get("Mounts") or []
            if isinstance(m, dict)
        ]
        rows.append(
            {
                "ID": output.truncate_id(cid) if trunc else cid,
                "Image": image,
                "Command": output.go_quote(command),
                "RunningFor": output.since(created, now),
                "CreatedAt": output.local_time(created),
                "Status": str(c.get("Status", "")),
                "State": str(c.get("State", "")),
                "Ports": "",
                "Names": ",".join(names),
                "Size": size,
                "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
                "Mounts": ",".join(output.ellipsis(m, 15) if trunc else m for m in mounts),
                "Networks": ",".join(networks),
                "LocalVolumes": str(sum(1 for m in c.get("Mounts") or [] if m.get("Name"))),
                "Platform": None,  # docker 28's field; the API's list has no platform
            }
        )
    return rows


def ps(ctx: Context, argv: list[str]) -> int:
    opts, _ = PS.parse(argv)
    filters = parse_filters(opts["filter"], PS.name)
    limit = opts["last"]
    if opts["latest"]:
        limit = 1
    show_all = opts["all"] or limit > 0
    summaries = ctx.client().containers(
        all=show_all, filters=filters, limit=limit, size=opts["size"]
    )
    rows = container_rows(summaries, trunc=not opts["no_trunc"])
    fmt = output.list_format(
        opts["quiet"], opts["format"], PS_TABLE_SIZE if opts["size"] else PS_TABLE
    )
    output.print_rows(
        fmt, rows, PS_HEADERS, "*formatter.ContainerContext", "failed to execute template: "
    )
    return 0


# -- inspect ------------------------------------------------------------------------------

INSPECT = Command(
    "inspect",
    "[OPTIONS] NAME|ID [NAME|ID...]",
    "Return low-level information on Dockyard objects",
    [
        Flag("format", "f", STRING, FORMAT_HELP),
        Flag("size", "s", help="Display total file sizes if the type is container"),
        Flag("type", kind=STRING, help="Only inspect objects of the given type"),
    ],
    min_args=1,
)
CONTAINER_INSPECT = Command(
    "container inspect",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Display detailed information on one or more containers",
    [
        Flag("format", "f", STRING, FORMAT_HELP),
        Flag("size", "s", help="Display total file sizes"),
    ],
    min_args=1,
)


INSPECT_TYPES = ("container", "image", "network", "volume")  # docker's order when untyped
DOCKER_TYPES = (
    *("config", "container", "image", "network", "node"),
    *("plugin", "secret", "service", "task", "volume"),
)


def inspect(ctx: Context, argv: list[str]) -> int:
    """Any object: containers first, then images, networks and volumes (docker's order
    for an untyped inspect)."""
    opts, args = INSPECT.parse(argv)
    kind = opts["type"] or ""
    if kind and kind not in DOCKER_TYPES:
        valid = ", ".join(f'"{t}"' for t in DOCKER_TYPES)
        raise CommandFailed(f'unknown type: "{kind}": must be one of {valid}')
    if kind and kind not in INSPECT_TYPES:
        raise CommandFailed(
            f"Error response from daemon: a {kind} is a swarm object; dockyard has no swarm mode"
        )
    kinds = [kind] if kind else list(INSPECT_TYPES)
    return _inspect(ctx, args, kinds, opts["format"], opts["size"])


def container_inspect(ctx: Context, argv: list[str]) -> int:
    opts, args = CONTAINER_INSPECT.parse(argv)
    return _inspect(ctx, args, ["container"], opts["format"], opts["size"])


def _inspect(ctx: Context, args: list[str], kinds: list[str], fmt: str | None, size: bool) -> int:
    from dockyard.client.errors import APIError

    client = ctx.client()
    getters = {
        "container": lambda name: client.inspect_container(name, size=size),
        "image": client.inspect_image,
        "network": client.inspect_network,
        "volume": client.inspect_volume,
    }
    found: list[Any] = []
    errors: list[str] = []
    for name in args:
        for i, kind in enumerate(kinds):
            try:
                found.append(getters[kind](name))
                break
            except APIError as e:
                if not e.not_found:
                    raise
                if i == len(kinds) - 1:
                    if len(kinds) > 1:
                        errors.append(f"Error: No such object: {name}")
                    else:
                        errors.append(f"Error response from daemon: {e.message}")
    if not fmt:
        output.print_objects(fmt, found)
    else:
        from dockyard.cli.template import Template, TemplateError

        tmpl = Template(fmt)
        printed = False
        for obj in found:  # one object's template error does not stop the others
            try:
                output.write(output.render_object(tmpl, obj))
                printed = True
            except TemplateError as e:
                errors.append(e.message)
        if not printed:
            output.write("\n")  # docker's TemplateInspector.Flush of an empty buffer
    if errors:
        raise CommandFailed("\n".join(errors))
    return 0


# -- prune --------------------------------------------------------------------------------

PRUNE = Command(
    "container prune",
    "[OPTIONS]",
    "Remove all stopped containers",
    [
        Flag("filter", kind=LIST, help="Provide filter values (e.g. 'until=<timestamp>')"),
        Flag("force", "f", help="Do not prompt for confirmation"),
    ],
    max_args=0,
)
PRUNE_WARNING = "WARNING! This will remove all stopped containers."


def prune(ctx: Context, argv: list[str]) -> int:
    opts, _ = PRUNE.parse(argv)
    filters = parse_filters(opts["filter"], PRUNE.name)
    if not opts["force"] and not output.confirm(
        f"{PRUNE_WARNING}\nAre you sure you want to continue?"
    ):
        return 0
    report = ctx.client().prune_containers(filters)
    deleted = report.get("ContainersDeleted") or []
    if deleted:
        output.out("Deleted Containers:\n" + "\n".join(str(d) for d in deleted) + "\n")
    reclaimed = int(report.get("SpaceReclaimed") or 0)
    output.out(f"Total reclaimed space: {output.human_size(reclaimed, 4)}")
    return 0
