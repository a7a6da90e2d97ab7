"""``volume create|ls|inspect|rm|prune`` and the ``--mount``/``--tmpfs`` flags of ``run``.

``mount_flag`` parses one ``--mount`` value as the docker CLI does (CSV fields,
``type=bind|volume|tmpfs``, ``src``/``dst``, ``readonly``, ``bind-*``, ``volume-*``,
``tmpfs-*``) into a ``HostConfig.Mounts`` document.
"""

from __future__ import annotations

from dockyard.cli import output
from dockyard.cli.errors import CommandFailed, UsageError
from dockyard.cli.flags import LIST, STRING, Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context

VOLUME_HEADERS = {
    "Name": "VOLUME NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "Mountpoint": "MOUNTPOINT",
    "Labels": "LABELS",
    "Links": "LINKS",
    "Size": "SIZE",
    "Group": "GROUP",
    "Availability": "AVAILABILITY",
    "Status": "STATUS",
}
VOLUMES_TABLE = "table {{.Driver}}\t{{.Name}}"
FORMAT_HELP = "Format output using a custom template ('table', 'table TEMPLATE', 'json')"


def _key_values(specs: list[str], flag: str, command: str) -> dict[str, str]:
    out = {}
    for spec in specs:
        key, eq, value = spec.partition("=")
        if not key or (not eq and flag != "--label"):
            raise UsageError(f'invalid argument "{spec}" for "{flag}" flag: use key=value', command)
        out[key] = value
    return out


CREATE = Command(
    "volume create",
    "[OPTIONS] [VOLUME]",
    "Create a volume",
    [
        Flag("driver", "d", STRING, 'Specify volume driver name (default "local")'),
        Flag("label", kind=LIST, help="Set metadata for a volume"),
        Flag("name", kind=STRING, help="Specify volume name"),
        Flag("opt", "o", LIST, "Set driver specific options"),
    ],
    max_args=1,
)


def create(ctx: Context, argv: list[str]) -> int:
    opts, args = CREATE.parse(argv)
    if args and opts["name"]:
        raise CommandFailed(
            "conflicting options: either specify --name or provide positional arg, not both"
        )
    doc = ctx.client().create_volume(
        name=args[0] if args else opts["name"] or "",
        driver=opts["driver"] or "local",
        driver_opts=_key_values(opts["opt"], "--opt", CREATE.name),
        labels=_key_values(opts["label"], "--label", CREATE.name),
    )
    output.out(str(doc.get("Name", "")))
    return 0


LS = Command(
    "volume ls",
    "[OPTIONS]",
    "List volumes",
    [
        Flag("filter", "f", LIST, "Provide filter values (e.g. 'dangling=true')"),
        Flag("format", kind=STRING, help=FORMAT_HELP),
        Flag("quiet", "q", help="Only display volume names"),
    ],
    max_args=0,
    aliases=("dockyard volume ls", "dockyard volume list"),
)


