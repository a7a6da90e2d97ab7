"""Concurrent pulls that need the same blob share one download (``Puller.download``)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from dockyard.errors import InvalidArgument
from dockyard.images.pull import Puller
from dockyard.types.descriptor import Descriptor
from dockyard.types.digest import Digest

DESC = Descriptor("application/octet-stream", Digest.of_bytes(b"blob"), 4)


class CountingPuller(Puller):
    """A puller whose transfer is a slow counter (no registry, no store needed)."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__(store=None, client=None)  # type: ignore[arg-type]
        self.fetches = 0
        self.fail = fail

    def _fetch(self, repo: Any, desc: Descriptor, report: Any) -> bool:
        self.fetches += 1
        time.sleep(0.2)
        if self.fail:
            raise InvalidArgument("digest mismatch")
        return True


def _run_in_threads(puller: Puller, n: int) -> list[object]:
    results: list[object] = [None] * n

    def one(i: int) -> None:
        try:
            results[i] = puller.download(None, DESC, lambda _p: None)  # type: ignore[arg-type]
        except Exception as e:
            results[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_one_download_for_concurrent_requests() -> None:
    puller = CountingPuller()
    results = _run_in_threads(puller, 4)
    assert puller.fetches == 1
    assert sorted(map(str, results)) == ["False", "False", "False", "True"]  # one created it


def test_the_failure_reaches_every_waiter_and_a_later_pull_tries_again() -> None:
    puller = CountingPuller(fail=True)
    results = _run_in_threads(puller, 3)
    assert puller.fetches == 1
    assert all(isinstance(r, InvalidArgument) for r in results)
    with pytest.raises(InvalidArgument):
        puller.download(None, DESC, lambda _p: None)  # type: ignore[arg-type]
    assert puller.fetches == 2
