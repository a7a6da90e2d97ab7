"""Image archives: ``save`` images to a tar stream, ``load`` them back (``docker save``/
``docker load``).

Two formats: ``"docker"`` (docker-archive, ``archive.docker``) and ``"oci"`` (an OCI image
layout in a tar, ``archive.oci``). ``load`` tells them apart by their files: an OCI layout
has ``oci-layout`` and ``index.json``, a docker-archive has ``manifest.json``; when an
archive has both (Docker 25+), the OCI index is followed.

Loading is all or nothing. The archive is read once, its blobs streamed into the content
store as they come (``archive.tarstream.stage``) and checked against their digests; then every
image is checked (configs, layer lists, missing blobs, diff ids of plain layers) before
the first layer is registered. If anything fails, the layers and images this load added
are removed again, and so are the blobs it created that no image references: the store
is left as it was. Config bytes are stored exactly as the archive has them, so an image
keeps its id across save and load.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, BinaryIO, Literal

from dockyard._internal import lazylog
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.images.config import OCI_CONFIG, parse_time
from dockyard.images.imagestore import ImageStore
from dockyard.images.layers import DIFF_BLOB, register_layer
from dockyard.images.layertar.compression import Compression, detect
from dockyard.images.names import familiar_name, normalize_tag
from dockyard.store import BlobRef, LayerRecord, next_chain_id, release_layers
from dockyard.types.digest import Digest

from . import docker, oci
from .plan import ImagePlan, SaveImage, config_diff_ids
from .tarstream import ArchiveWriter, Staged, parse_json, stage

log = lazylog.getLogger(__name__)

Format = Literal["docker", "oci"]
FORMATS: tuple[Format, ...] = ("docker", "oci")


# -- save ----------------------------------------------------------------------------


def save(store: ImageStore, names: Sequence[str], out: IO[bytes], fmt: Format = "docker") -> None:
    """Write the images ``names`` (names, ids or id prefixes) to ``out`` as one archive.

    Names of the same image are grouped into one entry; an image asked for by id is
    saved without names. NotFound before anything is written if a name is unknown.
    """
    if fmt not in FORMATS:
        raise InvalidArgument(f"unknown archive format {fmt!r}: use docker or oci")
    if not names:
        raise InvalidArgument("nothing to save: name at least one image")
    images = _resolve(store, names)
    writer = ArchiveWriter(out, store)
    if fmt == "docker":
        docker.write(writer, images)
    else:
        oci.write(writer, images)
    writer.close()


def _resolve(store: ImageStore, names: Sequence[str]) -> list[SaveImage]:
    order: list[Digest] = []
    tags: dict[Digest, list[str]] = {}
    for name in names:
        image_id = store.resolve(name)
        if image_id not in tags:
            order.append(image_id)
            tags[image_id] = []
        try:
            full = normalize_tag(name)
        except InvalidArgument:
            continue
        if store.metadata.refs(image_id).count((full, image_id)) and full not in tags[image_id]:
            tags[image_id].append(full)
    images = []
    for image_id in order:
        record = store.image(image_id)
        config = store.content.read(record.config)
        diff_ids = config_diff_ids(parse_json(config, "config"), f"image {image_id.short}")
        layers = tuple(store.layers_of(record))
        if len(diff_ids) != len(layers):
            raise InvalidArgument(
                f"image {image_id.short}: its config lists {len(diff_ids)} layers, "
                f"the store {len(layers)}"
            )
        images.append(SaveImage(record, layers, config, tuple(diff_ids), tuple(tags[image_id])))
    return images


# -- load ----------------------------------------------------------------------------


def load(store: ImageStore, stream: BinaryIO) -> list[str]:
    """Load every image of the archive read from ``stream``; answer what was loaded:
    ``name:tag`` (familiar form) per name, the image id for an image without names.

    InvalidArgument for what is not an image archive or is corrupt (digest mismatch,
    truncation), NotFound when the archive lacks a blob it names; the store is then
    unchanged.
    """
    staged = Staged(store.content, known=set(store.content.digests()))
    try:
        stage(store.content, stream, staged)
        plans = _plans(staged)
        with store.lock:
            loaded = _Loader(store, staged.created).run(plans)
    finally:
        _drop_unreferenced(store, staged.created)
    return loaded


def _plans(staged: Staged) -> list[ImagePlan]:
    if staged.has(oci.INDEX) and staged.has(oci.LAYOUT):
        plans = oci.plan(staged)
    elif staged.has(docker.MANIFEST):
        plans = docker.plan(staged)
    elif staged.has(docker.REPOSITORIES):
        raise InvalidArgument(
            "not an image archive: a legacy archive without manifest.json "
            "(Docker < 1.10) is not supported"
        )
    else:
        raise InvalidArgument("not an image archive: it has neither manifest.json nor index.json")
    for image in plans:
        for blob, diff_id in zip(image.layers, image.diff_ids, strict=True):
            _check_plain_layer(staged, blob, diff_id)
    return plans


def _check_plain_layer(staged: Staged, blob: Digest, diff_id: Digest) -> None:
    """An uncompressed layer's digest is its diff id: check it before any unpacking."""
    with staged.content.open(blob) as f:
        head = f.read(4)
    if detect(head) is Compression.NONE and blob != diff_id:
        raise InvalidArgument(
            f"invalid image archive: digest mismatch: layer {blob} is listed as {diff_id}"
        )