def volume_rows(volumes: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Rows of ``volume ls``, sorted by name as the docker CLI does."""
    rows = []
    for v in sorted(volumes, key=lambda v: output.natural_key(str(v.get("Name", "")))):
        labels = v.get("Labels") or {}
        usage = v.get("UsageData") or {}
        rows.append(
            {
                "Name": str(v.get("Name", "")),
                "Driver": str(v.get("Driver", "")),
                "Scope": str(v.get("Scope", "")),
                "Mountpoint": str(v.get("Mountpoint", "")),
                "Labels": ",".join(f"{k}={val}" for k, val in sorted(labels.items())),
                "Links": str(usage["RefCount"]) if "RefCount" in usage else "N/A",
                "Size": output.human_size(int(usage["Size"])) if "Size" in usage else "N/A",
                # cluster volumes' fields: docker prints N/A for local ones
                "Group": "N/A",
                "Availability": "N/A",
                "Status": "N/A",
            }
        )
    return rows


def ls(ctx: Context, argv: list[str]) -> int:
    from dockyard.cli.images import parse_filters

    opts, _ = LS.parse(argv)
    doc = ctx.client().volumes(parse_filters(opts["filter"], LS.name))
    for warning in doc.get("Warnings") or []:
        output.err(str(warning))
    rows = volume_rows([v for v in doc.get("Volumes") or [] if isinstance(v, dict)])
    fmt = output.list_format(opts["quiet"], opts["format"], VOLUMES_TABLE)
    if opts["quiet"]:
        fmt = "{{.Name}}"
    output.print_rows(fmt, rows, VOLUME_HEADERS, "*formatter.volumeContext")
    return 0


INSPECT = Command(
    "volume inspect",
    "[OPTIONS] VOLUME [VOLUME...]",
    "Display detailed information on one or more volumes",
    [Flag("format", "f", STRING, FORMAT_HELP)],
    min_args=1,
)


def inspect(ctx: Context, argv: list[str]) -> int:
    opts, args = INSPECT.parse(argv)
    output.inspect_each(opts["format"], args, ctx.client().inspect_volume)
    return 0


RM = Command(
    "volume rm",
    "[OPTIONS] VOLUME [VOLUME...]",
    "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
    [Flag("force", "f", help="Force the removal of one or more volumes")],
    min_args=1,
    aliases=("dockyard volume rm", "dockyard volume remove"),
)


def rm(ctx: Context, argv: list[str]) -> int:
    from dockyard.client.errors import APIError

    opts, args = RM.parse(argv)
    client = ctx.client()
    errors = []
    for name in args:
        try:
            client.remove_volume(name, force=opts["force"])
        except APIError as e:
            errors.append(f"Error response from daemon: {e.message}")
            continue
        output.out(name)
    if errors:
        raise CommandFailed("\n".join(errors))
    return 0


PRUNE = Command(
    "volume prune",
    "[OPTIONS]",
    "Remove unused local volumes",
    [
        Flag("all", "a", help="Remove all unused volumes, not just anonymous ones"),
        Flag("filter", kind=LIST, help="Provide filter values (e.g. 'label=<label>')"),
        Flag("force", "f", help="Do not prompt for confirmation"),
    ],
    max_args=0,
)
ANONYMOUS_WARNING = (
    "WARNING! This will remove anonymous local volumes not used by at least one container."
)
ALL_WARNING = "WARNING! This will remove all local volumes not used by at least one container."


def prune(ctx: Context, argv: list[str]) -> int:
    from dockyard.cli.images import parse_filters

    opts, _ = PRUNE.parse(argv)
    filters = parse_filters(opts["filter"], PRUNE.name)
    if opts["all"]:
        if "all" in filters:
            raise CommandFailed("conflicting options: cannot specify both --all and --filter all=1")
        filters["all"] = ["true"]
    warning = ALL_WARNING if opts["all"] else ANONYMOUS_WARNING
    if not opts["force"] and not output.confirm(f"{warning}\nAre you sure you want to continue?"):
        return 0
    report = ctx.client().prune_volumes(filters)
    deleted = report.get("VolumesDeleted") or []
    if deleted:
        output.out("Deleted Volumes:\n" + "\n".join(str(d) for d in deleted) + "\n")
    reclaimed = int(report.get("SpaceReclaimed") or 0)
    output.out(f"Total reclaimed space: {output.human_size(reclaimed, 4)}")
    return 0


# -- run/create flags ---------------------------------------------------------------------


def _bool(key: str, value: str) -> bool:
    low = value.lower()
    if low in ("1", "t", "true"):
        return True
    if low in ("0", "f", "false"):
        return False
    raise ValueError(f"invalid value for {key}: {value}")


def mount_flag(spec: str) -> dict[str, Any]:
    """One ``--mount`` value as a ``HostConfig.Mounts`` document (docker's MountOpt.Set);
    ValueError with docker's message for a bad one."""
    import csv
    import os

    fields = next(csv.reader([spec]), [])
    mount: dict[str, Any] = {"Type": "volume"}
    sub: dict[str, dict[str, Any]] = {}

    def opts(kind: str) -> dict[str, Any]:
        return sub.setdefault(kind, {})

    for field in fields:
        key, eq, value = field.partition("=")
        key = key.lower()
        if not eq:
            if key in ("readonly", "ro"):
                mount["ReadOnly"] = True
            elif key == "volume-nocopy":
                opts("VolumeOptions")["NoCopy"] = True
            elif key == "bind-nonrecursive":
                opts("BindOptions")["NonRecursive"] = True
            else:
                raise ValueError(f"invalid field '{field}' must be a key=value pair")
            continue
        if key == "type":
            mount["Type"] = value.lower()
        elif key in ("source", "src"):
            mount["Source"] = (
                os.path.abspath(value) if value.startswith("./") or value == "." else value
            )
        elif key in ("target", "dst", "destination"):
            mount["Target"] = value
        elif key in ("readonly", "ro"):
            mount["ReadOnly"] = _bool(key, value)
        elif key == "consistency":
            mount["Consistency"] = value.lower()
        elif key == "bind-propagation":
            opts("BindOptions")["Propagation"] = value.lower()
        elif key == "bind-nonrecursive":
            opts("BindOptions")["NonRecursive"] = _bool(key, value)
        elif key == "bind-create-mountpoint":
            opts("BindOptions")["CreateMountpoint"] = _bool(key, value)
        elif key == "volume-nocopy":
            opts("VolumeOptions")["NoCopy"] = _bool(key, value)
        elif key == "volume-label":
            k, _, v = value.partition("=")
            opts("VolumeOptions").setdefault("Labels", {})[k] = v
        elif key == "volume-driver":
            opts("VolumeOptions").setdefault("DriverConfig", {})["Name"] = value
        elif key == "volume-opt":
            k, _, v = value.partition("=")
            config = opts("VolumeOptions").setdefault("DriverConfig", {})
            config.setdefault("Options", {})[k] = v
        elif key == "volume-subpath":
            opts("VolumeOptions")["Subpath"] = value
        elif key == "tmpfs-size":
            from dockyard.cli.containerconfig import ram_in_bytes

            opts("TmpfsOptions")["SizeBytes"] = ram_in_bytes(value)
        elif key == "tmpfs-mode":
            try:
                opts("TmpfsOptions")["Mode"] = int(value, 8)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {value}") from None
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")
    if not mount.get("Target"):
        raise ValueError("target is required")
    for kind, prefix in (("VolumeOptions", "volume"), ("BindOptions", "bind"),
                         ("TmpfsOptions", "tmpfs")):  # fmt: skip
        if kind in sub and mount["Type"] != prefix:
            raise ValueError(f"cannot mix '{prefix}-*' options with mount type '{mount['Type']}'")
    mount.update(sub)
    return mount


def tmpfs_flag(specs: list[str]) -> dict[str, str]:
    """``--tmpfs /path[:options]`` values as ``HostConfig.Tmpfs``."""
    out = {}
    for spec in specs:
        path, _, options = spec.partition(":")
        out[path] = options
    return out
