"""``docker search`` against a registry: the Hub-compatible ``/v1/search`` where the
registry offers it, else the names of ``/v2/_catalog`` that contain the term.

The term may start with a registry (``127.0.0.1:5000/busy``: the first component has a
``.`` or a ``:`` or is ``localhost``, as in references); that registry is searched for
the rest. A bare term goes to ``docker.io``, which has an endpoint only when the daemon
configures a mirror for it: otherwise the error says to name the registry.

A registry without ``/v1/search`` (Debian's docker-registry, distribution 2.x) answers it
with 404 (or with something that is not the search JSON): the catalog is then read and
filtered (a case-insensitive substring match on the repository name); such results have
no description and no stars, and carry the registry in their name so that they can be
pulled as shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from dockyard.errors import InvalidArgument, NotSupported

from .client import RegistryClient, Repository
from .errors import error_for

DEFAULT_DOMAIN = "docker.io"


@dataclass(frozen=True)
class SearchResult:
    name: str
    description: str = ""
    star_count: int = 0
    is_official: bool = False
    is_automated: bool = False


def split_term(term: str) -> tuple[str, str]:
    """(registry domain, term) of a search term; ``docker.io`` when it names none."""
    if not term.strip():
        raise InvalidArgument("give a search term: dockyard search [REGISTRY/]TERM")
    first, sep, rest = term.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        if not rest:
            raise InvalidArgument(f"search {term!r}: give a term after the registry")
        return first, rest
    return DEFAULT_DOMAIN, term


def search(client: RegistryClient, term: str, limit: int = 25) -> list[SearchResult]:
    """Up to ``limit`` repositories matching ``term`` (which may name the registry)."""
    domain, query = split_term(term)
    try:
        endpoint = client.hosts.endpoint(domain)
    except NotSupported:
        raise NotSupported(
            f"search {term!r}: no registry to search: name the registry in the term "
            "(host:port/term), or configure a registry mirror (registry-mirrors)"
        ) from None
    repo = Repository(client, endpoint, "")
    found = _v1_search(repo, query, limit)
    if found is None:
        found = _catalog_search(client, domain, query)
    return found[:limit]


def _v1_search(repo: Repository, query: str, limit: int) -> list[SearchResult] | None:
    """The ``/v1/search`` answer, or None when the registry does not offer it."""
    url = "/v1/search?" + urlencode({"q": query, "n": str(limit)})
    with repo.request("GET", url, scopes=[]) as r:
        body = r.read()
        if r.status in (404, 405) or (r.status == 401 and not body.strip()):
            return None
        if r.status != 200:
            raise error_for(r.status, body, f"search of {repo.endpoint.domain}")
    try:
        doc: Any = json.loads(body)
        rows = doc["results"]
        if not isinstance(rows, list):
            return None
        return [_result(row) for row in rows if isinstance(row, dict)]
    except (ValueError, KeyError, TypeError):
        return None  # not the search API (an HTML page, a v2-only registry's answer)


def _result(row: dict[str, Any]) -> SearchResult:
    return SearchResult(
        name=str(row.get("name") or row.get("repo_name") or ""),
        description=str(row.get("description") or row.get("short_description") or ""),
        star_count=int(row.get("star_count") or 0),
        is_official=bool(row.get("is_official")),
        is_automated=bool(row.get("is_automated")),
    )


def _catalog_search(client: RegistryClient, domain: str, query: str) -> list[SearchResult]:
    try:
        names = client.catalog(domain)
    except InvalidArgument as e:
        if "not JSON" in str(e):
            raise InvalidArgument(
                f"search of {domain}: the registry answered neither /v1/search nor "
                f"/v2/_catalog with JSON: is {domain} a registry?"
            ) from e
        raise
    needle = query.lower()
    prefix = "" if domain == DEFAULT_DOMAIN else f"{domain}/"
    return [SearchResult(prefix + name) for name in sorted(names) if needle in name.lower()]


def matches(result: SearchResult, filters: dict[str, list[str]]) -> bool:
    """Docker's search filters: ``stars=N`` (at least N), ``is-official``,
    ``is-automated`` (true/false)."""
    for value in filters.get("stars", []):
        if result.star_count < int(value):
            return False
    for key, have in (("is-official", result.is_official), ("is-automated", result.is_automated)):
        for value in filters.get(key, []):
            if _bool(key, value) != have:
                return False
    return True


def check_filters(filters: dict[str, list[str]]) -> None:
    """Refuse unknown filter keys and bad values before any request (as dockerd)."""
    for key, values in filters.items():
        if key not in ("stars", "is-official", "is-automated"):
            raise InvalidArgument(f"invalid filter '{key}'")
        for value in values:
            if key == "stars":
                if not value.isdigit():
                    raise InvalidArgument(f"invalid filter 'stars={value}': give a number")
            else:
                _bool(key, value)


def _bool(key: str, value: str) -> bool:
    low = value.lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise InvalidArgument(f"invalid filter '{key}={value}': give true or false")


__all__ = ["SearchResult", "check_filters", "matches", "search", "split_term"]
