"""``commit`` of a running container holds it paused while its changes are read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dockyard.images.base import ensure_base_image
from dockyard.images.commit import commit_container
from dockyard.images.history import image_history
from dockyard.images.rootfs import prepare_container, remove_container
from dockyard.testing.bundle import make_bundle
from dockyard.testing.names import unique
from dockyard.testing.runtimes import Runtime

from .imagestores import mounted, new_store

pytestmark = pytest.mark.requires("root")


def test_commit_pauses_a_running_container() -> None:
    with new_store("overlay") as store:
        ensure_base_image(store)
        cid = unique("commit")
        prepare_container(store, cid, "busybox")
        runtime = Runtime.named("dockyard", store.root / "runtime")
        try:
            with mounted(store, cid) as root:
                try:
                    _commit_while_running(store, runtime, cid, root)
                finally:
                    runtime.cleanup()  # before its rootfs is unmounted
        finally:
            remove_container(store, cid)


def _commit_while_running(store, runtime: Runtime, cid: str, root: Path) -> None:  # type: ignore[no-untyped-def]
    script = "i=0; while :; do i=$((i+1)); echo $i > /counter; sleep 0.01; done"
    bundle = make_bundle(
        store.root / unique("bundle"), root, args=["sh", "-c", script], readonly=False
    )
    assert runtime.create(cid, bundle.path).returncode == 0
    assert runtime.start(cid).returncode == 0
    deadline = time.monotonic() + 5
    while not (root / "counter").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    seen: list[tuple[str, str, str]] = []

    @contextmanager
    def paused() -> Iterator[None]:
        assert runtime.pause(cid).returncode == 0
        try:
            before = (root / "counter").read_text()
            time.sleep(0.1)  # a running loop would have counted on
            status = runtime.state_json(cid)["status"]
            seen.append((status, before, (root / "counter").read_text()))
            yield
        finally:
            assert runtime.resume(cid).returncode == 0

    image = commit_container(store, cid, ["dyt-committed:1"], pause=paused)
    status, before, after = seen[0]
    assert status == "paused"
    assert before == after  # nothing moved while the layer was read
    assert runtime.state_json(cid)["status"] == "running"
    assert len(image_history(store, image)) == len(image_history(store, "busybox")) + 1
