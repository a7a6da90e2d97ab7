"""``/containers/*``: create, list, inspect, the lifecycle verbs, wait, logs, attach,
resize, rename, top and prune.

Fixed paths (``/containers/json``, ``/containers/create``, ``/containers/prune``) are
registered before the ``/containers/{id}/...`` ones.

``wait`` answers its head at once and the body only when the wait is over: the docker
CLI reads the head of ``wait?condition=next-exit`` before it sends ``start``, so a
buffered answer would deadlock ``docker run``. ``attach`` checks the container and opens
the session before ``101 UPGRADED`` goes out (a missing container is a proper 404, and
no output is lost between the upgrade and the start).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from dockyard._internal.detachkeys import DEFAULT_DETACH_KEYS, parse_detach_keys
from dockyard.api.filters import parse_filters
from dockyard.api.models import containers as models
from dockyard.api.models.configshape import check_create
from dockyard.api.router import Hijack, Request, Response, Router, empty, json_response
from dockyard.api.stdiopump import AttachPump, terminal_size
from dockyard.engine.containers import ContainerService, ContainerView
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.images.config import parse_time

log = logging.getLogger(__name__)

#: the filters of ``GET /containers/json`` (Docker's ``acceptedPsFilterTags``)
PS_FILTERS = frozenset(
    {
        "ancestor",
        "before",
        "expose",
        "exited",
        "health",
        "id",
        "isolation",
        "is-task",
        "label",
        "name",
        "network",
        "publish",
        "since",
        "status",
        "volume",
    }
)
STATUSES = frozenset({"created", "restarting", "running", "removing", "paused", "exited", "dead"})
PRUNE_FILTERS = frozenset({"label", "label!", "until"})
WAIT_CONDITIONS = frozenset({"not-running", "next-exit", "removed"})


def disk_usage(containers: ContainerService) -> Callable[[], Awaitable[list[dict[str, Any]]]]:
    """The ``Containers`` of ``GET /system/df``: every container's summary, with sizes."""

    async def usage() -> list[dict[str, Any]]:
        return [models.container_summary(v) for v in await containers.list(all=True, size=True)]

    return usage


