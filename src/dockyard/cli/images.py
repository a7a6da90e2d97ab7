"""``images``, ``rmi``, ``tag``, ``history``, ``inspect`` and ``image prune``."""

from __future__ import annotations

from dockyard.cli import output
from dockyard.cli.errors import CommandFailed, UsageError
from dockyard.cli.flags import BOOL, LIST, STRING, Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context

IMAGE_HEADERS = {
    "ID": "IMAGE ID",
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "Containers": "CONTAINERS",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
    "VirtualSize": "VIRTUAL SIZE",
}
IMAGES_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGES_DIGESTS_TABLE = (
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
)
HISTORY_HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}
HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

FORMAT_HELP = "Format output using a custom template ('table', 'table TEMPLATE', 'json')"

IMAGES = Command(
    "images",
    "[OPTIONS] [REPOSITORY[:TAG]]",
    "List images",
    [
        Flag("all", "a", help="Show all images (default hides intermediate images)"),
        Flag("digests", help="Show digests"),
        Flag("filter", "f", LIST, "Filter output based on conditions provided"),
        Flag("format", kind=STRING, help=FORMAT_HELP),
        Flag("no-trunc", help="Don't truncate output"),
        Flag("quiet", "q", help="Only show image IDs"),
        Flag("tree", help="List multi-platform images as a tree (not supported yet)"),
    ],
    max_args=1,
    aliases=("dockyard image ls", "dockyard image list", "dockyard images"),
)


def parse_filters(specs: list[str], command: str) -> dict[str, list[str]]:
    """``-f key=value`` (repeatable) as Docker's filter map."""
    filters: dict[str, list[str]] = {}
    for spec in specs:
        key, eq, value = spec.partition("=")
        if not eq or not key:
            # pflag's words for a bad value; prune commands have no -f (it is --force)
            flag = "--filter" if command.endswith("prune") else "-f, --filter"
            raise UsageError(
                f'invalid argument "{spec}" for "{flag}" flag: '
                "bad format of filter (expected name=value)",
                command,
            )
        filters.setdefault(key.strip().lower(), []).append(value)
    return filters


def split_repo_tag(ref: str) -> tuple[str, str]:
    """``name:tag`` -> (name, tag); a ``:`` before the last ``/`` is a registry port."""
    name, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        return ref, ""
    return name, tag


def familiar(name: str) -> str:
    """Docker's FamiliarName: Docker Hub's prefixes dropped."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def image_entries(summary: dict[str, Any], digests: bool) -> list[tuple[str, str, str]]:
    """(repository, tag, digest) rows of one image, as docker's imageFormatTaggedAndDigest."""
    tags = [t for t in summary.get("RepoTags") or [] if t != "<none>:<none>"]
    dgsts = [d for d in summary.get("RepoDigests") or [] if d != "<none>@<none>"]
    if not tags and not dgsts:
        return [("<none>", "<none>", "<none>")]
    repo_tags: dict[str, list[str]] = {}
    for ref in tags:
        name, tag = split_repo_tag(ref)
        if tag:
            repo_tags.setdefault(familiar(name), []).append(tag)
    repo_digests: dict[str, list[str]] = {}
    for ref in dgsts:
        name, at, digest = ref.partition("@")
        if at:
            repo_digests.setdefault(familiar(name), []).append(digest)
    rows: list[tuple[str, str, str]] = []
    for repo in sorted(repo_tags):
        ds = repo_digests.pop(repo, []) if digests else []
        if not digests:
            repo_digests.pop(repo, None)
        for tag in repo_tags[repo]:
            rows.extend((repo, tag, d) for d in ds or ["<none>"])
    for repo in sorted(repo_digests):
        if digests:
            rows.extend((repo, "<none>", d) for d in repo_digests[repo])
        else:
            rows.append((repo, "<none>", ""))
    return rows


