"""Error kinds -> HTTP statuses and bodies (the one mapping)."""

from __future__ import annotations

import json

import pytest

from dockyard.api.errors import error_response, status_of
from dockyard.errors import (
    Conflict,
    DockyardError,
    InvalidArgument,
    NotFound,
    NotModified,
    NotSupported,
    SystemFault,
)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("no such image: x"), 404),
        (Conflict("in use"), 409),
        (InvalidArgument("bad"), 400),
        (NotSupported("no"), 501),
        (SystemFault("disk"), 500),
        (NotModified("already started"), 304),
        (DockyardError("other"), 500),
        (RuntimeError("bug"), 500),
    ],
)
def test_status_of(error: BaseException, status: int) -> None:
    assert status_of(error) == status


def test_subclass_maps_like_its_kind() -> None:
    class NoSuchImage(NotFound):
        pass

    assert status_of(NoSuchImage("x")) == 404


def test_bodies() -> None:
    r = error_response(NotFound("no such container: web"))
    assert r.status == 404
    assert isinstance(r.body, bytes)
    assert json.loads(r.body) == {"message": "no such container: web"}
    r = error_response(NotModified("already started"))
    assert (r.status, r.body) == (304, b"")


def test_unexpected_error_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    try:
        raise KeyError("boom")
    except KeyError as e:
        r = error_response(e, "GET /info")
    assert r.status == 500
    assert isinstance(r.body, bytes) and b"boom" in r.body
    assert "GET /info" in caplog.text
    assert "Traceback" in caplog.text
