"""``POST /build`` (the legacy builder's protocol) and ``POST /build/prune``.

The body is the build context, a tar (plain or compressed). The answer is Docker's
newline-delimited JSON: ``{"stream": ...}`` per piece of output, then
``{"aux": {"ID": ...}}`` and the ``Successfully built/tagged`` lines, or at the end
``{"errorDetail": {...}, "error": ...}``. With ``q`` only the id goes out, as ``aux``
and as the one ``stream`` line (on failure: the output kept back, then the error), as
dockerd does. An error before the build printed anything (a bad context, a Dockerfile
that does not parse) is an HTTP status instead, as dockerd's are.

Resource limits (``memory``, ``cpu*``, ``shmsize``, ``extrahosts``, ...), ``rm``,
``forcerm``, ``pull`` and the ``X-Registry-Config`` header are accepted and not used:
build containers are always removed and nothing is pulled.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from dockyard.api.filters import parse_filters
from dockyard.api.router import Request, Response, Router, json_response, stream
from dockyard.build.builder import BuildOptions
from dockyard.engine.builds import BuildMessage, BuildParams, BuildService
from dockyard.engine.images import parse_until
from dockyard.errors import InvalidArgument, NotSupported

PRUNE_FILTERS = ("until", "unused-for")


def register(router: Router, builds: BuildService) -> None:
    @router.route("POST", "/build")
    async def build(req: Request) -> Response:
        params, quiet = build_params(req)
        messages = await builds.build(req.body, params)
        return stream(_render(messages, quiet))

    @router.route("POST", "/build/prune")
    async def prune(req: Request) -> Response:
        before = prune_before(parse_filters(req.q("filters")))
        pruned = await builds.prune(before=before)
        return json_response(
            {"CachesDeleted": list(pruned.caches_deleted), "SpaceReclaimed": pruned.bytes_freed}
        )


def build_params(req: Request) -> tuple[BuildParams, bool]:
    """The builder's options from the query (see the module doc); and ``q``."""
    if req.q("remote"):
        raise InvalidArgument(
            "building from a remote context (remote=...) is not supported: send the "
            "context as a tar in the request body"
        )
    if req.q("version") == "2":
        raise NotSupported(
            "BuildKit builds are not supported: use the legacy builder (DOCKER_BUILDKIT=0)"
        )
    network = req.q("networkmode") or "default"
    if network == "bridge":
        network = "default"  # the RUN steps' network: bridge is not built yet
    options = BuildOptions(
        tags=tuple(t for t in req.query.get("t", []) if t),
        build_args=_string_map(req, "buildargs", drop_null=True),
        labels=_string_map(req, "labels"),
        target=req.q("target") or "",
        no_cache=req.q_bool("nocache"),
        cache_from=tuple(_string_list(req, "cachefrom")),
        network=network,
        squash=req.q_bool("squash"),
        platform=req.q("platform") or "",
    )
    return BuildParams(dockerfile=req.q("dockerfile") or "", options=options), req.q_bool("q")


def _string_map(req: Request, name: str, drop_null: bool = False) -> dict[str, str]:
    value = req.q_json(name, {})
    if not isinstance(value, dict):
        raise InvalidArgument(f"query parameter {name}: expected a JSON object of strings")
    out: dict[str, str] = {}
    for key, item in value.items():
        if item is None and drop_null:
            continue  # `--build-arg NAME` with NAME unset on the client: the ARG's default
        if not isinstance(item, str):
            raise InvalidArgument(f"query parameter {name}: the value of {key!r} is not a string")
        out[str(key)] = item
    return out


def _string_list(req: Request, name: str) -> list[str]:
    value = req.q_json(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"query parameter {name}: expected a JSON list of strings")
    return [v for v in value if v]


def prune_before(filters: dict[str, list[str]]) -> float | None:
    """``until`` (or buildx's ``unused-for``): prune only what was cached before that."""
    for key in filters:
        if key not in PRUNE_FILTERS:
            raise InvalidArgument(f"invalid filter {key!r}: use until")
    values = [*filters.get("until", []), *filters.get("unused-for", [])]
    if not values:
        return None
    return min(parse_until(v) for v in values)


def message(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc) + "\r\n").encode()


def render(item: BuildMessage) -> bytes:
    """One message as Docker's JSON line."""
    if item.error:
        detail: dict[str, Any] = {"message": item.error}
        if item.code:
            detail["code"] = item.code
        return message({"errorDetail": detail, "error": item.error})
    if item.image_id:
        return message({"aux": {"ID": item.image_id}})
    return message({"stream": item.stream})


async def _render(messages: AsyncIterator[BuildMessage], quiet: bool) -> AsyncIterator[bytes]:
    kept: list[bytes] = []  # quiet: the output, sent only if the build fails
    try:
        async for item in messages:
            line = render(item)
            if not quiet or item.image_id:
                yield line
            if quiet and item.image_id:  # what `docker build -q` prints
                yield message({"stream": f"{item.image_id}\n"})
            elif item.error:
                for old in kept:
                    yield old
                yield line
            else:
                kept.append(line)
    finally:
        aclose = getattr(messages, "aclose", None)
        if aclose is not None:
            await aclose()
