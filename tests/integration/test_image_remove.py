"""``rmi`` and prune semantics on overlay and vfs, and refusals that change nothing."""

from __future__ import annotations

import io

import pytest

from dockyard.errors import Conflict, NotFound
from dockyard.images.base import ensure_base_image
from dockyard.images.commit import commit_container
from dockyard.images.imagestore import ImageStore
from dockyard.images.importing import import_rootfs
from dockyard.images.remove import prune_images, remove_image
from dockyard.images.rootfs import prepare_container, remove_container
from dockyard.testing.names import unique

from .imagestores import mounted, state, store, tar_of

__all__ = ["store"]
pytestmark = pytest.mark.requires("root")


def test_untag_versus_delete(store: ImageStore) -> None:
    empty = state(store)
    a, b = f"{unique()}:a", f"{unique()}:b"
    image_id = import_rootfs(store, io.BytesIO(tar_of({"f": b"f"})), [a, b])
    removed = remove_image(store, a)
    assert removed.untagged == (f"docker.io/library/{a}",) and removed.deleted == ()
    assert str(store.image(b).id) == image_id
    removed = remove_image(store, b)
    assert removed.deleted[0] == image_id
    assert state(store) == empty  # layer, snapshot, config and layer tar all gone


def test_refusals_leave_the_store_as_before(store: ImageStore) -> None:
    ensure_base_image(store)
    cid = unique("ctr")
    prepare_container(store, cid, "busybox")
    other = f"{unique()}:x"
    image_id = import_rootfs(store, io.BytesIO(tar_of({"g": b"g"})), [other, f"{unique()}:y"])
    try:
        before = state(store)
        with pytest.raises(Conflict, match="must force"):
            remove_image(store, "busybox")
        with pytest.raises(Conflict, match="must be forced"):
            remove_image(store, str(store.image("busybox").id))
        with pytest.raises(Conflict, match="multiple repositories"):
            remove_image(store, image_id)
        with pytest.raises(NotFound):
            remove_image(store, "dyt-missing")
        assert state(store) == before
        # forced, as in Docker: the image goes, the container keeps its layers
        base_id = str(store.image("busybox").id)
        removed = remove_image(store, "busybox", force=True)
        assert removed.untagged and removed.deleted[0] == base_id
        [ctr] = store.metadata.list_containers()
        assert ctr.image_id is None
        assert ctr.layer is not None and store.metadata.get_layer(ctr.layer) is not None
        with mounted(store, cid) as root:
            assert (root / "bin/busybox").exists()
        assert remove_image(store, image_id, force=True).deleted[0] == image_id
    finally:
        remove_container(store, cid)


def test_dependent_child_and_dangling_parents(store: ImageStore) -> None:
    base_id = ensure_base_image(store)
    cid = unique("ctr")
    prepare_container(store, cid, "busybox")
    child = f"{unique()}:child"
    try:
        child_id = commit_container(store, cid, [child])
    finally:
        remove_container(store, cid)
    before = state(store)
    with pytest.raises(Conflict, match="dependent child"):
        remove_image(store, base_id, force=True)
    assert state(store) == before
    # untag the base: it becomes dangling but stays (the child needs its layer)
    remove_image(store, "busybox")
    assert store.metadata.get_image(store.image(base_id).id).names == ()
    removed = remove_image(store, child)
    assert child_id in removed.deleted
    assert len(store.metadata.list_layers()) == 1  # the base layer is still the base's
    pruned = prune_images(store)
    assert [r.deleted[0] for r in pruned.deleted] == [base_id]
    after = state(store)
    assert after["images"] == after["layers"] == after["snapshots"] == after["blobs"] == []
