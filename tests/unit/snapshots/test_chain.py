"""Layer-chain arithmetic: where to flatten, what fits in a page, option strings."""

from __future__ import annotations

import pytest

from dockyard.snapshots.chain import (
    LINK_CHARS,
    LINK_LEN,
    classic_capacity,
    classic_options,
    classic_safe,
    flatten_depth,
    link_name,
    new_api_options,
    options_length,
    usable_cache,
)


@pytest.mark.parametrize(
    ("depth", "limit", "step", "cut"),
    [
        (1, 500, 100, 0),
        (500, 500, 100, 0),
        (501, 500, 100, 100),
        (599, 500, 100, 100),
        (600, 500, 100, 200),
        (1000, 500, 100, 600),
        (30, 10, 5, 25),
        (12, 10, 100, 12),  # the step exceeds the chain: flatten all of it
    ],
)
def test_flatten_depth(depth: int, limit: int, step: int, cut: int) -> None:
    assert flatten_depth(depth, limit, step) == cut
    if cut:
        assert depth - cut + 1 <= limit
        assert cut % step == 0 or cut == depth


def test_flatten_depth_rejects_a_zero_limit() -> None:
    with pytest.raises(ValueError):
        flatten_depth(3, 0)


def test_usable_cache_takes_the_deepest_that_fits() -> None:
    assert usable_cache(1000, [100, 600, 700], 500) == 700
    assert usable_cache(1000, [100, 200], 500) == 0  # 801 layers would remain
    assert usable_cache(1000, [1200], 500) == 0
    assert usable_cache(550, [], 500) == 0


def test_classic_capacity() -> None:
    assert classic_capacity(4096, 10, 0) == 409
    assert classic_capacity(4096, 10, 95) == 400
    assert classic_capacity(100, 200, 0) == 0


def test_classic_options_and_length() -> None:
    opts = classic_options(["/l/A", "/l/B"], "/u", "/w")
    assert opts == ("lowerdir=/l/A:/l/B", "upperdir=/u", "workdir=/w")
    assert options_length(opts) == len("lowerdir=/l/A:/l/B,upperdir=/u,workdir=/w") + 1
    assert classic_options(["/a", "/b"], None, None) == ("lowerdir=/a:/b",)


def test_new_api_options_keep_one_entry_per_layer_top_first() -> None:
    opts = new_api_options(["/top", "/bottom"], "/u", "/w")
    assert opts == ("lowerdir+=/top", "lowerdir+=/bottom", "upperdir=/u", "workdir=/w")


def test_classic_safe() -> None:
    assert classic_safe(["/var/lib/x", "/l/ABC"])
    assert not classic_safe(["/a:b"])
    assert not classic_safe(["/a,b"])


def test_link_names_are_short_and_random() -> None:
    names = {link_name() for _ in range(50)}
    assert len(names) == 50
    assert all(len(n) == LINK_LEN and set(n) <= set(LINK_CHARS) for n in names)
