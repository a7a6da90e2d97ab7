"""``/images/*``: list, inspect, history, tag, remove, prune, load, save, import, pull.

Fixed paths (``/images/json``, ``/images/load``, ...) are registered before the
``/images/{name:.+}/...`` ones, whose names may hold slashes and colons
(``localhost:5000/a/b:tag``).

Load and import answer a JSON message stream, but only once the request body is read
and the work is done or has run ``HEADER_WAIT`` seconds past the body's end: an error
until then is a proper status (400, 404, ...); later it goes into the stream as
``{"errorDetail": ..., "error": ...}``, as Docker's are.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from dockyard.api.filters import parse_filters
from dockyard.api.models import images as models
from dockyard.api.router import Request, Response, Router, empty, json_response, stream
from dockyard.engine.images import ImageService
from dockyard.errors import DockyardError, InvalidArgument, NotFound, NotSupported
from dockyard.images.names import familiar_name, normalize_name, parse_name

T = TypeVar("T")

HEADER_WAIT = 20.0  # seconds after the body's end before the 200 head goes out anyway
TAR = "application/x-tar"


def register(
    router: Router,
    images: ImageService,
    volume_usage: Callable[[], Awaitable[list[dict[str, Any]]]] | None = None,
    registry_pull: Callable[[Request], Awaitable[Response | None]] | None = None,
    container_usage: Callable[[], Awaitable[list[dict[str, Any]]]] | None = None,
) -> None:
    """``registry_pull`` answers ``fromImage`` pulls from registries (routes.distribution);
    None from it (no registry for that name) leaves the pull to the local answer.
    ``volume_usage``/``container_usage`` give ``/system/df`` its other parts."""

    @router.route("GET", "/system/df")
    async def system_df(req: Request) -> Response:
        # images and volumes (routes/volumes.py); containers and the build cache arrive
        # with their services
        doc = models.images_disk_usage(await images.df(), req.version)
        volumes = await volume_usage() if volume_usage is not None else []
        found = await container_usage() if container_usage is not None else []
        return json_response({**doc, "Containers": found, "Volumes": volumes, "BuildCache": []})

    @router.route("GET", "/images/json")
    async def list_images(req: Request) -> Response:
        found = await images.list(
            all_images=req.q_bool("all"),
            filters=parse_filters(req.q("filters")),
            digests=req.q_bool("digests"),
        )
        return json_response([models.image_summary(i, req.version) for i in found])

    @router.route("POST", "/images/create")
    async def create(req: Request) -> Response:
        from_image, from_src = req.q("fromImage"), req.q("fromSrc")
        if from_image:
            pulled = None if registry_pull is None else await registry_pull(req)
            return pulled or await _pull(images, from_image, req.q("tag") or "")
        if from_src is None:
            raise InvalidArgument("give fromImage (to pull) or fromSrc=- (to import a tar)")
        if from_src != "-":
            raise NotSupported(
                f"cannot import from {from_src!r}: importing from a URL is not supported; "
                "download the tar and send it in the request body with fromSrc=-"
            )
        body, ended = _watched(req.body)
        task = asyncio.ensure_future(
            images.import_(
                body,
                repo=req.q("repo") or "",
                tag=req.q("tag") or "",
                changes=req.query.get("changes", []),
                message=req.q("message") or "",
                platform=req.q("platform") or "",
            )
        )
        return await _answer(task, ended, lambda image_id: [models.message({"status": image_id})])

    @router.route("POST", "/images/load")
    async def load(req: Request) -> Response:
        body = await _nonempty(
            req.body, "no image archive in the request body: send a tar (docker load -i FILE)"
        )
        body, ended = _watched(body)
        task = asyncio.ensure_future(images.load(body, quiet=req.q_bool("quiet")))
        return await _answer(task, ended, models.loaded_messages)

    @router.route("GET", "/images/get")
    async def save_many(req: Request) -> Response:
        names = [n for n in req.query.get("names", []) if n]
        return Response(200, await images.save(names), TAR)

    @router.route("POST", "/images/prune")
    async def prune(req: Request) -> Response:
        return json_response(await images.prune(parse_filters(req.q("filters"))))

    @router.route("GET", "/images/{name:.+}/json")
    async def inspect(req: Request, name: str) -> Response:
        return json_response(models.image_inspect(await images.inspect(name), req.version))

    @router.route("GET", "/images/{name:.+}/history")
    async def history(req: Request, name: str) -> Response:
        return json_response([models.history_item(h) for h in await images.history(name)])

    @router.route("GET", "/images/{name:.+}/get")
    async def save_one(req: Request, name: str) -> Response:
        return Response(200, await images.save([name]), TAR)

    @router.route("POST", "/images/{name:.+}/tag")
    async def tag(req: Request, name: str) -> Response:
        await images.tag(name, req.q("repo") or "", req.q("tag") or "")
        return empty(201)

    @router.route("DELETE", "/images/{name:.+}")
    async def remove(req: Request, name: str) -> Response:
        removed = await images.remove(
            name, force=req.q_bool("force"), noprune=req.q_bool("noprune")
        )
        return json_response(removed)


# -- pull (local only until the registry client lands) ------------------------------------


async def _pull(images: ImageService, from_image: str, tag: str) -> Response:
    repo, old_tag, digest = parse_name(from_image)
    if tag.startswith("sha256:"):
        old_tag, digest = None, tag
    elif tag:
        old_tag = tag
    name = f"{repo}:{old_tag}" if old_tag else repo
    if digest:
        name += f"@{digest}"
    found = await images.local(name)
    if found is None:
        raise NotFound(
            f"no such image: {familiar_name(normalize_name(name))}: pulling "
            "from a registry is not built yet; load the image with `docker load` or "
            "import a root file system with `docker import`"
        )
    return Response(200, b"".join(models.pull_up_to_date(found)), "application/json")


# -- streamed answers of load and import ------------------------------------------------


async def _nonempty(body: AsyncIterator[bytes], what: str) -> AsyncIterator[bytes]:
    """``body`` with its first bytes read already: InvalidArgument(``what``) if empty."""
    iterator = aiter(body)
    async for first in iterator:
        if first:
            break
    else:
        raise InvalidArgument(what)

    async def rest() -> AsyncIterator[bytes]:
        yield first
        async for chunk in iterator:
            yield chunk

    return rest()


def _watched(body: AsyncIterator[bytes]) -> tuple[AsyncIterator[bytes], asyncio.Event]:
    """``body`` and an event set once it has been read to its end."""
    ended = asyncio.Event()

    async def watch() -> AsyncIterator[bytes]:
        try:
            async for chunk in body:
                yield chunk
        finally:
            ended.set()

    return watch(), ended


async def _answer(
    task: asyncio.Future[T], ended: asyncio.Event, render: Callable[[T], list[bytes]]
) -> Response:
    """The JSON message answer of ``task`` (see the module doc for when errors are
    statuses and when they are stream messages)."""
    try:
        await _settle(task, ended)
    except BaseException:
        task.cancel()
        raise
    if task.done():
        return Response(200, b"".join(render(task.result())), "application/json")
    return stream(_late(task, render))


async def _settle(task: Awaitable[object], ended: asyncio.Event) -> None:
    work = asyncio.ensure_future(task)
    end = asyncio.ensure_future(ended.wait())
    try:
        await asyncio.wait({work, end}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        end.cancel()
    if not work.done():
        await asyncio.wait({work}, timeout=HEADER_WAIT)


async def _late(
    task: asyncio.Future[T], render: Callable[[T], list[bytes]]
) -> AsyncIterator[bytes]:
    try:
        try:
            result = await asyncio.shield(task)
        except DockyardError as e:
            yield models.error_message(str(e))
            return
        except Exception as e:  # a bug: the client still gets a message, not a cut stream
            yield models.error_message(f"internal error: {e!r}")
            return
        for line in render(result):
            yield line
    finally:
        if not task.done():
            task.cancel()
