"""A container's files: ``/containers/{id}/archive`` (HEAD, GET, PUT), ``/export``,
``/changes`` and ``POST /commit``.

The archive's stat travels in the ``X-Docker-Container-Path-Stat`` header: base64 of
the JSON ``{name, size, mode, mtime, linkTarget}`` (``mode`` is Go's ``os.FileMode``),
which the docker CLI reads to decide how to copy.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from dockyard.api.models.configshape import check_config
from dockyard.api.router import Request, Response, Router, empty, json_response
from dockyard.engine.containers import ContainerService
from dockyard.errors import InvalidArgument
from dockyard.images.copyarchive import PathStat

STAT_HEADER = "X-Docker-Container-Path-Stat"
TAR = "application/x-tar"


def stat_header(stat: PathStat) -> str:
    """The header's value: base64 of the stat's JSON (Docker's StdEncoding)."""
    return base64.b64encode(json.dumps(stat.docker()).encode()).decode()


def _path(req: Request) -> str:
    path = req.q("path")
    if not path:
        raise InvalidArgument("no path given: set the path query parameter")
    return path


def register(router: Router, containers: ContainerService) -> None:
    @router.route("HEAD", "/containers/{ref}/archive")
    async def stat_path(req: Request, ref: str) -> Response:
        stat = await containers.stat_path(ref, _path(req))
        return Response(200, b"", None, {STAT_HEADER: stat_header(stat)})

    @router.route("GET", "/containers/{ref}/archive")
    async def archive(req: Request, ref: str) -> Response:
        stat, chunks = await containers.archive_path(ref, _path(req))
        return Response(200, chunks, TAR, {STAT_HEADER: stat_header(stat)})

    @router.route("PUT", "/containers/{ref}/archive")
    async def extract(req: Request, ref: str) -> Response:
        await containers.extract_to_dir(
            ref,
            _path(req),
            req.body,
            no_overwrite_dir_non_dir=req.q_bool("noOverwriteDirNonDir"),
            copy_uid_gid=req.q_bool("copyUIDGID"),
        )
        return empty(200)

    @router.route("GET", "/containers/{ref}/export")
    async def export(req: Request, ref: str) -> Response:
        return Response(200, await containers.export(ref), TAR)

    @router.route("GET", "/containers/{ref}/changes")
    async def changes(req: Request, ref: str) -> Response:
        found = await containers.changes(ref)
        return json_response([{"Path": c.path, "Kind": c.kind.docker} for c in found] or None)

    @router.route("POST", "/commit")
    async def commit(req: Request) -> Response:
        ref = req.q("container")
        if not ref:
            raise InvalidArgument("no container given: set the container query parameter")
        config: Any = await req.json({})
        if not isinstance(config, dict):
            raise InvalidArgument("the request body must be a JSON object (a container Config)")
        check_config(config)
        image_id = await containers.commit(
            ref,
            repo=req.q("repo") or "",
            tag=req.q("tag") or "",
            comment=req.q("comment") or "",
            author=req.q("author") or "",
            pause=req.q_bool("pause", True),
            changes=[c for c in req.query.get("changes", []) if c],
            config=config,
        )
        return json_response({"Id": image_id}, 201)
