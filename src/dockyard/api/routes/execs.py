"""``/containers/{id}/exec`` and ``/exec/*``: create, start, resize and inspect execs.

``start`` without ``Detach`` hijacks the connection as ``attach`` does (``101 UPGRADED``
when asked, else ``200``; raw bytes with a TTY, multiplexed frames without) and shares its
pump (``stdiopump.AttachPump``). As with dockerd, the checks that can fail before the
process exists (no such exec, already started, container stopped or paused) are a
proper HTTP status; a process that cannot start is reported *on the stream* (``OCI
runtime exec failed: ...``), with its exit code (126/127) left for ``GET /exec/{id}/json``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from dockyard._internal.detachkeys import DEFAULT_DETACH_KEYS, parse_detach_keys
from dockyard.api.models import containers as stream_models
from dockyard.api.models import execs as models
from dockyard.api.router import Hijack, Request, Response, Router, empty, json_response
from dockyard.api.stdiopump import AttachPump, terminal_size
from dockyard.engine.execs import ExecService
from dockyard.errors import DockyardError, InvalidArgument


def register(router: Router, execs: ExecService) -> None:
    @router.route("POST", "/containers/{id}/exec")
    async def create(req: Request, id: str) -> Response:
        body = await req.json(default=None)
        if not isinstance(body, dict):
            raise InvalidArgument("the exec config must be a JSON object with Cmd")
        keys = body.get("DetachKeys")
        if keys:
            _detach_keys(str(keys))
        exec_id = await execs.create(id, body)
        return json_response({"Id": exec_id}, 201)

    @router.route("POST", "/exec/{id}/start")
    async def start(req: Request, id: str) -> Response | Hijack:
        body = await req.json(default={})
        if not isinstance(body, dict):
            raise InvalidArgument("the exec start config must be a JSON object")
        rec = execs.check_startable(id)
        tty = bool(body["Tty"]) if body.get("Tty") is not None else rec.tty
        size = _console_size(body.get("ConsoleSize"))
        if body.get("Detach"):
            await execs.start(id, detach=True, tty=tty, console_size=size)
            return empty(200)
        keys = _detach_keys(rec.detach_keys or DEFAULT_DETACH_KEYS)

        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                session = await execs.start(id, detach=False, tty=tty, console_size=size)
            except DockyardError as e:
                # dockerd writes the error to the stream once the connection is hijacked
                message = f"{e}\r\n".encode()
                writer.write(message if tty else stream_models.frame(1, message))
                with contextlib.suppress(ConnectionError, OSError):
                    await writer.drain()
                    if writer.can_write_eof():
                        writer.write_eof()
                return
            await AttachPump(session, stdin=rec.open_stdin, detach_keys=keys).run(reader, writer)

        return Hijack(run, stream_models.stream_content_type(tty, req.version))

    @router.route("POST", "/exec/{id}/resize")
    async def resize(req: Request, id: str) -> Response:
        await execs.resize(id, *terminal_size(req))
        return empty(200)

    @router.route("GET", "/exec/{id}/json")
    async def inspect(req: Request, id: str) -> Response:
        return json_response(models.exec_inspect(execs.get(id)))


def _detach_keys(text: str) -> bytes:
    try:
        return parse_detach_keys(text)
    except ValueError as e:
        raise InvalidArgument(str(e)) from None


def _console_size(value: Any) -> tuple[int, int] | None:
    if not value:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise InvalidArgument("ConsoleSize: expected [height, width]")
    try:
        height, width = int(value[0]), int(value[1])
    except (TypeError, ValueError):
        raise InvalidArgument("ConsoleSize: expected [height, width]") from None
    return (height, width) if height > 0 and width > 0 else None