def image_rows(
    summaries: list[dict[str, Any]], digests: bool, trunc: bool, now: float | None = None
) -> list[dict[str, str]]:
    rows = []
    for s in summaries:
        image_id = str(s.get("Id", ""))
        created = int(s.get("Created") or 0)
        size = int(s.get("Size") or 0)
        shared = int(s.get("SharedSize", -1) if s.get("SharedSize") is not None else -1)
        containers = int(s.get("Containers", -1) if s.get("Containers") is not None else -1)
        virtual = int(s.get("VirtualSize") or size)
        common = {
            "ID": output.truncate_id(image_id) if trunc else image_id,
            "CreatedSince": output.since(created, now),
            "CreatedAt": output.local_time(created),
            "Size": output.human_size(size),
            "Containers": "N/A" if containers == -1 else str(containers),
            "SharedSize": "N/A" if shared == -1 else output.human_size(shared),
            "UniqueSize": "N/A" if shared == -1 else output.human_size(size - shared),
            "VirtualSize": output.human_size(virtual),
        }
        for repo, tag, digest in image_entries(s, digests):
            rows.append({"Repository": repo, "Tag": tag, "Digest": digest, **common})
    return rows


def images(ctx: Context, argv: list[str]) -> int:
    opts, args = IMAGES.parse(argv)
    if opts["tree"]:
        raise CommandFailed("dockyard images --tree is not supported yet")
    filters = parse_filters(opts["filter"], IMAGES.name)
    if args:
        filters.setdefault("reference", []).append(args[0])
    summaries = ctx.client().images(all=opts["all"], filters=filters, digests=opts["digests"])
    rows = image_rows(summaries, opts["digests"], trunc=not opts["no_trunc"])
    fmt = output.list_format(
        opts["quiet"], opts["format"], IMAGES_DIGESTS_TABLE if opts["digests"] else IMAGES_TABLE
    )
    output.print_rows(fmt, rows, IMAGE_HEADERS, "*formatter.imageContext")
    return 0


RMI = Command(
    "rmi",
    "[OPTIONS] IMAGE [IMAGE...]",
    "Remove one or more images",
    [
        Flag("force", "f", help="Force removal of the image"),
        Flag("no-prune", help="Do not delete untagged parents"),
    ],
    min_args=1,
    aliases=("dockyard image rm", "dockyard image remove", "dockyard rmi"),
)


def rmi(ctx: Context, argv: list[str]) -> int:
    from dockyard.client.errors import APIError

    opts, args = RMI.parse(argv)
    client = ctx.client()
    errors = []
    for name in args:
        try:
            report = client.remove_image(name, force=opts["force"], noprune=opts["no_prune"])
        except APIError as e:
            errors.append(f"Error response from daemon: {e.message}")
            continue
        for item in report:
            if item.get("Untagged"):
                output.out(f"Untagged: {item['Untagged']}")
            if item.get("Deleted"):
                output.out(f"Deleted: {item['Deleted']}")
    if errors:
        raise CommandFailed("\n".join(errors))
    return 0


TAG = Command(
    "tag",
    "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
    "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    [],
    min_args=2,
    max_args=2,
    aliases=("dockyard image tag", "dockyard tag"),
)


def tag(ctx: Context, argv: list[str]) -> int:
    _, (source, target) = TAG.parse(argv)
    if "@" in target:
        raise CommandFailed("refusing to create a tag with a digest reference")
    repo, tag_ = split_repo_tag(target)
    if not repo or repo != repo.lower():
        raise CommandFailed(
            f"invalid reference format: repository name ({repo}) must be lowercase"
            if repo
            else "invalid reference format"
        )
    ctx.client().tag(source, repo, tag_ or None)
    return 0


HISTORY = Command(
    "history",
    "[OPTIONS] IMAGE",
    "Show the history of an image",
    [
        Flag("format", kind=STRING, help=FORMAT_HELP),
        Flag("human", "H", BOOL, "Print sizes and dates in human readable format", True),
        Flag("no-trunc", help="Don't truncate output"),
        Flag("quiet", "q", help="Only show image IDs"),
        Flag("platform", kind=STRING, help="Show history for the given platform"),
    ],
    min_args=1,
    max_args=1,
    aliases=("dockyard image history", "dockyard history"),
)


