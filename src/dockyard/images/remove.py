"""``docker rmi`` and ``docker image prune``: untag versus delete, and what goes with it.

Rules (Docker's, see ``remove_image``): a name that is one of several only loses that
name; the last name of an image, or an id, deletes the image, then every layer and blob
that nothing uses any more. Refused, with the store left exactly as it was (every
check runs before the first change): deleting an image a container uses without
``force`` (forced, the image goes and the container keeps its layers, as in Docker; the
image of a *running* container never goes: forced, its last name is only untagged), an
id tagged in several repositories without ``force``, and an id of an image that a
committed child image names as its parent (never forced; its last name can go, the
image stays).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.store import ImageRecord, LayerRecord, release_layers
from dockyard.types.digest import Digest

from .imagestore import ImageStore
from .names import familiar_name, normalize_name, repository_of

PARENT_BLOB = "parent"  # BlobRef kind: the image a commit was made from


@dataclass(frozen=True)
class Removed:
    """What one removal did: names untagged, then image ids and layers deleted."""

    untagged: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    bytes_freed: int = 0

    def docker(self) -> list[dict[str, str]]:
        """The ``DELETE /images/{name}`` answer: ``[{"Untagged": ...}, {"Deleted": ...}]``."""
        return [{"Untagged": familiar_name(n)} for n in self.untagged] + [
            {"Deleted": d} for d in self.deleted
        ]


def children(store: ImageStore, image_id: Digest) -> list[ImageRecord]:
    """Images committed on top of ``image_id``."""
    return [
        i
        for i in store.metadata.list_images()
        if any(b.kind == PARENT_BLOB and b.digest == image_id for b in i.blobs)
    ]


def users(store: ImageStore, image_id: Digest) -> list[str]:
    return [c.id for c in store.metadata.list_containers() if c.image_id == image_id]


def _as_name(store: ImageStore, ref: str) -> str | None:
    """The normalized ref name if ``ref`` names a tag that exists."""
    try:
        name = normalize_name(ref)
    except InvalidArgument:
        return None
    refs = {n for n, _ in store.metadata.refs()}
    return name if name in refs else None


def _orphaned_digests(names: Collection[str], name: str) -> list[str]:
    """Docker's rule: when the last tag of a repository goes, that repository's digest
    references (``repo@sha256:…``, from a pull or push) go with it."""
    if "@" in name:
        return []
    repo = repository_of(name)
    others = [n for n in names if n != name and repository_of(n) == repo]
    if any("@" not in n for n in others):
        return []
    return others


def remove_image(
    store: ImageStore,
    ref: str,
    *,
    force: bool = False,
    prune: bool = True,
    running: Collection[str] = (),
) -> Removed:
    """Remove the name or the image ``ref`` names (see the module doc); ``running``: the
    ids of the running containers (their image cannot go, not even forced)."""
    with store.lock:
        name = _as_name(store, ref)
        image = store.image(ref)
        in_use = users(store, image.id)
        live = [cid for cid in in_use if cid in running]
        digests = _orphaned_digests(image.names, name) if name is not None else []
        if name is not None and len(image.names) > 1 + len(digests):
            for n in (name, *digests):
                store.metadata.untag(n)
            return Removed(untagged=(name, *digests))
        if name is not None and in_use and not force:
            raise Conflict(
                f'conflict: unable to remove repository reference "{ref}" (must force) - '
                f"container {in_use[0][:12]} is using its referenced image {image.id.short}"
            )
        if name is not None and live:
            # dockerd: forced, the last name goes and the image stays for the running
            # container, quietly (the hard conflict is not reported after an untag)
            store.metadata.untag(name)
            return Removed(untagged=(name,))
        if name is None and live:
            raise Conflict(
                f"conflict: unable to delete {image.id.short} (cannot be forced) - image is"
                f" being used by running container {live[0][:12]}"
            )
        if name is None and in_use and not force:
            raise Conflict(
                f"conflict: unable to delete {image.id.short} (must be forced) - image is"
                f" being used by stopped container {in_use[0][:12]}"
            )
        if name is None and not force and len({repository_of(n) for n in image.names}) > 1:
            raise Conflict(
                f"unable to delete {image.id.short} (must be forced) - image is referenced in"
                " multiple repositories"
            )
        dependents = children(store, image.id)
        if dependents and name is not None:
            # Docker: the last name of a parent image goes, the image stays for its child
            store.metadata.untag(name)
            return Removed(untagged=(name,))
        if dependents:
            raise Conflict(
                f"unable to delete {image.id.short} (cannot be forced) - image has dependent"
                f" child images ({dependents[0].id.short}); remove those first"
            )
        # forced past a stopped container that uses it, the image goes and the container
        # keeps its layers, as in Docker
        return _delete(store, image, prune=prune, detach=bool(in_use))


def _delete(store: ImageStore, image: ImageRecord, *, prune: bool, detach: bool = False) -> Removed:
    for n in image.names:
        store.metadata.untag(n)
    store.metadata.remove_image(image.id, detach_containers=detach)
    deleted = [str(image.id)]
    freed = 0
    if prune:
        layers, freed = release_unused(
            store, image.layers, [image.config, *(b.digest for b in image.blobs)]
        )
        deleted += [str(c) for c in layers]
    return Removed(untagged=image.names, deleted=tuple(deleted), bytes_freed=freed)


def release_unused(
    store: ImageStore, layers: Iterable[Digest], blobs: Iterable[Digest]
) -> tuple[list[Digest], int]:
    """Remove those of ``layers`` (and their parents) and ``blobs`` nothing uses.

    Answers the chain ids removed and the bytes of blobs deleted.
    """
    wanted = set(layers)
    # a dead layer's parents die with it when nothing else holds them
    for chain in list(wanted):
        layer = _layer(store, chain)
        while layer is not None and layer.parent is not None:
            wanted.add(layer.parent)
            layer = _layer(store, layer.parent)
    garbage = store.metadata.garbage()
    dead = [layer for layer in garbage.layers if layer.chain_id in wanted]
    released = release_layers(store.metadata, dead, lambda key: _remove_snapshot(store, key))
    gone = set(released)
    candidates = set(blobs) | {layer.diff_id for layer in dead if layer.chain_id in gone}
    # a layer's tar stays while any remaining layer has the same diff id
    live_diffs = {layer.diff_id for layer in store.metadata.list_layers()}
    freed = 0
    for digest in store.metadata.garbage(candidates).blobs:
        if digest in live_diffs:
            continue
        try:
            size = store.content.size(digest)
            store.content.delete(digest)
        except NotFound:
            continue
        freed += size
    return released, freed


def _layer(store: ImageStore, chain: Digest) -> LayerRecord | None:
    try:
        return store.metadata.get_layer(chain)
    except NotFound:
        return None


def _remove_snapshot(store: ImageStore, key: str) -> None:
    try:
        store.snapshotter.remove(key)
    except NotFound:
        pass


@dataclass(frozen=True)
class Pruned:
    deleted: tuple[Removed, ...]
    bytes_freed: int


def prune_images(
    store: ImageStore,
    *,
    all_images: bool = False,
    select: Callable[[ImageRecord], bool] | None = None,
) -> Pruned:
    """Remove dangling images (``all_images``: every image no container uses).

    ``select`` narrows the candidates further (the API's ``label`` and ``until`` filters).
    """
    done: list[Removed] = []
    with store.lock:
        used = {c.image_id for c in store.metadata.list_containers()}
        # children before parents, so a parent is free when its turn comes
        images = sorted(store.metadata.list_images(), key=lambda i: len(i.layers), reverse=True)
        for image in images:
            if image.id in used or (image.names and not all_images):
                continue
            if select is not None and not select(image):
                continue
            if children(store, image.id):
                continue
            try:
                store.metadata.get_image(image.id)
            except NotFound:
                continue
            done.append(_delete(store, store.metadata.get_image(image.id), prune=True))
    return Pruned(tuple(done), sum(r.bytes_freed for r in done))
