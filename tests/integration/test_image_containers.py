"""Container file systems on overlay and vfs: prepare, write, diff, commit, export."""

from __future__ import annotations

import io
import os

import pytest

from dockyard.errors import Conflict
from dockyard.images.base import ensure_base_image
from dockyard.images.changes import container_changes
from dockyard.images.commit import commit_container
from dockyard.images.config import load_config
from dockyard.images.export import export_container
from dockyard.images.history import image_history
from dockyard.images.imagestore import ImageStore
from dockyard.images.inspect import inspect_image
from dockyard.images.listing import disk_usage, layer_tree, list_images
from dockyard.images.rootfs import prepare_container, remove_container
from dockyard.testing.names import unique

from .imagestores import member_bytes, mounted, names_in, state, store

__all__ = ["store"]
pytestmark = pytest.mark.requires("root")

EXPECTED = {
    "A /data",
    "A /data/f",
    "A /new",
    "C /bin",
    "D /bin/ls",
    "C /etc",
    "C /etc/passwd",
}


def _write(root: str) -> None:
    with open(os.path.join(root, "new"), "w") as f:
        f.write("new\n")
    with open(os.path.join(root, "etc/passwd"), "a") as f:
        f.write("dyt:x:1000:1000::/:/bin/sh\n")
    os.unlink(os.path.join(root, "bin/ls"))
    os.mkdir(os.path.join(root, "data"))
    with open(os.path.join(root, "data/f"), "w") as f:
        f.write("f\n")


def test_container_diff_commit_history_export(store: ImageStore) -> None:
    base_id = ensure_base_image(store)
    cid = unique("ctr")
    prepare_container(store, cid, "busybox")
    with pytest.raises(Conflict):
        prepare_container(store, cid, "busybox")
    try:
        with mounted(store, cid) as root:
            assert os.path.islink(root / "bin/sh")
            _write(str(root))
        assert {str(c) for c in container_changes(store, cid)} == EXPECTED

        out = io.BytesIO()
        export_container(store, cid, out)
        names = names_in(out.getvalue())
        assert {"new", "data/f", "etc/passwd", "bin/busybox"} <= set(names)
        assert "bin/ls" not in names and not any(".wh." in n for n in names)
        assert member_bytes(out.getvalue(), "etc/passwd").endswith(b"dyt:x:1000:1000::/:/bin/sh\n")

        tag = f"{unique()}:committed"
        new_id = commit_container(
            store,
            cid,
            [tag],
            ['CMD ["cat", "/new"]', "ENV DYT=1"],
            author="dyt",
            message="dyt commit",
        )
        doc = inspect_image(store, tag)
        assert doc["Parent"] == base_id
        assert doc["Author"] == "dyt" and doc["Comment"] == "dyt commit"
        assert doc["Config"]["Cmd"] == ["cat", "/new"]
        assert "DYT=1" in doc["Config"]["Env"]
        assert len(doc["RootFS"]["Layers"]) == 2
        history = image_history(store, tag)
        assert history[0].comment == "dyt commit"
        assert history[0].id == new_id and history[0].tags == (tag,)
        assert len(history) == len(load_config(store, store.image(tag))["history"]) == 3

        # a container of the committed image sees the changes
        cid2 = unique("ctr")
        prepare_container(store, cid2, tag)
        try:
            assert container_changes(store, cid2) == []
            with mounted(store, cid2) as root2:
                assert (root2 / "new").read_text() == "new\n"
                assert (root2 / "data/f").read_text() == "f\n"
                assert not os.path.lexists(root2 / "bin/ls")
                assert os.path.lexists(root2 / "bin/cat")
        finally:
            remove_container(store, cid2)
        summaries = list_images(store)
        assert {s.id for s in summaries} == {base_id, new_id}
        assert list_images(store, filters={"since": ["busybox"]})[0].id == new_id
        assert [s.id for s in list_images(store, filters={"before": [tag]})] == [base_id]
        assert new_id[7:19] in layer_tree(store)
        usage = disk_usage(store)
        assert usage.images == 2 and usage.active == 1
    finally:
        remove_container(store, cid)
    assert state(store)["containers"] == []


def test_prepare_on_missing_image_changes_nothing(store: ImageStore) -> None:
    ensure_base_image(store)
    before = state(store)
    with pytest.raises(Exception, match="no such image"):
        prepare_container(store, unique("ctr"), "dyt-missing:latest")
    assert state(store) == before
