"""Unique names for test objects, so leftovers are recognisable: ``dyt-<session><hex>``.

``SESSION`` is fixed per test process, so the leak check of one test run does not
count the objects of another run on the same host as its own leaks.
"""

from __future__ import annotations

import secrets

PREFIX = "dyt-"
SESSION = PREFIX + secrets.token_hex(3)


def unique(kind: str = "") -> str:
    return f"{SESSION}{'-' + kind if kind else ''}-{secrets.token_hex(5)}"
