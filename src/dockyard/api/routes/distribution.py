"""``POST /images/create?fromImage=…`` (pull), ``POST /images/{name}/push`` and
``POST /auth`` (``docker login``: the credentials are checked against the registry).

Pull and push answer Docker's JSON progress stream. An error before the first progress message
(an unknown image, refused credentials, an unreachable registry) is a proper status;
an error after it is an ``error`` message in the stream, as dockerd does. A pull of a
reference whose registry has no endpoint configured (``docker.io`` without a mirror)
is left to the local answer of ``routes.images``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from dockyard.api.filters import parse_filters
from dockyard.api.models import images as image_models
from dockyard.api.models import progress as models
from dockyard.api.models.search import search_result
from dockyard.api.router import Request, Response, Router, json_response, stream
from dockyard.engine.distribution import DistributionService, ProgressJob, decode_auth
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.images.pull import PullProgress
from dockyard.images.push import PushProgress
from dockyard.registry import Credentials
from dockyard.types.reference import Reference

P = TypeVar("P", PullProgress, PushProgress)
R = TypeVar("R")


def register(router: Router, distribution: DistributionService) -> None:
    @router.route("POST", "/auth")
    async def auth(req: Request) -> Response:
        doc = await req.json({})
        if not isinstance(doc, dict) or not doc.get("username"):
            raise InvalidArgument("give username and password (and serveraddress) to log in")
        credentials = Credentials(str(doc["username"]), str(doc.get("password") or ""))
        await distribution.login(credentials, str(doc.get("serveraddress") or ""))
        return json_response({"Status": "Login Succeeded", "IdentityToken": ""})

    @router.route("GET", "/images/search")
    async def search(req: Request) -> Response:
        found = await distribution.search(
            req.q("term") or "",
            req.q_int("limit") or 25,
            parse_filters(req.q("filters")),
            decode_auth(req.headers.get("x-registry-auth")),
        )
        return json_response([search_result(r) for r in found])

    @router.route("POST", "/images/{name:.+}/push")
    async def push(req: Request, name: str) -> Response:
        tag = req.q("tag") or ""
        credentials = decode_auth(req.headers.get("x-registry-auth"))
        if not tag and _untagged(name):  # as dockerd: no tag pushes every local tag
            all_job = distribution.push_all_tags(name, credentials)
            return await answer(
                all_job, lambda results: b"".join(map(models.push_result_message, results))
            )
        reference = f"{name}:{tag}" if tag and "@" not in name else name
        job = distribution.push(reference, credentials)
        return await answer(job, models.push_result_message)


def _untagged(name: str) -> bool:
    """True when ``name`` has neither a tag nor a digest."""
    try:
        ref = Reference.parse(name)
    except InvalidArgument:
        return False  # the push itself names what is wrong
    return ref.tag is None and ref.digest is None


def pull_reference(from_image: str, tag: str) -> str:
    """The reference ``fromImage`` and ``tag`` name together (``tag`` may be a digest)."""
    ref = Reference.parse(from_image)
    if tag.startswith("sha256:"):
        return str(ref.with_digest(tag))
    if tag:
        return str(ref.with_tag(tag))
    return str(ref)


async def pull(distribution: DistributionService, req: Request) -> Response | None:
    """The pull's answer, or None when no registry serves this reference."""
    from_image, tag = req.q("fromImage") or "", req.q("tag") or ""
    reference = pull_reference(from_image, tag)
    if not distribution.serves(reference):
        return None
    credentials = decode_auth(req.headers.get("x-registry-auth"))
    platform = req.q("platform") or ""
    if not tag and _untagged(from_image):  # as dockerd: no tag pulls every tag
        all_job = distribution.pull_all_tags(reference, credentials, platform)
        return await answer(all_job, lambda _results: b"")
    job = distribution.pull(reference, credentials, platform)
    return await answer(job, lambda _result: b"")


async def answer(job: ProgressJob[P, R], closing: Callable[[R], bytes]) -> Response:
    first = await job.first()  # an error here becomes the status of the answer

    async def body() -> AsyncIterator[bytes]:
        if first is not None:
            yield models.progress_message(first)
        async for item in job.rest():
            yield models.progress_message(item)
        try:
            result = job.task.result()
        except DockyardError as e:
            yield image_models.error_message(str(e))
            return
        except Exception as e:  # a bug: the client still gets a message, not a cut stream
            yield image_models.error_message(f"internal error: {e!r}")
            return
        last = closing(result)
        if last:
            yield last

    return stream(body())


__all__ = ["pull", "pull_reference", "register"]
