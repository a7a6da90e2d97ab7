"""The steps that change files: COPY and ADD (from the context, a heredoc, another
stage or an image) and WORKDIR's directory, each written into a snapshot of the
previous image and committed as a layer.

``FileSteps`` is a part of ``Builder`` (``builder.py``); it also holds the small
helpers both share: loading an image config, cache keys and lookups.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import re
import secrets
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument, NotFound
from dockyard.images.commit import commit_container
from dockyard.images.config import load_config, new_config
from dockyard.images.imagestore import ImageStore
from dockyard.images.instructions import Change
from dockyard.images.rootfs import (
    mount_container,
    prepare_container,
    remove_container,
    unmount_container,
)
from dockyard.images.users import chown_ids

from . import imageconfig
from .context import Context
from .copy import Ownership, Source, checksum, copy_sources, find_sources, mkdirs
from .imageconfig import StageState
from .instructions import Plan, Step
from .options import BuildFailed, BuildOptions

VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


class FileSteps:
    store: ImageStore
    _cache_from: set[str] | None
    _out_lock: threading.Lock

    def say(self, text: str) -> None:
        raise NotImplementedError

    def _load(self, image_id: str | None) -> dict[str, Any]:
        if image_id is None:
            return new_config()
        return load_config(self.store, self.store.image(image_id))

    # -- one step ----------------------------------------------------------------------

    def _key(self, parent: str | None, *parts: str) -> str:
        doc = json.dumps([parent or "scratch", *parts], separators=(",", ":"))
        return "sha256:" + hashlib.sha256(doc.encode()).hexdigest()

    def _cached(self, key: str, options: BuildOptions) -> str | None:
        if options.no_cache:
            return None
        found = self.store.metadata.cached_step(key)
        if found is None:
            return None
        if self._cache_from is not None and str(found) not in self._cache_from:
            return None
        self.say(" ---> Using cache\n")
        return str(found)

    def _copy(
        self,
        step: Step,
        state: StageState,
        image_id: str | None,
        options: BuildOptions,
        context: Context,
        futures: Mapping[int, concurrent.futures.Future[str]],
        plan: Plan,
    ) -> str:
        what = step.command.upper()
        words = [state.word(a) for a in step.args]
        *patterns, dest = words
        chown = step.flag("chown")
        chmod_text = step.flag("chmod")
        chmod = None
        if chmod_text is not None:
            try:
                chmod = int(chmod_text, 8)
            except ValueError:
                raise InvalidArgument(f"{what} --chmod={chmod_text}: use an octal mode") from None
        extract_ok = True
        with tempfile.TemporaryDirectory(dir=self._tmp(), prefix="sources-") as hdir:
            sources: list[Source]
            source_image: str | None = None
            if step.heredocs:
                sources = _heredoc_files(step, state, Path(hdir))
            elif step.flag("from"):
                source_image = self._from_image(step.flag("from") or "", futures, plan)
                sources = []
            else:
                urls = [p for p in patterns if p.startswith(("http://", "https://"))]
                if urls and what == "COPY":
                    raise InvalidArgument("COPY does not take URLs: use ADD, or RUN wget")
                local = [p for p in patterns if p not in urls]
                sources = find_sources(context.root, local, what) if local else []
                sources += [download(url, Path(hdir) / f"url-{i}") for i, url in enumerate(urls)]
                extract_ok = not urls  # ADD extracts local archives, never downloads
            if source_image is not None:
                return self._copy_from_image(
                    step, state, image_id, options, source_image, patterns, dest, chown, chmod
                )
            return self._copy_sources(
                state,
                image_id,
                options,
                sources,
                dest,
                what,
                chown=chown,
                chmod=chmod,
                chmod_text=chmod_text or "",
                extract=what == "ADD" and not step.heredocs and extract_ok,
            )

    def _copy_from_image(
        self,
        step: Step,
        state: StageState,
        image_id: str | None,
        options: BuildOptions,
        source_image: str,
        patterns: list[str],
        dest: str,
        chown: str | None,
        chmod: int | None,
    ) -> str:
        cid = f"build-src-{secrets.token_hex(8)}"
        with tempfile.TemporaryDirectory(dir=self._tmp(), prefix="from-") as mnt:
            prepare_container(self.store, cid, source_image)
            try:
                mount_container(self.store, cid, mnt)
                try:
                    sources = find_sources(Path(mnt), patterns, "COPY --from")
                    return self._copy_sources(
                        state,
                        image_id,
                        options,
                        sources,
                        dest,
                        "COPY --from",
                        chown=chown,
                        chmod=chmod,
                        chmod_text=str(chmod),
                        extract=False,
                    )
                finally:
                    unmount_container(mnt)
            finally:
                remove_container(self.store, cid)

    def _copy_sources(
        self,
        state: StageState,
        image_id: str | None,
        options: BuildOptions,
        sources: list[Source],
        dest: str,
        what: str,
        *,
        chown: str | None,
        chmod: int | None,
        chmod_text: str,
        extract: bool,
    ) -> str:
        """A COPY/ADD step: from the cache when its key is there, else copied and
        committed (``what``: COPY, ADD or COPY --from)."""
        digest = checksum(sources)
        workdir = str(state.config.get("WorkingDir") or "/")
        key = self._key(
            image_id,
            what,
            digest,
            dest,
            chown or "",
            chmod_text,
            json.dumps(state.config.get("WorkingDir")),
        )
        cached = self._cached(key, options)
        if cached is not None:
            state.image = self._load(cached)
            return cached
        verb, _, from_stage = what.partition(" ")  # "COPY --from": a stage's or image's
        kind = "dir" if from_stage else "file"
        created_by = imageconfig.nop(f"{verb} {kind}:{digest[7:]} in {dest} ")
        new = self._copied(
            image_id,
            created_by,
            lambda root: copy_sources(
                root,
                sources,
                dest,
                workdir=workdir,
                owner=Ownership(*chown_ids(root, chown)) if chown else Ownership(),
                chmod=chmod,
                extract=extract,
                what=verb,
            ),
        )
        self.store.metadata.cache_step(key, self.store.image(new).id)
        state.image = self._load(new)
        return new

    def _from_image(
        self, ref: str, futures: Mapping[int, concurrent.futures.Future[str]], plan: Plan
    ) -> str:
        for s in plan.stages:
            if s.name == ref.lower() or str(s.index) == ref:
                if s.index not in futures:
                    raise InvalidArgument(f"COPY --from={ref}: that stage is not built")
                return futures[s.index].result()
        try:
            return str(self.store.image(ref).id)
        except NotFound:
            raise NotFound(
                f"COPY --from={ref}: no stage or image of that name; pull or load it first"
            ) from None

    def _tmp(self) -> Path:
        tmp = self.store.root / "tmp"
        tmp.mkdir(exist_ok=True)
        return tmp

    def _in_snapshot(
        self,
        image_id: str | None,
        created_by: str,
        change: Callable[[Path], bool | None],
        changes: Sequence[Change] = (),
    ) -> str | None:
        """A snapshot of ``image_id``, changed by ``change(rootfs)``, committed (with
        the config ``changes``); None when ``change`` says it changed nothing."""
        cid = f"build-{secrets.token_hex(8)}"
        prepare_container(self.store, cid, image_id)
        try:
            with tempfile.TemporaryDirectory(dir=self._tmp(), prefix="mnt-") as mnt:
                mount_container(self.store, cid, mnt)
                try:
                    changed = change(Path(mnt))
                finally:
                    unmount_container(mnt)
            if changed is False:
                return None
            return commit_container(self.store, cid, changes=changes, created_by=created_by)
        finally:
            remove_container(self.store, cid)

    def _copied(self, image_id: str | None, created_by: str, change: Callable[[Path], None]) -> str:
        """``_in_snapshot`` for a change that always changes something (COPY, ADD)."""
        new = self._in_snapshot(image_id, created_by, change)
        assert new is not None
        return new

    def _workdir_layer(self, state: StageState, image_id: str | None, text: str) -> str | None:
        """WORKDIR makes its directory when the image lacks it (root's, 0755), as the
        legacy builder does; the image then also has the new WorkingDir."""
        path = str(state.config.get("WorkingDir") or "/")

        def make(root: Path) -> bool:
            return mkdirs(root, path)

        return self._in_snapshot(image_id, imageconfig.nop(text), make, [Change("WORKDIR", path)])


def _heredoc_files(step: Step, state: StageState, tmp: Path) -> list[Source]:
    """COPY <<EOF: each heredoc a file; an unquoted name has $VAR / ${VAR} substituted."""
    out = []
    env = state.env()
    for doc in step.heredocs:
        path = tmp / doc.name
        content = doc.content
        if doc.expand:
            content = VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), content)
        path.write_text(content)
        path.chmod(0o644)
        out.append(Source(path, doc.name))
    return out


def download(url: str, into: Path) -> Source:
    """ADD's URL source: fetched (through the daemon's proxies) into ``into``, named after
    the URL's last path segment, mode 0600 as docker makes it."""
    import urllib.error
    import urllib.parse
    import urllib.request

    into.mkdir()
    name = urllib.parse.urlsplit(url).path.rstrip("/").rpartition("/")[2] or "download"
    path = into / name
    try:
        with urllib.request.urlopen(url, timeout=60) as answer, open(path, "wb") as f:
            while chunk := answer.read(1 << 20):
                f.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise BuildFailed(f"ADD failed: cannot download {url}: {reason}") from e
    path.chmod(0o600)
    return Source(path, name)
