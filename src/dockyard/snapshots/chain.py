"""Pure layer-chain arithmetic for overlay mounts: option strings and where to flatten.

Overlayfs stacks at most ``MAX_LOWERS`` (500) lower layers, and mount(2)'s data string
(``lowerdir=a:b:...,upperdir=...,workdir=...``) must fit in one page. The new mount API
passes each layer as its own ``lowerdir+`` parameter, which lifts the page limit but not
the stack limit. A chain deeper than the stack limit is mounted on a *flattened* layer: a
cached copy of the merged view of its bottom part. Flatten points are aligned to multiples
of ``FLATTEN_STEP`` layers counted from the base, so images sharing a base share caches.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Sequence

MAX_LOWERS = 500
FLATTEN_STEP = 100
LINK_CHARS = string.ascii_uppercase + string.digits
LINK_LEN = 26
# characters the classic lowerdir=...:... syntax would need escaped
_CLASSIC_UNSAFE = frozenset(":,\\")


def link_name() -> str:
    """A random short name for ``<root>/l/``, as Docker's overlay2 uses (26 characters)."""
    return "".join(secrets.choice(LINK_CHARS) for _ in range(LINK_LEN))


def flatten_depth(depth: int, max_lowers: int, step: int = FLATTEN_STEP) -> int:
    """How many bottom layers of a ``depth``-deep chain to replace by one flattened layer
    so that at most ``max_lowers`` remain; 0 when the chain fits. The result is a multiple
    of ``step`` (so caches are shared), or the whole chain."""
    if max_lowers < 1:
        raise ValueError("max_lowers must be at least 1")
    if depth <= max_lowers:
        return 0
    need = depth - max_lowers + 1
    cut = -(-need // step) * step
    return min(cut, depth)


def usable_cache(depth: int, cached: Iterable[int], max_lowers: int) -> int:
    """The deepest cached flattened depth that makes the chain fit, or 0 for none."""
    fitting = [d for d in cached if 0 < d <= depth and depth - d + 1 <= max_lowers]
    return max(fitting, default=0)


def classic_capacity(page: int, per_layer: int, fixed: int) -> int:
    """How many lower paths of ``per_layer`` bytes (separator included) fit in a page next
    to ``fixed`` bytes of other options (the terminating NUL takes one more byte)."""
    return max(0, (page - 1 - fixed) // per_layer)


def classic_safe(paths: Iterable[str]) -> bool:
    return not any(_CLASSIC_UNSAFE & set(p) for p in paths)


def classic_options(lowers: Sequence[str], upper: str | None, work: str | None) -> tuple[str, ...]:
    """``lowerdir=top:...:bottom[,upperdir=..,workdir=..]`` as mount(2) takes it."""
    out = ["lowerdir=" + ":".join(lowers)]
    if upper is not None and work is not None:
        out += [f"upperdir={upper}", f"workdir={work}"]
    return tuple(out)


def new_api_options(lowers: Sequence[str], upper: str | None, work: str | None) -> tuple[str, ...]:
    """One ``lowerdir+=`` per layer, top first, for fsconfig(2)."""
    out = [f"lowerdir+={p}" for p in lowers]
    if upper is not None and work is not None:
        out += [f"upperdir={upper}", f"workdir={work}"]
    return tuple(out)


def options_length(options: Sequence[str]) -> int:
    """Bytes of the classic data string, NUL included."""
    return len(",".join(options).encode()) + 1
