"""``docker pull``: an image from a registry into the ``ImageStore``.

``Puller.pull`` resolves the reference's manifest (choosing the host's platform from a
manifest list or OCI index; schema 1 is refused), then fetches the config and the
layer blobs into the content store on a bounded thread pool, each download checked
against its digest and resumed with HTTP Range when the connection drops. Layers the
store has already (same chain id) are skipped; two pulls through one ``Puller`` that
need the same blob share one download. The checked blobs are then registered through
the very path ``docker load`` uses (``archive._Loader``): layers unpacked into the
snapshotter, the image row, the tag and the RepoDigest (``name@<manifest digest>``).

Nothing half-written stays: a failure undoes the layers and image rows this pull
added, and the blobs it downloaded that no image references are removed.

Progress is reported as plain ``PullProgress`` values (Docker's statuses: "Pulling fs
layer", "Waiting", "Downloading" with current/total, "Verifying Checksum", "Download
complete", "Already exists", "Extracting", "Pull complete", then "Digest: …" and
"Status: …"); the callback is called from one thread at a time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.registry import RegistryClient, Repository, fetch_blob
from dockyard.registry.manifests import (
    INDEXES,
    Manifest,
    Platform,
    parse_index,
    parse_manifest,
    refuse_schema1,
    select_manifest,
)
from dockyard.store import BlobRef, next_chain_id
from dockyard.types.descriptor import Descriptor
from dockyard.types.digest import Digest
from dockyard.types.reference import Reference, parse_normalized

from .archive import _drop_unreferenced, _Loader
from .archive.plan import ImagePlan, config_diff_ids
from .imagestore import ImageStore

MAX_WORKERS = 3  # as dockerd's max-concurrent-downloads
PROGRESS_STEP = 512 * 1024


@dataclass(frozen=True)
class PullProgress:
    """One progress message: ``id`` is a layer's short digest or the tag ("" for none)."""

    id: str
    status: str
    current: int | None = None
    total: int | None = None


ProgressFn = Callable[[PullProgress], None]


@dataclass(frozen=True)
class PullResult:
    image_id: Digest
    digest: Digest  # of the manifest (or index) the reference named
    name: str  # the normalized reference that was pulled
    up_to_date: bool


class Puller:
    """Pulls into one store; share one per store so that equal blobs download once."""

    def __init__(
        self, store: ImageStore, client: RegistryClient, max_workers: int = MAX_WORKERS
    ) -> None:
        self.store = store
        self.client = client
        self.max_workers = max_workers
        self._inflight: dict[Digest, Future[bool]] = {}
        self._lock = threading.Lock()

    def pull(
        self,
        reference: str | Reference,
        progress: ProgressFn | None = None,
        platform: Platform | None = None,
        client: RegistryClient | None = None,
    ) -> PullResult:
        """Pull ``reference``; ``client`` replaces the puller's own for this pull (other
        credentials), downloads are still shared."""
        ref = parse_normalized(reference) if isinstance(reference, str) else reference
        return _Pull(self, ref, progress, platform or Platform.host(), client).run()

    def download(self, repo: Repository, desc: Descriptor, report: ProgressFn) -> bool:
        """Fetch ``desc`` into the content store (or wait for the pull fetching it);
        answer True when this call created the blob."""
        with self._lock:
            future = self._inflight.get(desc.digest)
            owner = future is None
            if future is None:
                future = self._inflight[desc.digest] = Future()
        if not owner:
            future.result()
            return False
        try:
            created = self._fetch(repo, desc, report)
        except BaseException as e:
            future.set_exception(e)
            raise
        finally:
            with self._lock:
                del self._inflight[desc.digest]
        future.set_result(created)
        return created

    def _fetch(self, repo: Repository, desc: Descriptor, report: ProgressFn) -> bool:
        short = desc.digest.hex[:12]
        content = self.store.content
        if content.exists(desc.digest):
            return False
        try:
            writer = content.writer(desc.digest, desc.size)
        except Conflict as e:
            raise Conflict(f"{e} (another process is pulling it)") from e
        with writer:
            if writer.complete:
                return False

            shown = [-PROGRESS_STEP]

            def on_bytes(done: int) -> None:
                # as dockerd: an update per PROGRESS_STEP bytes, and the last one
                if done - shown[0] >= PROGRESS_STEP or done == desc.size:
                    shown[0] = done
                    report(PullProgress(short, "Downloading", done, desc.size))

            fetch_blob(repo, desc, writer, on_bytes)
            report(PullProgress(short, "Verifying Checksum"))
            try:
                writer.commit(desc.media_type)
            except InvalidArgument as e:
                raise InvalidArgument(
                    f"filesystem layer verification failed for digest {desc.digest}: {e}"
                ) from e
        return True


