"""``search``: repositories of a registry that match a term, through the daemon.

``dockyard search [REGISTRY/]TERM``: the daemon asks the registry named in the term
(its ``/v1/search``, else its catalog). Docker's table (NAME, DESCRIPTION, STARS,
OFFICIAL), descriptions cut to 45 characters unless ``--no-trunc``; ``--format`` takes
a template with ``.Name``, ``.Description``, ``.StarCount``, ``.IsOfficial``,
``.IsAutomated``. Credentials for the registry come from the docker CLI's config.
"""

from __future__ import annotations

from dockyard.cli import output
from dockyard.cli.errors import UsageError
from dockyard.cli.flags import LIST, STRING, Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context

SEARCH_TABLE = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"
SEARCH_HEADERS = {
    "Name": "NAME",
    "Description": "DESCRIPTION",
    "StarCount": "STARS",
    "IsOfficial": "OFFICIAL",
    "IsAutomated": "AUTOMATED",
}
TRUNC = 45  # as the docker CLI

SEARCH = Command(
    "search",
    "[OPTIONS] TERM",
    "Search a registry for images",
    [
        Flag("filter", "f", LIST, "Filter output based on conditions provided"),
        Flag("format", kind=STRING, help="Pretty-print search using a Go template"),
        Flag("limit", kind=STRING, help="Max number of search results"),
        Flag("no-trunc", help="Don't truncate output"),
    ],
    min_args=1,
    max_args=1,
)


def search_rows(results: list[dict[str, Any]], no_trunc: bool) -> list[dict[str, str]]:
    rows = []
    for r in results:
        description = " ".join(str(r.get("description") or "").split())
        if not no_trunc and len(description) > TRUNC:
            description = description[: TRUNC - 3] + "..."
        rows.append(
            {
                "Name": str(r.get("name") or ""),
                "Description": description,
                "StarCount": str(int(r.get("star_count") or 0)),
                "IsOfficial": "[OK]" if r.get("is_official") else "",
                "IsAutomated": "[OK]" if r.get("is_automated") else "",
            }
        )
    return rows


def search(ctx: Context, argv: list[str]) -> int:
    from dockyard.cli.distribution import registry_auth
    from dockyard.cli.images import parse_filters

    opts, [term] = SEARCH.parse(argv)
    limit = None
    if opts["limit"]:
        if not opts["limit"].isdigit():
            raise UsageError(f"invalid argument {opts['limit']!r} for --limit", "search")
        limit = int(opts["limit"])
    filters = parse_filters(opts["filter"], SEARCH.name)
    results = ctx.client().search(term, limit, filters, registry_auth=registry_auth(term))
    fmt = output.list_format(False, opts["format"], SEARCH_TABLE)
    output.print_rows(fmt, search_rows(results, bool(opts["no_trunc"])), SEARCH_HEADERS)
    return 0
