"""``OverlaySnapshotter`` (the default driver): overlayfs layers, as Docker's overlay2.

Layout under the driver root::

    snapshots/<id>/fs        the layer's files (an active snapshot's upper dir)
    snapshots/<id>/work      overlayfs work dir of an active snapshot
    snapshots/flat-<id>/fs   cached merged view of committed <id> and all its ancestors
    l/<26 chars>             -> ../snapshots/<id>/fs, short names for lowerdir=
    metadata.json            the graph, link names, which flattened layers exist

An active snapshot mounts as overlay (lowers top first, upperdir, workdir), or as a rw bind
of its ``fs`` when it has no parent; a view of one layer is a read-only bind, of several a
lower-only (read-only) overlay. The classic ``lowerdir=`` string uses the short links; when
it would not fit in a page the mount carries one ``lowerdir+=`` option per layer and is
performed with the new mount API (Linux 6.8+). A chain deeper than overlayfs' 500-layer
stack is mounted on a flattened copy of its bottom part (see ``chain.flatten_depth``),
made once, kept, reused by every chain that shares it, dropped with its snapshot, and
never listed by ``walk``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from dockyard._internal import lazylog
from dockyard.errors import NotSupported

from .chain import (
    FLATTEN_STEP,
    MAX_LOWERS,
    classic_capacity,
    classic_options,
    classic_safe,
    flatten_depth,
    link_name,
    new_api_options,
    options_length,
    usable_cache,
)
from .driver import DriverBase
from .metadata import Record
from .mount import Mount, page_size
from .snapshotter import Kind, Usage
from .tree import copy_tree, disk_usage, remove_tree

log = lazylog.getLogger(__name__)

FLAT_PREFIX = "flat-"


class OverlaySnapshotter(DriverBase):
    name = "overlay"

    def __init__(
        self,
        root: Path,
        durable: bool = True,
        new_api: bool | None = None,
        max_lowers: int = MAX_LOWERS,
        flatten_step: int = FLATTEN_STEP,
    ) -> None:
        """``new_api`` None probes the kernel for ``lowerdir+`` support on first need."""
        super().__init__(root, durable)
        (self.root / "l").mkdir(exist_ok=True)
        self._new_api = new_api
        self.max_lowers = max_lowers
        self.flatten_step = flatten_step
        self._links: dict[str, str] = self.meta.extra.setdefault("links", {})
        self._flat: dict[str, int] = self.meta.extra.setdefault("flat", {})

    @property
    def new_api(self) -> bool:
        if self._new_api is None:
            from dockyard.kernel.newmount import overlay_lowerdir_plus

            self._new_api = overlay_lowerdir_plus()
        return self._new_api

    def flattened(self) -> dict[str, int]:
        """Committed snapshot name -> depth, for each cached flattened layer."""
        by_id = {r.id: r.key for r in self.meta.records()}
        return {by_id[i]: d for i, d in self._flat.items() if i in by_id}

    def _fs(self, id_: str) -> Path:
        return self.root / "snapshots" / id_ / "fs"

    def _link(self, id_: str) -> str:
        return str(self.root / "l" / self._links[id_])

    def _make_link(self, id_: str) -> None:
        name = link_name()
        os.symlink(f"../snapshots/{id_}/fs", self.root / "l" / name)
        self._links[id_] = name

    def _drop_link(self, id_: str) -> None:
        name = self._links.pop(id_, None)
        if name is not None:
            (self.root / "l" / name).unlink(missing_ok=True)

    # driver hooks

    def _create(self, id_: str, parent: Record | None, kind: Kind) -> None:
        path = self.root / "snapshots" / id_
        try:
            (path / "fs").mkdir(parents=True)
            if kind is Kind.ACTIVE:
                (path / "work").mkdir()
            self._make_link(id_)  # saved with the record by MetaStore.add
        except BaseException:
            self._drop_link(id_)
            remove_tree(path)
            raise

    def _mounts(self, rec: Record) -> list[Mount]:
        parents = self.meta.chain(rec.parent)
        fs = self._fs(rec.id)
        if rec.kind is Kind.ACTIVE:
            if not parents:
                return [Mount("bind", str(fs), ("rbind", "rw"))]
            return [self._overlay(parents, str(fs), str(fs.parent / "work"))]
        if not parents:
            return [Mount("bind", str(fs), ("rbind", "ro"))]
        return [self._overlay(parents, None, None)]

    def _commit(self, rec: Record) -> None:
        # the work dir only matters to a mounted upper; overlay leaves a 000-mode dir in it
        remove_tree(self.root / "snapshots" / rec.id / "work")

    def _discard(self, rec: Record) -> None:
        self._drop_link(rec.id)
        if self._flat.pop(rec.id, None) is not None:
            self._drop_link(FLAT_PREFIX + rec.id)
            remove_tree(self.root / "snapshots" / (FLAT_PREFIX + rec.id))
        self.meta.save()
        remove_tree(self.root / "snapshots" / rec.id)

    def _usage(self, rec: Record) -> Usage:
        return disk_usage(self._fs(rec.id))

    def _upper_dir(self, rec: Record) -> Path | None:
        return self._fs(rec.id) if rec.kind is Kind.ACTIVE else None

    # mounts of a chain of committed layers

    def _overlay(self, chain: list[Record], upper: str | None, work: str | None) -> Mount:
        """The mount of ``chain`` (top first) under ``upper``, read-only without one."""
        layers = self._layers(chain, upper, work)
        ro = () if upper is not None else ("ro",)
        if upper is None and len(layers) == 1:
            return Mount("bind", str(self._fs(layers[0])), ("rbind", "ro"))
        links = [self._link(i) for i in layers]
        classic = classic_options(links, upper, work)
        paths = [*links, upper or "", work or ""]
        if classic_safe(paths) and options_length(classic) <= page_size():
            return Mount("overlay", "overlay", classic + ro)
        if self.new_api:
            return Mount("overlay", "overlay", new_api_options(links, upper, work) + ro)
        raise NotSupported(
            f"cannot mount {len(layers)} layers from {self.root}: the lowerdir option exceeds"
            " a page and this kernel lacks overlayfs lowerdir+ (Linux 6.8+); use a shorter"
            " data-root path or fewer layers"
        )

    def _limit(self, upper: str | None, work: str | None) -> int:
        """How many lower layers one mount may take here."""
        if self.new_api:
            return self.max_lowers
        link_bytes = len(str(self.root / "l")) + 1 + 26 + 1
        fixed = len("lowerdir=") + (len(f",upperdir={upper},workdir={work}") if upper else 0)
        return max(1, min(self.max_lowers, classic_capacity(page_size(), link_bytes, fixed)))

    def _layers(self, chain: list[Record], upper: str | None, work: str | None) -> list[str]:
        """Layer ids to stack for ``chain``: its own ids, the bottom part flattened if the
        chain is too deep for one mount."""
        depth = len(chain)
        limit = self._limit(upper, work)
        if depth <= limit:
            return [r.id for r in chain]
        depth_of = {r.id: depth - i for i, r in enumerate(chain)}
        cached = [depth_of[i] for i in self._flat if i in depth_of]
        cut = usable_cache(depth, cached, limit) or flatten_depth(depth, limit, self.flatten_step)
        base = chain[depth - cut]
        self._flatten(chain[depth - cut :])
        return [r.id for r in chain[: depth - cut]] + [FLAT_PREFIX + base.id]

    def _flatten(self, chain: list[Record]) -> None:
        """Materialize the merged view of ``chain`` (top first) as ``flat-<top id>``."""
        top = chain[0]
        if top.id in self._flat:
            return
        from dockyard.kernel import mount as km

        fid = FLAT_PREFIX + top.id
        dest = self.root / "snapshots" / fid
        remove_tree(dest)  # the debris of an interrupted attempt
        (dest / "fs").mkdir(parents=True)
        view = self._overlay(chain, None, None)
        target = self.root / "tmp" / f"flatten-{secrets.token_hex(6)}"
        target.mkdir(parents=True)
        log.debug("overlay: flattening %d layers under %s into %s", len(chain), top.key, fid)
        try:
            view.mount(target)
            try:
                copy_tree(target, dest / "fs")
            finally:
                km.umount(target, km.MNT_DETACH)
        except BaseException:
            remove_tree(dest)
            raise
        finally:
            target.rmdir()
        self._make_link(fid)
        self._flat[top.id] = len(chain)
        self.meta.save()
