"""Route matching and the version prefix."""

from __future__ import annotations

import pytest

from dockyard.api.router import Request, Response, Router, empty, split_version
from dockyard.errors import InvalidArgument


async def handler(req: Request, **params: str) -> Response:
    return empty()


def test_match_params_and_greedy_names() -> None:
    r = Router()
    r.route("GET", "/containers/{id}/json")(handler)
    r.route("GET", "/images/{name:.+}/json")(handler)
    found = r.match("GET", "/containers/abc/json")
    assert found is not None and found[1] == {"id": "abc"}
    found = r.match("GET", "/images/docker.io/library/busybox:latest/json")
    assert found is not None and found[1] == {"name": "docker.io/library/busybox:latest"}
    assert r.match("GET", "/containers/a/b/json") is None
    assert r.match("HEAD", "/containers/abc/json") is not None  # HEAD rides on GET
    assert r.match("POST", "/containers/abc/json") is None
    assert r.allows("/containers/abc/json") == ["GET"]
    assert r.allows("/nothing") == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1.45/info", ("1.45", "/info")),
        ("/v1.24/images/json", ("1.24", "/images/json")),
        ("/info", (None, "/info")),
        ("/v2/info", (None, "/v2/info")),
    ],
)
def test_split_version(path: str, expected: tuple[str | None, str]) -> None:
    assert split_version(path) == expected


def test_split_version_out_of_range() -> None:
    with pytest.raises(InvalidArgument) as e:
        split_version("/v1.99/info")
    assert str(e.value) == ("client version 1.99 is too new. Maximum supported API version is 1.45")
    with pytest.raises(InvalidArgument, match="too old"):
        split_version("/v1.23/info")
