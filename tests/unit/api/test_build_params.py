"""The ``/build`` query parameters and the JSON lines of its answer (no daemon)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import pytest

from dockyard.api.router import Request
from dockyard.api.routes.build import build_params, prune_before, render
from dockyard.engine.builds import BuildMessage
from dockyard.errors import InvalidArgument, NotSupported


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""


def request(query: str) -> Request:
    return Request("POST", "/build", "1.45", parse_qs(query, keep_blank_values=True), {}, _empty())


def test_docker_cli_query_becomes_builder_options() -> None:
    q = (
        "t=app&t=registry.local:5000/app:v2&dockerfile=sub/Dockerfile.dev"
        '&buildargs={"A":"1","UNSET":null}&labels={"team":"x"}&target=final&nocache=1'
        '&cachefrom=["app:old"]&networkmode=host&squash=1&platform=linux/amd64&q=1'
        "&rm=1&forcerm=0&pull=&memory=0&version=1"
    )
    params, quiet = build_params(request(q))
    o = params.options
    assert params.dockerfile == "sub/Dockerfile.dev"
    assert o.tags == ("app", "registry.local:5000/app:v2")
    assert dict(o.build_args) == {"A": "1"}  # a null value: the ARG's default applies
    assert dict(o.labels) == {"team": "x"}
    assert (o.target, o.no_cache, o.network, o.squash, o.platform) == (
        "final",
        True,
        "host",
        True,
        "linux/amd64",
    )
    assert o.cache_from == ("app:old",)
    assert quiet is True


def test_defaults() -> None:
    params, quiet = build_params(request(""))
    o = params.options
    assert params.dockerfile == ""
    assert (o.tags, dict(o.build_args), o.no_cache, o.network, quiet) == (
        (),
        {},
        False,
        "default",
        False,
    )
    assert build_params(request("networkmode=bridge"))[0].options.network == "default"


@pytest.mark.parametrize(
    "query",
    ["buildargs=[1]", 'buildargs={"A":1}', 'labels="x"', "cachefrom={}", "buildargs={bad"],
)
def test_malformed_json_values_are_400(query: str) -> None:
    with pytest.raises(InvalidArgument):
        build_params(request(query))


def test_remote_and_buildkit_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="remote"):
        build_params(request("remote=https://example.invalid/repo.git"))
    with pytest.raises(NotSupported, match="DOCKER_BUILDKIT=0"):
        build_params(request("version=2"))


def test_prune_filters() -> None:
    assert prune_before({}) is None
    assert prune_before({"until": ["1700000000"]}) == 1700000000.0
    assert prune_before({"until": ["1700000500"], "unused-for": ["1700000000"]}) == 1700000000.0
    with pytest.raises(InvalidArgument, match="invalid filter"):
        prune_before({"type": ["regular"]})


def test_messages_as_docker_json_lines() -> None:
    assert json.loads(render(BuildMessage(stream="Step 1/2 : FROM busybox\n"))) == {
        "stream": "Step 1/2 : FROM busybox\n"
    }
    assert json.loads(render(BuildMessage(image_id="sha256:ab"))) == {"aux": {"ID": "sha256:ab"}}
    failed = json.loads(render(BuildMessage(error="The command 'false' returned 1", code=1)))
    assert failed == {
        "errorDetail": {"code": 1, "message": "The command 'false' returned 1"},
        "error": "The command 'false' returned 1",
    }
    other = json.loads(render(BuildMessage(error="no such image")))
    assert other == {"errorDetail": {"message": "no such image"}, "error": "no such image"}
    assert render(BuildMessage(stream="x")).endswith(b"\r\n")
