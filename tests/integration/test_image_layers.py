"""Image store flows on overlay and vfs: register, import, the base image, bad input."""

from __future__ import annotations

import gzip
import io
import os

import pytest

from dockyard.errors import InvalidArgument
from dockyard.images.base import base_image, ensure_base_image
from dockyard.images.config import load_config
from dockyard.images.imagestore import ImageStore
from dockyard.images.importing import import_rootfs
from dockyard.images.inspect import inspect_image
from dockyard.images.layers import diff_layer, layer_tar, register_layer
from dockyard.images.listing import list_images
from dockyard.testing.names import unique

from .imagestores import member_bytes, names_in, new_store, state, store, tar_of

__all__ = ["store"]
pytestmark = pytest.mark.requires("root")


def test_register_layers_and_get_their_tars_back(store: ImageStore) -> None:
    base = register_layer(
        store, None, io.BytesIO(gzip.compress(tar_of({"a": b"A", "d": None, "d/b": b"B"})))
    )
    top_tar = tar_of({"c": b"C"}, whiteouts=("a",))
    top = register_layer(store, base, io.BytesIO(top_tar))
    assert top.parent == base.chain_id
    again = register_layer(store, base, io.BytesIO(top_tar))
    assert again == top  # idempotent: the same record, no second snapshot
    assert len(list(store.snapshotter.walk())) == 2
    out = io.BytesIO()
    assert layer_tar(store, top, out).diff_id == str(top.diff_id)
    assert out.getvalue() == top_tar  # the exact bytes whose digest the config names
    regenerated = io.BytesIO()
    diff_layer(store, top, regenerated)
    assert set(names_in(regenerated.getvalue())) == {".wh.a", "c"}


def test_import_rootfs_with_changes(store: ImageStore) -> None:
    data = tar_of({"bin": None, "bin/tool": b"#!/bin/sh\n", "etc": None, "etc/motd": b"hi\n"})
    name = f"{unique()}:v1"
    image_id = import_rootfs(
        store,
        io.BytesIO(gzip.compress(data)),
        [name],
        [
            'CMD ["/bin/tool", "x"]',
            "ENV A=1 B='two words'",
            "WORKDIR /srv",
            "EXPOSE 80 53/udp",
            "LABEL org.dyt=yes",
            "USER nobody",
            "VOLUME /data",
        ],
        message="dyt import",
    )
    doc = inspect_image(store, name)
    assert doc["Id"] == image_id
    assert doc["RepoTags"] == [name]
    assert doc["Comment"] == "dyt import"
    cfg = doc["Config"]
    assert cfg["Cmd"] == ["/bin/tool", "x"]
    assert cfg["Env"] == ["A=1", "B=two words"]
    assert cfg["WorkingDir"] == "/srv"
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert cfg["Labels"] == {"org.dyt": "yes"}
    assert cfg["User"] == "nobody"
    assert cfg["Volumes"] == {"/data": {}}
    assert doc["RootFS"] == {
        "Type": "layers",
        "Layers": [load_config(store, store.image(name))["rootfs"]["diff_ids"][0]],
    }
    assert doc["GraphDriver"]["Name"] == ("overlay2" if store.driver == "overlay" else store.driver)
    [summary] = list_images(store, filters={"label": ["org.dyt=yes"]})
    assert summary.id == image_id
    assert list_images(store, filters={"label": ["org.dyt=no"]}) == []
    repo = name.split(":", maxsplit=1)[0]
    assert [s.id for s in list_images(store, filters={"reference": [repo]})] == [image_id]


def test_base_image_is_reproducible_across_fresh_stores() -> None:
    ids = []
    for driver in ("overlay", "vfs"):
        with new_store(driver) as s:
            ids.append(ensure_base_image(s))
            assert ensure_base_image(s) == ids[-1]  # idempotent
            image = s.image("busybox")
            assert str(image.id) == ids[-1]
            assert load_config(s, image)["config"]["Cmd"] == ["sh"]
            out = io.BytesIO()
            layer_tar(s, s.layers_of(image)[0], out)
            names = names_in(out.getvalue())
            assert names["bin/sh"].linkname == "busybox"
            assert member_bytes(out.getvalue(), "etc/passwd").startswith(b"root:x:0:0:")
    assert ids[0] == ids[1] == str(base_image().id)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(os.urandom(4096), id="random"),
        pytest.param(tar_of({"f": os.urandom(5000)})[:1500], id="truncated-tar"),
        pytest.param(gzip.compress(tar_of({"f": os.urandom(5000)}))[:-40], id="truncated-gzip"),
        pytest.param(b"\x1f\x8b" + os.urandom(300), id="bad-gzip"),
        pytest.param(tar_of({"../escape": b"x"}), id="escaping-name"),
    ],
)
def test_bad_layer_leaves_the_store_as_before(store: ImageStore, bad: bytes) -> None:
    ensure_base_image(store)
    base = store.layers_of(store.image("busybox"))[0]
    before = state(store)
    with pytest.raises(InvalidArgument):
        register_layer(store, base, io.BytesIO(bad))
    with pytest.raises(InvalidArgument):
        import_rootfs(store, io.BytesIO(bad), [unique()])
    assert state(store) == before


def test_bad_change_or_name_refused_before_any_work(store: ImageStore) -> None:
    before = state(store)
    with pytest.raises(InvalidArgument, match="RUN"):
        import_rootfs(store, io.BytesIO(tar_of({"a": b"a"})), [], ["RUN true"])
    with pytest.raises(InvalidArgument):
        import_rootfs(store, io.BytesIO(tar_of({"a": b"a"})), ["Bad/Name"])
    assert state(store) == before
