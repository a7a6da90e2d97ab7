"""``docker push``: an image of the ``ImageStore`` to a registry.

The layer blobs pushed are gzip-compressed tars. When the image came with a manifest
whose config is this image's and whose layer blobs are all in the content store (a
pulled image, or one pushed before), that manifest and its blobs are pushed as they
are, so the image keeps its manifest digest. Otherwise each layer's tar is compressed
(deterministically: gzip without name, mtime 0) into the content store and kept as a
``layer`` blob of the image, and a Docker schema 2 manifest is written and kept.

Per layer, on a bounded thread pool: ``HEAD`` (the registry has it: "Layer already
exists"), else a cross-repository mount from another repository of the same registry
that this image came from or went to ("Mounted from …"), else an upload ("Pushing"
current/total, "Pushed"). Then the config, then the manifest under the tag; the answer
is the manifest digest, which is recorded as the image's RepoDigest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

from dockyard.errors import InvalidArgument, NotFound
from dockyard.registry import RegistryClient, Repository, blob_size, mount_blob, upload_blob
from dockyard.registry.manifests import (
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    IMAGE_MANIFESTS,
    docker_manifest,
    media_type_of,
    parse_manifest,
)
from dockyard.store import BlobRef, ImageRecord, LayerRecord
from dockyard.types.descriptor import Descriptor
from dockyard.types.digest import Digest
from dockyard.types.reference import Reference, parse_normalized

from .imagestore import ImageStore
from .layers import layer_tar
from .layertar.compression import CompressedWriter, Compression, media_type

MAX_WORKERS = 5  # as dockerd's max-concurrent-uploads


@dataclass(frozen=True)
class PushProgress:
    """One progress message: ``id`` is a layer's short digest ("" for none)."""

    id: str
    status: str
    current: int | None = None
    total: int | None = None


ProgressFn = Callable[[PushProgress], None]


@dataclass(frozen=True)
class PushResult:
    digest: Digest
    size: int  # of the manifest
    tag: str


def push(
    store: ImageStore,
    client: RegistryClient,
    name: str | Reference,
    progress: ProgressFn | None = None,
    *,
    chunk_size: int | None = None,
    max_workers: int = MAX_WORKERS,
) -> PushResult:
    """Push the image tagged ``name`` (``:latest`` when no tag is given)."""
    ref = parse_normalized(name) if isinstance(name, str) else name.with_default_tag()
    if ref.digest is not None or ref.tag is None:
        raise InvalidArgument(f"cannot push a digest reference: {ref.familiar}: push a tag")
    return _Push(store, client, ref, progress, chunk_size, max_workers).run()


