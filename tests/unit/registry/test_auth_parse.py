"""WWW-Authenticate challenges and token answers."""

import pytest

from dockyard.registry.auth import parse_challenges, parse_token_response, repository_scope
from dockyard.registry.errors import Unauthorized


def test_bearer_challenge_with_commas_in_scope() -> None:
    [c] = parse_challenges(
        [
            'Bearer realm="https://auth.example/token",service="registry.example",'
            'scope="repository:samalba/my-app:pull,push"'
        ]
    )
    assert c.scheme == "bearer"
    assert c.params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:samalba/my-app:pull,push",
    }


def test_basic_challenge_and_case_and_spaces() -> None:
    [c] = parse_challenges(['BASIC  Realm = "dyt basic"'])
    assert c.scheme == "basic"
    assert c.params == {"realm": "dyt basic"}


def test_several_challenges_in_one_header_and_several_headers() -> None:
    found = parse_challenges(
        [
            'Basic realm="a", Bearer realm="http://127.0.0.1:1/t",error="insufficient_scope"',
            "Negotiate",
        ]
    )
    assert [c.scheme for c in found] == ["basic", "bearer", "negotiate"]
    assert found[1].params["error"] == "insufficient_scope"


def test_escaped_quote_and_token_param() -> None:
    [c] = parse_challenges(['Bearer realm="a\\"b",service=plain'])
    assert c.params == {"realm": 'a"b', "service": "plain"}


def test_token68() -> None:
    [c] = parse_challenges(["Custom abc123=="])
    assert c.params == {"": "abc123=="}


@pytest.mark.parametrize(
    ("body", "token", "expires"),
    [
        (b'{"token":"t1","expires_in":300}', "t1", 300.0),
        (b'{"access_token":"t2"}', "t2", 60.0),
        (b'{"token":"t3","access_token":"t4","expires_in":0}', "t3", 60.0),
    ],
)
def test_token_response(body: bytes, token: str, expires: float) -> None:
    assert parse_token_response(body) == (token, expires)


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"expires_in":5}', b'{"token":""}'])
def test_bad_token_response(body: bytes) -> None:
    with pytest.raises(Unauthorized):
        parse_token_response(body)


def test_repository_scope() -> None:
    assert repository_scope("a/b", ["pull", "push"]) == "repository:a/b:pull,push"