def register(router: Router, containers: ContainerService) -> None:
    @router.route("POST", "/containers/create")
    async def create(req: Request) -> Response:
        body = await req.json(default=None)
        if body is None:
            raise InvalidArgument("config cannot be empty in order to create a container")
        if not isinstance(body, dict):
            raise InvalidArgument("the container config must be a JSON object")
        check_create(body)  # wrong JSON types are a 400, as dockerd's decoder makes them
        if isinstance(body.get("Healthcheck"), dict) and not req.version_at_least("1.44"):
            body["Healthcheck"].pop("StartInterval", None)  # dockerd ignores it before 1.44
        name = req.q("name") or None
        container_id, warnings = await containers.create(body, name)
        return json_response({"Id": container_id, "Warnings": list(warnings or [])}, 201)

    @router.route("GET", "/containers/json")
    async def list_containers(req: Request) -> Response:
        filters = ps_filters(req.q("filters"))
        limit = req.q_int("limit", -1)
        found = await containers.list(
            all=req.q_bool("all"),
            filters=filters,
            limit=-1 if limit is None or limit <= 0 else limit,
            size=req.q_bool("size"),
        )
        docs = [models.container_summary(v) for v in found]
        networking = getattr(containers, "networking", None)
        if networking is not None:  # networks and published ports (models/networks.py)
            from dockyard.api.models.networks import fill_summary

            for doc in docs:
                fill_summary(doc, networking)
        return json_response(docs)

    @router.route("POST", "/containers/prune")
    async def prune(req: Request) -> Response:
        filters = parse_filters(req.q("filters"))
        for key in filters:
            if key not in PRUNE_FILTERS:
                raise InvalidArgument(f"invalid filter '{key}'")
        return json_response(await prune_containers(containers, filters))

    @router.route("GET", "/containers/{id}/json")
    async def inspect_container(req: Request, id: str) -> Response:
        view = await containers.inspect(id, size=req.q_bool("size"))
        doc = models.container_inspect(view, req.version)
        networking = getattr(containers, "networking", None)  # fakes in tests have none
        if networking is not None:  # endpoints and ports (models/networks.py)
            from dockyard.api.models.networks import fill_container

            fill_container(doc, networking, view.id)
        return json_response(doc)

    @router.route("POST", "/containers/{id}/start")
    async def start(req: Request, id: str) -> Response:
        await req.read()  # an old client's HostConfig: ignored, as Docker >= 1.24 does
        await containers.start(id)
        return empty(204)

    @router.route("POST", "/containers/{id}/stop")
    async def stop(req: Request, id: str) -> Response:
        await containers.stop(id, timeout=req.q_int("t"), signal=req.q("signal") or None)
        return empty(204)

    @router.route("POST", "/containers/{id}/restart")
    async def restart(req: Request, id: str) -> Response:
        await containers.restart(id, timeout=req.q_int("t"))
        return empty(204)

    @router.route("POST", "/containers/{id}/kill")
    async def kill(req: Request, id: str) -> Response:
        await containers.kill(id, signal=req.q("signal") or "KILL")
        return empty(204)

    @router.route("POST", "/containers/{id}/wait")
    async def wait(req: Request, id: str) -> Response:
        condition = req.q("condition") or "not-running"
        if condition not in WAIT_CONDITIONS:
            raise InvalidArgument(
                f'invalid condition: "{condition}": use not-running, next-exit or removed'
            )
        return await wait_response(containers, id, condition)

    @router.route("DELETE", "/containers/{id}")
    async def remove(req: Request, id: str) -> Response:
        if req.q_bool("link"):  # rm --link NAME: dockerd's "default link name" refusal
            await containers.remove_link(id)
        else:
            await containers.remove(id, force=req.q_bool("force"), volumes=req.q_bool("v"))
        return empty(204)

    # rm --link /web/alias: the docker CLI sends /containers//web/alias
    @router.route("DELETE", "/containers/{parent:/?[^/]+}/{alias}")
    async def remove_link(req: Request, parent: str, alias: str) -> Response:
        if not req.q_bool("link"):
            raise NotFound(f"No such container: {parent.lstrip('/')}/{alias}")
        await containers.remove_link(f"/{parent.lstrip('/')}/{alias}")
        return empty(204)

    @router.route("GET", "/containers/{id}/logs")
    async def logs(req: Request, id: str) -> Response:
        stdout, stderr = req.q_bool("stdout"), req.q_bool("stderr")
        if not (stdout or stderr):
            raise InvalidArgument("Bad parameters: you must choose at least one stream")
        view = await containers.inspect(id)
        tty = bool(view.config.get("Tty"))
        chunks = await _logs(
            containers,
            id,
            stdout=stdout,
            stderr=stderr,
            follow=req.q_bool("follow"),
            since=parse_timestamp(req.q("since"), "since"),
            until=parse_timestamp(req.q("until"), "until"),
            timestamps=req.q_bool("timestamps"),
            tail=parse_tail(req.q("tail")),
        )
        return Response(
            200, encode_stream(chunks, tty), models.stream_content_type(tty, req.version)
        )

    @router.route("POST", "/containers/{id}/attach")
    async def attach(req: Request, id: str) -> Hijack:
        try:
            keys = parse_detach_keys(req.q("detachKeys") or DEFAULT_DETACH_KEYS)
        except ValueError as e:
            raise InvalidArgument(str(e)) from None
        stdin, stdout, stderr = req.q_bool("stdin"), req.q_bool("stdout"), req.q_bool("stderr")
        want_logs, want_stream = req.q_bool("logs"), req.q_bool("stream")
        view = await containers.inspect(id)
        if not want_stream:
            # logs only (docker attach --no-stream has no CLI; docker-py uses it)
            tty = bool(view.config.get("Tty"))
            chunks = (
                await _logs(containers, id, stdout=stdout, stderr=stderr, follow=False)
                if want_logs and (stdout or stderr)
                else _nothing()
            )
            return Hijack(
                _copy_out(encode_stream(chunks, tty)), models.stream_content_type(tty, req.version)
            )
        session = await containers.attach(
            id, stdin=stdin, stdout=stdout, stderr=stderr, logs=want_logs
        )
        return Hijack(
            AttachPump(session, stdin=stdin, detach_keys=keys).run,
            models.stream_content_type(session.tty, req.version),
        )

    @router.route("POST", "/containers/{id}/resize")
    async def resize(req: Request, id: str) -> Response:
        await containers.resize(id, *terminal_size(req))
        return empty(200)

    @router.route("POST", "/containers/{id}/pause")
    async def pause(req: Request, id: str) -> Response:
        await containers.pause(id)
        return empty(204)

    @router.route("POST", "/containers/{id}/unpause")
    async def unpause(req: Request, id: str) -> Response:
        await containers.unpause(id)
        return empty(204)

    @router.route("POST", "/containers/{id}/rename")
    async def rename(req: Request, id: str) -> Response:
        name = req.q("name")
        if not name:
            raise InvalidArgument("rename: the new name (query parameter name) is empty")
        await containers.rename(id, name)
        return empty(204)

    @router.route("GET", "/containers/{id}/top")
    async def top(req: Request, id: str) -> Response:
        return json_response(await containers.top(id, req.q("ps_args") or "-ef"))


# -- query parsing -----------------------------------------------------------------------


def ps_filters(raw: str | None) -> dict[str, list[str]]:
    """The ``filters`` of ``GET /containers/json``; unknown keys and statuses are a 400."""
    filters = parse_filters(raw)
    for key, values in filters.items():
        if key not in PS_FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")
        if key == "status":
            for value in values:
                if value not in STATUSES:
                    raise InvalidArgument(f"invalid filter 'status={value}'")
        if key == "exited":
            for value in values:
                try:
                    int(value)
                except ValueError:
                    raise InvalidArgument(f"invalid filter 'exited={value}'") from None
    return filters


