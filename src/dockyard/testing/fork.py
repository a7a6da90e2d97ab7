"""Run a function in a forked child, so namespace and mount changes never touch pytest."""

from __future__ import annotations

import os
import pickle
import traceback
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def in_child(fn: Callable[[], T], timeout: float = 30.0) -> T:
    """``fn()`` in a fork; its return value (pickled) comes back, its exception re-raises."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            payload = pickle.dumps(("ok", fn()))
        except BaseException as e:
            payload = pickle.dumps(("err", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"))
        with os.fdopen(w, "wb") as f:
            f.write(payload)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)
    if kind == "err":
        raise AssertionError(f"in child: {value}")
    return value  # type: ignore[no-any-return]
