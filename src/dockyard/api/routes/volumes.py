"""``/volumes/*``: list, create, inspect, remove and prune (the ``local`` driver).

``/volumes/create`` and ``/volumes/prune`` are registered before ``/volumes/{name}``.
``disk_usage`` gives ``GET /system/df`` (``routes/images.py``) its ``Volumes`` part.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from dockyard.api.filters import parse_filters
from dockyard.api.models import volumes as models
from dockyard.api.router import Request, Response, Router, empty, json_response
from dockyard.engine.volumes import VolumeService


def register(router: Router, volumes: VolumeService) -> None:
    @router.route("GET", "/volumes")
    async def list_volumes(req: Request) -> Response:
        found = await volumes.list(parse_filters(req.q("filters")))
        return json_response(models.volume_list(found))

    @router.route("POST", "/volumes/create")
    async def create(req: Request) -> Response:
        name, driver, options, labels = models.create_options(await req.json(default=None))
        view = await volumes.create(name, driver, options, labels)
        return json_response(models.volume(view), 201)

    @router.route("POST", "/volumes/prune")
    async def prune(req: Request) -> Response:
        return json_response(await volumes.prune(parse_filters(req.q("filters"))))

    @router.route("GET", "/volumes/{name}")
    async def inspect(req: Request, name: str) -> Response:
        return json_response(models.volume(await volumes.inspect(name)))

    @router.route("DELETE", "/volumes/{name}")
    async def remove(req: Request, name: str) -> Response:
        await volumes.remove(name, force=req.q_bool("force"))
        return empty(204)


def disk_usage(volumes: VolumeService) -> Callable[[], Awaitable[list[dict[str, Any]]]]:
    """The ``Volumes`` of ``GET /system/df``: every volume with its UsageData."""

    async def usage() -> list[dict[str, Any]]:
        return [models.volume(v, usage=True) for v in await volumes.df()]

    return usage
