"""``GET /images/search`` rows in Docker's JSON (``registry.SearchResult``): snake_case
keys, as the Engine API has them for this one endpoint."""

from __future__ import annotations

from typing import Any

from dockyard.registry.search import SearchResult


def search_result(r: SearchResult) -> dict[str, Any]:
    return {
        "name": r.name,
        "description": r.description,
        "star_count": r.star_count,
        "is_official": r.is_official,
        "is_automated": r.is_automated,
    }
