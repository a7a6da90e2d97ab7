""".dockerignore matching, with the examples of Docker's reference and pattern matcher."""

from __future__ import annotations

import pytest

from dockyard.build.ignore import Matcher

REFERENCE = """
# comment
*/temp*
*/*/temp*
temp?
"""


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("somedir/temporary.txt", True),
        ("somedir/temp", True),
        ("somedir/subdir/temporary.txt", True),
        ("tempa", True),
        ("tempb", True),
        ("temp", False),
        ("temporary.txt", False),
        ("a/b/c/temp", False),
    ],
)
def test_reference_examples(path: str, ignored: bool) -> None:
    assert Matcher.from_text(REFERENCE).ignored(path) is ignored


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        ("**/*.go", "a/b/c.go", True),
        ("**/*.go", "c.go", True),
        ("**", "anything/at/all", True),
        ("dir/**", "dir/x/y", True),
        ("dir/**", "dirx/y", False),
        ("/abs", "abs", True),
        ("./rel/../x", "x", True),
        ("*.md\n!README.md", "README.md", False),
        ("*.md\n!README.md", "CHANGES.md", True),
        ("*.md\n!README*.md\nREADME-secret.md", "README-secret.md", True),
        ("docs", "docs/a/b.txt", True),  # a matching parent ignores its contents
        ("docs\n!docs/keep.txt", "docs/keep.txt", False),
        ("[a-c]x", "bx", True),
        ("[a-c]x", "dx", False),
        ("a?c", "a/c", False),  # ? does not match a slash
        ("*", "a/b", True),  # via the parent "a"
        ("\\*x", "*x", True),
        ("", "x", False),
    ],
)
def test_patterns(patterns: str, path: str, ignored: bool) -> None:
    assert Matcher.from_text(patterns).ignored(path) is ignored


def test_unclosed_class_is_a_clear_error() -> None:
    from dockyard.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="missing"):
        Matcher.from_text("[abc")