def parse_timestamp(value: str | None, name: str) -> float:
    """``since``/``until`` of logs: unix seconds, with an optional fraction; 0 if absent."""
    if not value:
        return 0.0
    try:
        return float(value)
    except ValueError:
        raise InvalidArgument(
            f"query parameter {name}: expected a unix timestamp, got {value!r}"
        ) from None


def parse_tail(value: str | None) -> int:
    """``tail``: "all" (or nothing) is -1, else a number of lines."""
    if value in (None, "", "all"):
        return -1
    try:
        n = int(value)
    except ValueError:
        raise InvalidArgument(
            f'query parameter tail: expected "all" or a number, got {value!r}'
        ) from None
    return n if n >= 0 else -1


# -- wait ---------------------------------------------------------------------------------


async def wait_response(containers: ContainerService, ref: str, condition: str) -> Response:
    """Head now, body when the wait ends. The wait starts before the head goes out (so a
    ``start`` sent after the head is seen by ``next-exit``); errors found by then (no such
    container) are a proper status, later ones go into the body as Docker's ``Error``."""
    task: asyncio.Task[dict[str, Any]] = asyncio.ensure_future(containers.wait(ref, condition))
    for _ in range(3):  # let the wait register itself (and fail fast on a bad name)
        if task.done():
            break
        await asyncio.sleep(0)
    if task.done():
        return json_response(_wait_doc(task.result()))  # raises the task's error, if any
    return Response(200, _wait_body(task), "application/json")


def _wait_doc(result: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"StatusCode": int(result.get("StatusCode", 0)), "Error": None}
    error = result.get("Error")
    if error:
        doc["Error"] = error if isinstance(error, dict) else {"Message": str(error)}
    return doc


async def _wait_body(task: asyncio.Task[dict[str, Any]]) -> AsyncIterator[bytes]:
    import json

    try:
        try:
            result = await asyncio.shield(task)
        except DockyardError as e:
            result = {"StatusCode": -1, "Error": {"Message": str(e)}}
        except Exception as e:  # a bug: the client still gets an answer
            log.exception("wait failed")
            result = {"StatusCode": -1, "Error": {"Message": f"internal error: {e!r}"}}
        yield (json.dumps(_wait_doc(result)) + "\n").encode()
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


# -- logs ---------------------------------------------------------------------------------


async def _logs(
    containers: ContainerService, ref: str, **kw: Any
) -> AsyncIterator[tuple[int, bytes]]:
    """``containers.logs``, whether it is a coroutine returning an iterator or an async
    generator itself."""
    result: Any = containers.logs(ref, **kw)
    if inspect.isawaitable(result):
        result = await result
    it: AsyncIterator[tuple[int, bytes]] = result
    return it


async def _nothing() -> AsyncIterator[tuple[int, bytes]]:
    return
    yield


async def encode_stream(
    chunks: AsyncIterator[tuple[int, bytes]], tty: bool
) -> AsyncIterator[bytes]:
    """(stream, data) pairs as a raw stream (TTY) or as multiplexed frames."""
    try:
        async for stream, data in chunks:
            if data:
                yield data if tty else models.frame(stream, data)
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


def _copy_out(body: AsyncIterator[bytes]) -> Any:
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async for chunk in body:
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                if writer.can_write_eof():
                    writer.write_eof()

    return run


# -- prune --------------------------------------------------------------------------------


async def prune_containers(
    containers: ContainerService, filters: dict[str, list[str]]
) -> dict[str, Any]:
    """Remove every container that is not running (nor paused, nor restarting) and that
    matches the ``label``/``label!``/``until`` filters."""
    until = None
    if filters.get("until"):
        until = _until(filters["until"][-1])
    deleted: list[str] = []
    reclaimed = 0
    for view in await containers.list(all=True, size=True):
        if view.state.running or view.state.paused or view.state.restarting:
            continue
        if view.state.status in ("running", "paused", "restarting", "removing"):
            continue
        if until is not None and view.created_unix >= until:
            continue
        labels = dict(view.labels or view.config.get("Labels") or {})
        if not _labels_match(labels, filters.get("label", []), filters.get("label!", [])):
            continue
        try:
            await containers.remove(view.id)
        except NotFound:
            continue
        except DockyardError as e:
            log.warning("prune: cannot remove %s: %s", view.id[:12], e)
            continue
        deleted.append(view.id)
        reclaimed += view.size_rw or 0
    return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}


def _until(value: str) -> float:
    import time

    try:
        return float(value)
    except ValueError:
        pass
    units = {"s": 1, "m": 60, "h": 3600}
    if value and value[-1] in units:
        try:
            return time.time() - float(value[:-1]) * units[value[-1]]
        except ValueError:
            pass
    try:
        return parse_time(value if "T" in value else value + "T00:00:00Z")
    except InvalidArgument:
        raise InvalidArgument(f"invalid filter 'until={value}'") from None


def _labels_match(labels: dict[str, str], want: list[str], refuse: list[str]) -> bool:
    def has(spec: str) -> bool:
        key, eq, value = spec.partition("=")
        return key in labels and (not eq or labels[key] == value)

    return all(has(s) for s in want) and not any(has(s) for s in refuse)


def view_tty(view: ContainerView) -> bool:
    return bool(view.config.get("Tty"))
