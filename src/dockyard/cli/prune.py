"""``dockyard system prune``: stopped containers, unused networks, (anonymous volumes),
dangling or unused images and the build cache, in docker's order and words.

Each part is the daemon's own prune endpoint (``POST /containers/prune``, ...), called
as docker's ``system prune`` calls them; the reclaimed space is their sum.
"""

from __future__ import annotations

from dockyard.cli import output
from dockyard.cli.errors import CommandFailed
from dockyard.cli.flags import LIST, Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context

PRUNE = Command(
    "system prune",
    "[OPTIONS]",
    "Remove unused data",
    [
        Flag("all", "a", help="Remove all unused images not just dangling ones"),
        Flag("filter", kind=LIST, help='Provide filter values (e.g. "label=<key>=<value>")'),
        Flag("force", "f", help="Do not prompt for confirmation"),
        Flag("volumes", help="Prune anonymous volumes"),
    ],
    max_args=0,
)


def warning(all_images: bool, volumes: bool, filters: list[str]) -> str:
    """docker's confirmation text for these options."""
    items = ["all stopped containers", "all networks not used by at least one container"]
    if volumes:
        items.append("all anonymous volumes not used by at least one container")
    if all_images:
        items += ["all images without at least one container associated to them"]
        items += ["all build cache"]
    else:
        items += ["all dangling images", "unused build cache"]
    text = "WARNING! This will remove:\n" + "".join(f"  - {i}\n" for i in items)
    if filters:
        text += "\n  Items to be pruned will be filtered with:\n"
        text += "".join(f"  - {f}\n" for f in filters)
    return text + "\nAre you sure you want to continue?"


def prune(ctx: Context, argv: list[str]) -> int:
    from dockyard.cli.images import parse_filters

    opts, _ = PRUNE.parse(argv)
    filters = parse_filters(opts["filter"], PRUNE.name)
    if opts["volumes"] and "until" in filters:
        raise CommandFailed('ERROR: The "until" filter is not supported with "--volumes"')
    if not opts["force"] and not output.confirm(
        warning(opts["all"], opts["volumes"], opts["filter"])
    ):
        return 0
    client = ctx.client()
    reclaimed = 0
    report = client.prune_containers(filters)
    reclaimed += _space(report)
    _section("Deleted Containers:", report.get("ContainersDeleted"))
    _section("Deleted Networks:", client.prune_networks(filters).get("NetworksDeleted"))
    if opts["volumes"]:
        report = client.prune_volumes(filters)
        reclaimed += _space(report)
        _section("Deleted Volumes:", report.get("VolumesDeleted"))
    image_filters = {**filters, "dangling": ["false" if opts["all"] else "true"]}
    report = client.prune_images(image_filters)
    reclaimed += _space(report)
    _section("Deleted Images:", [_image_line(i) for i in report.get("ImagesDeleted") or []])
    if set(filters) <= {"until"}:
        # the build cache has no labels: a label filter leaves it alone rather than
        # pruning all of it
        report = client.prune_builds(all=opts["all"], filters=filters or None)
        reclaimed += _space(report)
        _section("Deleted build cache objects:", report.get("CachesDeleted"))
    output.out(f"Total reclaimed space: {output.human_size(reclaimed, 4)}")
    return 0


def _space(report: dict[str, Any]) -> int:
    return int(report.get("SpaceReclaimed") or 0)


def _image_line(item: Any) -> str:
    if isinstance(item, dict) and item.get("Untagged"):
        return f"untagged: {item['Untagged']}"
    return f"deleted: {item.get('Deleted', '') if isinstance(item, dict) else item}"


def _section(title: str, items: list[Any] | None) -> None:
    """One part's report, as docker prints it: title, one line each, a blank line."""
    if items:
        output.out(title + "\n" + "".join(f"{i}\n" for i in items))