def history_rows(
    entries: list[dict[str, Any]], human: bool, trunc: bool, now: float | None = None
) -> list[dict[str, str]]:
    rows = []
    for h in entries:
        image_id = str(h.get("Id", ""))
        created = int(h.get("Created") or 0)
        size = int(h.get("Size") or 0)
        created_by = str(h.get("CreatedBy") or "").replace("\t", " ")
        created_at = output.rfc3339(created)
        rows.append(
            {
                "ID": output.truncate_id(image_id) if trunc else image_id,
                "CreatedSince": output.since(created, now) if human else created_at,
                "CreatedAt": created_at,
                "CreatedBy": output.ellipsis(created_by, 45) if trunc else created_by,
                "Size": output.human_size(size) if human else str(size),
                "Comment": str(h.get("Comment") or ""),
            }
        )
    return rows


def history(ctx: Context, argv: list[str]) -> int:
    opts, (name,) = HISTORY.parse(argv)
    entries = ctx.client().history(name)
    rows = history_rows(entries, human=opts["human"], trunc=not opts["no_trunc"])
    fmt = output.list_format(opts["quiet"], opts["format"], HISTORY_TABLE)
    headers = dict(HISTORY_HEADERS)
    if not opts["human"]:
        headers["CreatedSince"] = "CREATED AT"  # the column holds the time then
    output.print_rows(fmt, rows, headers, "*image.historyContext")
    return 0


INSPECT = Command(
    "image inspect",
    "[OPTIONS] IMAGE [IMAGE...]",
    "Display detailed information on one or more images",
    [
        Flag("format", "f", STRING, FORMAT_HELP),
        Flag("type", kind=STRING, help="Only inspect objects of the given type (image)"),
        Flag("platform", kind=STRING, help="Inspect a specific platform of the image"),
        Flag("size", "s", help="Display total file sizes (containers only)"),
    ],
    min_args=1,
)


def inspect(ctx: Context, argv: list[str]) -> int:
    opts, args = INSPECT.parse(argv)
    if opts["type"] not in (None, "", "image"):
        raise CommandFailed(f'"{opts["type"]}" is not a valid value for --type yet: use image')
    output.inspect_each(opts["format"], args, ctx.client().inspect_image)
    return 0


PRUNE = Command(
    "image prune",
    "[OPTIONS]",
    "Remove unused images",
    [
        Flag("all", "a", help="Remove all unused images, not just dangling ones"),
        Flag("filter", kind=LIST, help="Provide filter values (e.g. 'until=<timestamp>')"),
        Flag("force", "f", help="Do not prompt for confirmation"),
    ],
    max_args=0,
)
DANGLING_WARNING = "WARNING! This will remove all dangling images."
ALL_WARNING = (
    "WARNING! This will remove all images without at least one container associated to them."
)


def prune(ctx: Context, argv: list[str]) -> int:
    opts, _ = PRUNE.parse(argv)
    filters = parse_filters(opts["filter"], PRUNE.name)
    filters["dangling"] = ["false" if opts["all"] else "true"]
    if not opts["force"]:
        warning = ALL_WARNING if opts["all"] else DANGLING_WARNING
        if not output.confirm(f"{warning}\nAre you sure you want to continue?"):
            return 0
    report = ctx.client().prune_images(filters)
    deleted = report.get("ImagesDeleted") or []
    if deleted:
        lines = ["Deleted Images:"]
        for item in deleted:
            if item.get("Untagged"):
                lines.append(f"untagged: {item['Untagged']}")
            else:
                lines.append(f"deleted: {item.get('Deleted', '')}")
        output.out("\n".join(lines) + "\n")
    reclaimed = int(report.get("SpaceReclaimed") or 0)
    output.out(f"Total reclaimed space: {output.human_size(reclaimed, 4)}")
    return 0
