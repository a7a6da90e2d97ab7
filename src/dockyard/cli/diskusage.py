"""``dockyard system df --verbose``: docker's four space-usage tables (images,
containers, local volumes, build cache) from one ``GET /system/df`` document.

The rows come from the listing commands' own row builders (``images``, ``ps``,
``volume ls``), so a column reads the same here as there.
"""

from __future__ import annotations

from dockyard.cli import output

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

IMAGES_TABLE = (
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}"
    "\t{{.UniqueSize}}\t{{.Containers}}"
)
CONTAINERS_TABLE = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}"
    "\t{{.Status}}\t{{.Names}}"
)
VOLUMES_TABLE = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
CACHE_TABLE = (
    "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}"
    "\t{{.UsageCount}}\t{{.Shared}}"
)
CACHE_HEADERS = {
    "ID": "CACHE ID",
    "CacheType": "CACHE TYPE",
    "Size": "SIZE",
    "CreatedSince": "CREATED",
    "LastUsedSince": "LAST USED",
    "UsageCount": "USAGE",
    "Shared": "SHARED",
}


def verbose_text(doc: dict[str, Any], now: float | None = None) -> str:
    """docker's verboseDiskUsageTemplate filled in."""
    from dockyard.cli.containers import PS_HEADERS, container_rows
    from dockyard.cli.images import IMAGE_HEADERS, image_rows
    from dockyard.cli.volumes import VOLUME_HEADERS, volume_rows

    images = [i for i in doc.get("Images") or [] if isinstance(i, dict)]
    containers = [c for c in doc.get("Containers") or [] if isinstance(c, dict)]
    volumes = [v for v in doc.get("Volumes") or [] if isinstance(v, dict)]
    cache = [b for b in doc.get("BuildCache") or [] if isinstance(b, dict)]
    headers = {**IMAGE_HEADERS, "Containers": "CONTAINERS"}
    image_table = output.render_rows(IMAGES_TABLE, image_rows(images, False, True, now), headers)
    container_table = output.render_rows(
        CONTAINERS_TABLE, container_rows(containers, trunc=True, now=now), PS_HEADERS
    )
    volume_table = output.render_rows(VOLUMES_TABLE, volume_rows(volumes), VOLUME_HEADERS)
    cache_size = sum(int(b.get("Size") or 0) for b in cache if not b.get("Shared"))
    cache_table = output.render_rows(CACHE_TABLE, cache_rows(cache, now), CACHE_HEADERS)
    return (
        f"Images space usage:\n\n{image_table.rstrip()}\n\n"
        f"Containers space usage:\n\n{container_table.rstrip()}\n\n"
        f"Local Volumes space usage:\n\n{volume_table.rstrip()}\n\n"
        f"Build cache usage: {output.human_size(cache_size, 4)}\n\n{cache_table.rstrip()}\n"
    )


def cache_rows(cache: list[dict[str, Any]], now: float | None = None) -> list[dict[str, str]]:
    """docker's buildCacheContext for each record of the daemon's BuildCache."""
    rows = []
    for b in cache:
        created = unix_time(str(b.get("CreatedAt") or ""))
        used = unix_time(str(b.get("LastUsedAt") or ""))
        rows.append(
            {
                "ID": str(b.get("ID", ""))[:12],
                "CacheType": str(b.get("Type", "")),
                "Size": output.human_size(int(b.get("Size") or 0), 3),
                "CreatedSince": output.since(created, now) if created else "",
                "LastUsedSince": output.since(used, now) if used else "",
                "UsageCount": str(b.get("UsageCount", 0)),
                "Shared": "true" if b.get("Shared") else "false",
            }
        )
    return rows


def unix_time(rfc3339: str) -> float:
    from datetime import datetime

    text = rfc3339.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # Go's nanoseconds: Python takes at most 6 digits
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0