class _Pull:
    """One pull: resolve, download, register; undo on failure."""

    def __init__(
        self,
        puller: Puller,
        ref: Reference,
        progress: ProgressFn | None,
        platform: Platform,
        client: RegistryClient | None,
    ) -> None:
        self.puller = puller
        self.store = puller.store
        self.ref = ref
        self.platform = platform
        self.repo = (client or puller.client).repository(ref)
        self._progress = progress
        self._report_lock = threading.Lock()
        self.created: set[Digest] = set()

    def report(self, item: PullProgress) -> None:
        if self._progress is not None:
            with self._report_lock:
                self._progress(item)

    def run(self) -> PullResult:
        ref = self.ref
        top, manifest_raw, manifest, index_raw = self._resolve()
        # after the manifest, as dockerd: an unknown image or a refusal comes before any
        # progress, so the API can still answer it with an error status
        self.report(PullProgress(ref.tag or ref.digest or "", f"Pulling from {ref.path}"))
        before: Digest | None = None
        try:
            config, present = self._download(manifest)
            names = [f"{ref.name}:{ref.tag}"] if ref.tag else []
            names.append(f"{ref.name}@{top}")
            diff_ids = config_diff_ids(json.loads(config), f"image {ref}")
            if len(diff_ids) != len(manifest.layers):
                raise InvalidArgument(
                    f"image {ref}: the manifest lists {len(manifest.layers)} layers, "
                    f"the config {len(diff_ids)}"
                )
            layer_digests = tuple(d.digest for d in manifest.layers)
            plan = ImagePlan(config, layer_digests, tuple(diff_ids), tuple(names))
            # as dockerd: "up to date" when the name pointed at this image already
            before = self._points_at(names[0])
            image_id = self._register(plan, manifest, manifest_raw, index_raw, present)
        finally:
            _drop_unreferenced(self.store, self.created)
        self.report(PullProgress("", f"Digest: {top}"))
        up_to_date = before == image_id
        status = "Image is up to date for" if up_to_date else "Downloaded newer image for"
        self.report(PullProgress("", f"Status: {status} {ref.familiar}"))
        return PullResult(image_id, top, str(ref), up_to_date)

    def _points_at(self, name: str) -> Digest | None:
        try:
            return self.store.metadata.resolve(name)
        except (NotFound, InvalidArgument):
            return None

    def _resolve(self) -> tuple[Digest, bytes, Manifest, bytes | None]:
        where = f"image {self.ref.familiar}"
        fetched = self.repo.get_manifest(self.ref.reference)
        refuse_schema1(fetched.media_type, where)
        index_raw = None
        raw, media_type = fetched.raw, fetched.media_type
        if media_type in INDEXES:
            index_raw = raw
            entries = parse_index(raw, media_type, where)
            chosen = select_manifest(entries, self.platform, where)
            inner = self.repo.get_manifest(str(chosen.digest))
            if inner.digest != chosen.digest:
                raise InvalidArgument(f"{where}: manifest {chosen.digest} has another digest")
            raw, media_type = inner.raw, inner.media_type
        return fetched.digest, raw, parse_manifest(raw, media_type, where), index_raw

    def _download(self, manifest: Manifest) -> tuple[bytes, set[Digest]]:
        """Fetch config and missing layers; answer the config bytes and the layers
        skipped because their chain is in the store already."""
        for desc in manifest.layers:
            self.report(PullProgress(desc.digest.hex[:12], "Pulling fs layer"))
        present: set[Digest] = set()
        with ThreadPoolExecutor(self.puller.max_workers, thread_name_prefix="pull") as pool:
            config_job = pool.submit(self._get, manifest.config, quiet=True)
            jobs = [
                pool.submit(self._layer, manifest, i, config_job, present)
                for i in range(len(manifest.layers))
            ]
            for desc in manifest.layers:
                self.report(PullProgress(desc.digest.hex[:12], "Waiting"))
            errors = []
            for job in [config_job, *jobs]:
                try:
                    job.result()
                except BaseException as e:
                    errors.append(e)
            if errors:
                raise errors[0]
        return self.store.content.read(manifest.config.digest), present

    def _get(self, desc: Descriptor, *, quiet: bool = False) -> None:
        """Download one blob; the config's download is not shown (as Docker)."""
        report = _silent if quiet else self.report
        if self.puller.download(self.repo, desc, report):
            self.created.add(desc.digest)

    def _layer(
        self, manifest: Manifest, i: int, config_job: Future[None], present: set[Digest]
    ) -> None:
        desc = manifest.layers[i]
        short = desc.digest.hex[:12]
        config_job.result()
        doc = json.loads(self.store.content.read(manifest.config.digest))
        diff_ids = config_diff_ids(doc, f"image {self.ref}")
        if len(diff_ids) > i and self._chain_known(diff_ids[: i + 1]):
            present.add(desc.digest)
            self.report(PullProgress(short, "Already exists"))
            return
        self._get(desc)
        self.report(PullProgress(short, "Download complete"))

    def _chain_known(self, diff_ids: list[Digest]) -> bool:
        chain: Digest | None = None
        for diff_id in diff_ids:
            chain = next_chain_id(chain, diff_id)
        assert chain is not None
        try:
            self.store.metadata.get_layer(chain)
        except NotFound:
            return False
        return True

    def _register(
        self,
        plan: ImagePlan,
        manifest: Manifest,
        manifest_raw: bytes,
        index_raw: bytes | None,
        present: set[Digest],
    ) -> Digest:
        store = self.store
        for desc in manifest.layers:
            if desc.digest not in present:
                self.report(PullProgress(desc.digest.hex[:12], "Extracting"))
        with store.lock:
            loader = _Loader(store, self.created)
            loader.run([plan])
            try:
                blobs = [BlobRef(self._keep(manifest_raw, manifest.media_type), "manifest")]
                if index_raw is not None:
                    blobs.append(BlobRef(self._keep(index_raw, "application/json"), "index"))
                blobs += [
                    BlobRef(d.digest, "layer")
                    for d in manifest.layers
                    if store.content.exists(d.digest)
                ]
                image = store.metadata.get_image(plan.id)
                store.metadata.add_image(plan.id, image.layers, image.size, blobs=blobs)
            except BaseException:
                loader._undo()
                raise
        for desc in manifest.layers:
            if desc.digest not in present:
                self.report(PullProgress(desc.digest.hex[:12], "Pull complete"))
        return plan.id

    def _keep(self, raw: bytes, media_type: str) -> Digest:
        digest = Digest.of_bytes(raw)
        if not self.store.content.exists(digest):
            self.store.content.ingest(raw, digest, media_type=media_type)
            self.created.add(digest)
        return digest


def _silent(_item: PullProgress) -> None:
    pass


__all__ = ["MAX_WORKERS", "ProgressFn", "PullProgress", "PullResult", "Puller"]