class _Push:
    def __init__(
        self,
        store: ImageStore,
        client: RegistryClient,
        ref: Reference,
        progress: ProgressFn | None,
        chunk_size: int | None,
        max_workers: int,
    ) -> None:
        self.store = store
        self.ref = ref
        self.repo: Repository = client.repository(ref)
        self.chunk_size = chunk_size
        self.max_workers = max_workers
        self._progress = progress
        self._lock = threading.Lock()

    def report(self, item: PushProgress) -> None:
        if self._progress is not None:
            with self._lock:
                self._progress(item)

    def run(self) -> PushResult:
        ref, store = self.ref, self.store
        tag = ref.tag or "latest"
        full = f"{ref.name}:{tag}"
        try:
            image_id = store.metadata.resolve(full)
        except (NotFound, InvalidArgument):
            raise NotFound(
                f"an image does not exist locally with the tag: {ref.familiar}"
            ) from None
        self.report(PushProgress("", f"The push refers to repository [{ref.familiar_name}]"))
        image = store.image(image_id)
        raw, mtype, layers = self._manifest(image)
        for desc in layers:
            self.report(PushProgress(desc.digest.hex[:12], "Preparing"))
        sources = self._mount_sources(image)
        with ThreadPoolExecutor(self.max_workers, thread_name_prefix="push") as pool:
            jobs = [pool.submit(self._blob, d, sources, True) for d in layers]
            for desc in layers:
                self.report(PushProgress(desc.digest.hex[:12], "Waiting"))
            errors = [e for e in (j.exception() for j in jobs) if e is not None]
        if errors:
            raise errors[0]
        config = Descriptor(DOCKER_CONFIG, image.config, store.content.size(image.config))
        self._blob(config, sources, False)
        digest = self.repo.put_manifest(tag, raw, mtype)
        with store.lock:
            store.metadata.tag(f"{ref.name}@{digest}", image.id)
        self.report(PushProgress("", f"{tag}: digest: {digest} size: {len(raw)}"))
        return PushResult(digest, len(raw), tag)

    def _manifest(self, image: ImageRecord) -> tuple[bytes, str, Sequence[Descriptor]]:
        """(manifest bytes, media type, layer descriptors) to push."""
        store = self.store
        for blob in image.blobs:
            if blob.kind != "manifest" or not store.content.exists(blob.digest):
                continue
            raw = store.content.read(blob.digest)
            try:
                mtype = media_type_of(raw, "")
                if mtype not in IMAGE_MANIFESTS:
                    continue
                manifest = parse_manifest(raw, mtype, f"image {image.id.short}")
            except (InvalidArgument, NotFound):
                continue
            if manifest.config.digest == image.config and all(
                store.content.exists(d.digest) for d in manifest.layers
            ):
                return raw, mtype, manifest.layers
        layers = [self._compress(layer) for layer in store.layers_of(image)]
        config = Descriptor(DOCKER_CONFIG, image.config, store.content.size(image.config))
        raw = docker_manifest(config, layers)
        with store.lock:
            digest = store.content.ingest(raw, media_type=DOCKER_MANIFEST).digest
            blobs = [BlobRef(d.digest, "layer") for d in layers] + [BlobRef(digest, "manifest")]
            store.metadata.add_image(image.id, image.layers, image.size, blobs=blobs)
        return raw, DOCKER_MANIFEST, layers

    def _compress(self, layer: LayerRecord) -> Descriptor:
        with self.store.content.writer() as out:
            writer = CompressedWriter(out, Compression.GZIP)
            layer_tar(self.store, layer, writer)
            result = writer.close()
            if result.diff_id != str(layer.diff_id):
                raise InvalidArgument(
                    f"layer {layer.chain_id.short}: its tar hashes to {result.diff_id}, "
                    f"not to its diff id {layer.diff_id}"
                )
            mtype = media_type(Compression.GZIP, docker=True)
            desc = out.commit(mtype)
        return Descriptor(mtype, desc.digest, desc.size)

    def _mount_sources(self, image: ImageRecord) -> list[str]:
        """Other repositories of the same registry that have this image's blobs."""
        out = []
        for name in image.names:
            try:
                other = Reference.parse(name)
            except InvalidArgument:
                continue
            if other.domain == self.ref.domain and other.path != self.ref.path:
                out.append(other.path)
        return list(dict.fromkeys(out))

    def _blob(self, desc: Descriptor, sources: Sequence[str], is_layer: bool) -> None:
        short = desc.digest.hex[:12]
        if blob_size(self.repo, desc.digest) is not None:
            if is_layer:
                self.report(PushProgress(short, "Layer already exists"))
            return
        for source in sources:
            if mount_blob(self.repo, desc.digest, source):
                if is_layer:
                    self.report(PushProgress(short, f"Mounted from {source}"))
                return

        def opener() -> BinaryIO:
            return self.store.content.open(desc.digest)

        def on_bytes(done: int) -> None:
            if is_layer:
                self.report(PushProgress(short, "Pushing", done, desc.size))

        upload_blob(self.repo, desc, opener, self.chunk_size, on_bytes)
        if is_layer:
            self.report(PushProgress(short, "Pushed"))


__all__ = ["MAX_WORKERS", "ProgressFn", "PushProgress", "PushResult", "push"]
