"""climbs_above_root: the lexical symlink-escape check."""

import pytest

from dockyard._internal.paths import climbs_above_root


@pytest.mark.parametrize(
    ("depth", "target", "climbs"),
    [
        (0, "etc/passwd", False),
        (0, "../etc", True),
        (1, "../etc", False),
        (1, "../../etc", True),
        (2, "a/../../..", False),
        (2, "a/../../../..", True),
        (2, "./../b/./../..", False),
        (0, "a/b/../../..", True),
    ],
)
def test_climbs_above_root(depth: int, target: str, climbs: bool) -> None:
    assert climbs_above_root(depth, target) is climbs
