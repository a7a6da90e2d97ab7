"""Unique names for test objects, so leftovers are recognisable: ``dyt-<hex>``."""

from __future__ import annotations

import secrets

PREFIX = "dyt-"


def unique(kind: str = "") -> str:
    return f"{PREFIX}{kind + '-' if kind else ''}{secrets.token_hex(5)}"
