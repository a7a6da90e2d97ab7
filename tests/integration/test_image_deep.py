"""A 1000-layer image runs under dockyard-runtime (overlay), and what its rootfs costs."""

from __future__ import annotations

import io
import time

import pytest

from dockyard.images.base import ensure_base_image
from dockyard.images.config import add_image, new_config
from dockyard.images.layers import layer_chain, register_layer
from dockyard.images.rootfs import prepare_container, remove_container
from dockyard.store import LayerRecord
from dockyard.testing.bundle import make_bundle
from dockyard.testing.names import unique
from dockyard.testing.runtimes import Runtime

from .imagestores import mounted, new_store, tar_of

pytestmark = pytest.mark.requires("root")
DEPTH = 1000


def _image_on(store, top: LayerRecord) -> str:  # type: ignore[no-untyped-def]
    layers = layer_chain(store, top)
    config = new_config([layer.diff_id for layer in layers], container_config={"Cmd": ["sh"]})
    return add_image(store, config, layers, [f"{unique()}:{len(layers)}"])


def test_thousand_layers_run() -> None:
    with new_store("overlay") as store:
        ensure_base_image(store)
        top = store.layers_of(store.image("busybox"))[0]
        started = time.perf_counter()
        tops: dict[int, LayerRecord] = {}
        for i in range(DEPTH):
            top = register_layer(store, top, io.BytesIO(tar_of({f"layer-{i}": f"{i}\n".encode()})))
            tops[i + 1] = top
        built = time.perf_counter() - started
        timings = {}
        for depth in (100, DEPTH):
            image = _image_on(store, tops[depth])
            cid = unique("deep")
            t0 = time.perf_counter()
            prepare_container(store, cid, image)
            try:
                with mounted(store, cid) as root:
                    timings[depth] = time.perf_counter() - t0
                    assert (root / f"layer-{depth - 1}").read_text() == f"{depth - 1}\n"
                    if depth == DEPTH:
                        _run(store.root, root)
            finally:
                remove_container(store, cid)
        print(
            f"\n{DEPTH} layers registered in {built:.2f}s; container rootfs prepare+mount:"
            + "".join(f" {d} layers {t * 1000:.0f} ms;" for d, t in timings.items())
        )


def _run(base, root) -> None:  # type: ignore[no-untyped-def]
    bundle = make_bundle(
        base / unique("bundle"),
        root,
        args=["sh", "-c", "ls /layer-999 && cat /layer-0"],
        readonly=False,
    )
    runtime = Runtime.named("dockyard", base / "runtime")
    try:
        result = runtime.run(unique("run"), bundle.path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["/layer-999", "0"]
    finally:
        runtime.cleanup()
