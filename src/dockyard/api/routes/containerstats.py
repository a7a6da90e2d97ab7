"""``GET /containers/{id}/stats`` and ``POST /containers/{id}/update``.

``stats`` streams one JSON document per line every second (``stream`` defaults to
true, as in docker) or answers one document when ``stream=false``; the reading loop is
the engine's generator, which the server closes when the client leaves.
``update`` answers docker's ``{"Warnings": [...]}``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator

from dockyard.api.models.containerstats import stats_json
from dockyard.api.router import Request, Response, Router, json_response
from dockyard.engine.containers import ContainerService
from dockyard.engine.containerstats import StatsPair
from dockyard.errors import InvalidArgument


def register(router: Router, containers: ContainerService) -> None:
    @router.route("GET", "/containers/{id}/stats")
    async def stats(req: Request, id: str) -> Response:
        stream = req.q_bool("stream", True)
        one_shot = req.q_bool("one-shot")
        if one_shot and stream:
            raise InvalidArgument("cannot have stream=true and one-shot=true")
        readings = await containers.stats(id, stream=stream, one_shot=one_shot)
        if not stream:
            try:
                pair = await anext(readings)
            finally:
                await readings.aclose()
            return json_response(stats_json(pair))
        return Response(200, _lines(readings), content_type="application/json")

    @router.route("POST", "/containers/{id}/update")
    async def update(req: Request, id: str) -> Response:
        body = await req.json(default={})
        if not isinstance(body, dict):
            raise InvalidArgument("the update config must be a JSON object")
        warnings = await containers.update(id, body)
        return json_response({"Warnings": list(warnings)})


async def _lines(readings: AsyncGenerator[StatsPair, None]) -> AsyncIterator[bytes]:
    try:
        async for pair in readings:
            yield json.dumps(stats_json(pair)).encode() + b"\n"
    finally:
        await readings.aclose()
