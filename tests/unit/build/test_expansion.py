"""Variable substitution and word splitting, as the Dockerfile reference describes them."""

from __future__ import annotations

import pytest

from dockyard.build.expansion import expand, expand_words
from dockyard.errors import InvalidArgument

ENV = {"FOO": "/bar", "EMPTY": "", "TWO": "x y"}


@pytest.mark.parametrize(
    ("word", "want"),
    [
        ("$FOO", "/bar"),
        ("${FOO}", "/bar"),
        ("${FOO}_x", "/bar_x"),
        ("$FOO_x", ""),  # the name runs on: FOO_x is unset
        ("\\$FOO", "$FOO"),
        ("\\${FOO}", "${FOO}"),
        ("'$FOO'", "$FOO"),
        ('"$FOO"', "/bar"),
        ('"a\\"b"', 'a"b'),
        ('"a\\nb"', "a\\nb"),  # in double quotes only ", $ and \ are escapable
        ("a\\ b", "a b"),
        ("${UNSET:-def}", "def"),
        ("${EMPTY:-def}", "def"),
        ("${EMPTY-def}", ""),
        ("${UNSET-def}", "def"),
        ("${FOO:-def}", "/bar"),
        ("${FOO:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET:+alt}", ""),
        ("${UNSET:-$FOO/x}", "/bar/x"),
        ("${UNSET:-'a b'}", "a b"),
        ("$", "$"),
        ("a$", "a$"),
        ("$1x", "x"),
        ("", ""),
    ],
)
def test_expand(word: str, want: str) -> None:
    assert expand(word, ENV) == want


def test_backtick_escape() -> None:
    assert expand("C:\\dir`$FOO", ENV, escape="`") == "C:\\dir$FOO"


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("'abc", "single-quote"),
        ('"abc', "double-quote"),
        ("${FOO", "missing '}'"),
        ("${}", "bad substitution"),
        ("${FOO:x}", "unsupported modifier"),
        ("${UNSET:?must be set}", "UNSET: must be set"),
        ("${UNSET?}", "is not allowed to be unset"),
    ],
)
def test_expand_errors(word: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        expand(word, ENV)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("80 443/tcp", ["80", "443/tcp"]),
        ("$TWO b", ["x", "y", "b"]),
        ('"$TWO" b', ["x y", "b"]),
        ("'a b' c\\ d", ["a b", "c d"]),
        ("  a   b  ", ["a", "b"]),
        ('""', [""]),
        ("$EMPTY", []),
    ],
)
def test_expand_words(text: str, want: list[str]) -> None:
    assert expand_words(text, ENV) == want
