"""Lexical path checks shared by the runtime (mount destinations) and layer extraction."""

from __future__ import annotations


def climbs_above_root(depth: int, target: str) -> bool:
    """Whether following the relative symlink ``target`` from a directory ``depth`` levels
    below a root ever goes above that root (``..`` past the top)."""
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False
