"""``/networks/*``: list, inspect, create, remove, prune, connect and disconnect.

``/networks/create`` and ``/networks/prune`` are registered before ``/networks/{id}``.
"""

from __future__ import annotations

from dockyard.api.filters import parse_filters
from dockyard.api.models import networks as models
from dockyard.api.router import Request, Response, Router, empty, json_response
from dockyard.engine.networks import NetworkService


def register(router: Router, networks: NetworkService) -> None:
    @router.route("GET", "/networks")
    async def list_networks(req: Request) -> Response:
        found = await networks.list(parse_filters(req.q("filters")))
        # the list shows no containers (as dockerd since API 1.28)
        return json_response([models.network(r, containers=False) for r in found])

    @router.route("POST", "/networks/create")
    async def create(req: Request) -> Response:
        rec, warning = await networks.create(models.create_request(await req.json()))
        return json_response({"Id": rec.id, "Warning": warning}, 201)

    @router.route("POST", "/networks/prune")
    async def prune(req: Request) -> Response:
        names = await networks.prune(parse_filters(req.q("filters")))
        return json_response({"NetworksDeleted": names})

    @router.route("GET", "/networks/{ref}")
    async def inspect(req: Request, ref: str) -> Response:
        return json_response(models.network(await networks.inspect(ref)))

    @router.route("DELETE", "/networks/{ref}")
    async def remove(req: Request, ref: str) -> Response:
        await networks.remove(ref)
        return empty(204)

    @router.route("POST", "/networks/{ref}/connect")
    async def connect(req: Request, ref: str) -> Response:
        container, aliases, ip = models.connect_request(await req.json())
        await networks.connect(ref, container, aliases, ip)
        return empty(200)

    @router.route("POST", "/networks/{ref}/disconnect")
    async def disconnect(req: Request, ref: str) -> Response:
        container, force = models.disconnect_request(await req.json())
        await networks.disconnect(ref, container, force)
        return empty(200)