def _drop_unreferenced(store: ImageStore, created: set[Digest]) -> None:
    """Remove the blobs this load created that no image references (staged layers that
    were unpacked, and everything after a failure)."""
    if not created:
        return
    for digest in store.metadata.garbage(created).blobs:
        try:
            store.content.delete(digest)
        except NotFound:
            pass


class _Loader:
    """Registers the layers, images and names of checked plans; undoes them on failure."""

    def __init__(self, store: ImageStore, created: set[Digest]) -> None:
        self.store = store
        self.created = created  # new blobs: the layer tars register_layer keeps join it
        self.new_layers: list[LayerRecord] = []
        self.new_images: list[Digest] = []
        self.old_tags: list[tuple[str, Digest | None]] = []

    def run(self, plans: Sequence[ImagePlan]) -> list[str]:
        try:
            stacks = [self._layers(p) for p in plans]
            ids = [self._image(p, layers) for p, layers in zip(plans, stacks, strict=True)]
            loaded: list[str] = []
            for image, image_id in zip(plans, ids, strict=True):
                for name in image.names:
                    self.old_tags.append((name, self.store.metadata.tag(name, image_id)))
                    loaded.append(familiar_name(name))
                if not image.names:
                    loaded.append(str(image_id))
            return loaded
        except BaseException:
            self._undo()
            raise

    def _layer(self, chain: Digest) -> LayerRecord | None:
        try:
            return self.store.metadata.get_layer(chain)
        except NotFound:
            return None

    def _layers(self, image: ImagePlan) -> list[LayerRecord]:
        parent: LayerRecord | None = None
        stack = []
        for blob, diff_id in zip(image.layers, image.diff_ids, strict=True):
            chain = next_chain_id(None if parent is None else parent.chain_id, diff_id)
            layer = self._layer(chain)
            if layer is None:
                plain = blob == diff_id  # the staged blob is the layer tar already
                with self.store.content.open(blob) as f:
                    layer = register_layer(self.store, parent, f, keep_tar=not plain)
                self.new_layers.append(layer)
                self.created.add(layer.diff_id)
                if layer.diff_id != diff_id:
                    raise InvalidArgument(
                        f"invalid image archive: digest mismatch: layer {blob} unpacks to "
                        f"{layer.diff_id}, the config says {diff_id}"
                    )
            stack.append(layer)
            parent = layer
        return stack

    def _image(self, image: ImagePlan, layers: Sequence[LayerRecord]) -> Digest:
        store = self.store
        config = store.content.ingest(image.config, media_type=OCI_CONFIG).digest
        try:
            store.metadata.get_image(config)
        except NotFound:
            self.new_images.append(config)
        blobs = [BlobRef(x.diff_id, DIFF_BLOB) for x in layers if store.content.exists(x.diff_id)]
        created = parse_json(image.config, "config").get("created")
        try:
            when = parse_time(created) if isinstance(created, str) else None
        except InvalidArgument:
            when = None
        store.metadata.add_image(
            config,
            [x.chain_id for x in layers],
            sum(x.size for x in layers),
            blobs=blobs,
            created=when,
        )
        return config

    def _undo(self) -> None:
        metadata = self.store.metadata
        try:
            for name, old in reversed(self.old_tags):
                if old is None:
                    metadata.untag(name)
                else:
                    metadata.tag(name, old)
            for image_id in self.new_images:
                metadata.remove_image(image_id)
            release_layers(metadata, reversed(self.new_layers), self._remove_snapshot)
        except DockyardError as e:
            log.warning("cannot undo a failed load completely: %s", e)

    def _remove_snapshot(self, key: str) -> None:
        try:
            self.store.snapshotter.remove(key)
        except NotFound:
            pass


__all__ = ["FORMATS", "Format", "load", "save"]
