"""X-Registry-Auth decoding and the progress hand-over of pulls and pushes."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Callable

import pytest

from dockyard.engine.distribution import ProgressJob, decode_auth
from dockyard.errors import InvalidArgument, NotFound
from dockyard.registry import Credentials


def encode(doc: object, *, pad: bool = True) -> str:
    text = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()
    return text if pad else text.rstrip("=")


def test_decode_auth() -> None:
    doc = {"username": "u", "password": "p?>", "serveraddress": "reg.test"}
    assert decode_auth(encode(doc)) == Credentials("u", "p?>")
    assert decode_auth(encode(doc, pad=False)) == Credentials("u", "p?>")
    assert decode_auth("e30=") is None  # "{}": what docker sends without credentials
    assert decode_auth(None) is None
    assert decode_auth(encode({"identitytoken": "t"})) is None
    with pytest.raises(InvalidArgument, match="X-Registry-Auth"):
        decode_auth("not base64 json!")
    with pytest.raises(InvalidArgument, match="X-Registry-Auth"):
        decode_auth(encode([1, 2]))


def run_job(work: Callable[[Callable[[int], None]], str]) -> tuple[object, list[int], object]:
    async def scenario() -> tuple[object, list[int], object]:
        job = ProgressJob(work)
        try:
            first: object = await job.first()
        except NotFound as e:
            return e, [], None
        rest = [item async for item in job.rest()]
        return first, rest, job.task.result()

    return asyncio.run(scenario())


def test_progress_arrives_in_order_then_the_result() -> None:
    def work(report: Callable[[int], None]) -> str:
        assert threading.current_thread() is not threading.main_thread()
        for i in range(50):
            report(i)
        return "done"

    first, rest, result = run_job(work)
    assert first == 0
    assert rest == list(range(1, 50))
    assert result == "done"


def test_an_error_before_any_progress_is_raised_by_first() -> None:
    def work(report: Callable[[int], None]) -> str:
        raise NotFound("manifest unknown")

    first, rest, _ = run_job(work)
    assert isinstance(first, NotFound)
    assert rest == []


def test_an_error_after_progress_stays_in_the_task() -> None:
    async def scenario() -> None:
        def work(report: Callable[[int], None]) -> str:
            report(1)
            raise NotFound("late")

        job = ProgressJob(work)
        assert await job.first() == 1
        assert [i async for i in job.rest()] == []
        with pytest.raises(NotFound, match="late"):
            job.task.result()

    asyncio.run(scenario())
