"""``Builder``: a Dockerfile plan turned into images, one image per step.

Every step makes an image on top of the previous one, as Docker's legacy builder does:
config-only steps (ENV, CMD, ...) an image with the same layers and a new config, COPY
and ADD a layer written into a snapshot of the previous image, RUN a layer that a
container made (``Runner``, implemented by the engine: the build layer runs no
containers itself). A step whose cache key (its parent image, its instruction after
substitution and its inputs: the copied files' checksum, RUN's build args) is in the
store's build cache is reused (``Using cache``).

Only the stages the target needs are built, each in its own thread: independent stages
build side by side, a stage that needs another (FROM or COPY --from) waits for it.
``--squash`` merges the final stage's layers above its base image into one.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import logging
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.images.commit import commit_container
from dockyard.images.config import add_image, format_time, history_entry, load_config, new_config
from dockyard.images.imagestore import ImageStore
from dockyard.images.instructions import Change
from dockyard.images.names import normalize_tag
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
from .dockerfile import parse
from .expansion import expand
from .imageconfig import StageState
from .instructions import Plan, Stage, Step, stages
from .squash import squash_image

log = logging.getLogger(__name__)

VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")

CONFIG_STEPS = frozenset(
    {
        "env",
        "label",
        "cmd",
        "entrypoint",
        "expose",
        "volume",
        "user",
        "workdir",
        "shell",
        "stopsignal",
        "healthcheck",
        "onbuild",
        "maintainer",
    }
)


class BuildFailed(DockyardError):
    """A step failed; the message says which and why. ``code``: a RUN's exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Runner(Protocol):
    def run(
        self,
        image_id: str,
        argv: list[str],
        *,
        env: list[str],
        user: str,
        workdir: str,
        network: str,
        created_by: str,
        output: Callable[[str], None],
    ) -> str:
        """Run ``argv`` in a container of ``image_id``; commit it; answer the image id.

        Raises ``BuildFailed`` (with the exit code) when the command fails."""
        ...


@dataclass(frozen=True)
class BuildOptions:
    tags: tuple[str, ...] = ()
    build_args: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    cache_from: tuple[str, ...] = ()
    network: str = "none"
    squash: bool = False
    platform: str = ""


class Builder:
    """One build (see the module doc); ``output`` gets the lines docker prints."""

    def __init__(self, store: ImageStore, runner: Runner, output: Callable[[str], None]) -> None:
        self.store = store
        self.runner = runner
        self._out = output
        self._out_lock = threading.Lock()
        self._cache_from: set[str] | None = None
        self._global_values: dict[str, str] = {}
        self._base_of: dict[int, str | None] = {}  # each stage's FROM image
        self.used_args: set[str] = set()
        self.cancelled = threading.Event()  # set by whoever runs the build: stop soon

    def say(self, text: str) -> None:
        with self._out_lock:
            self._out(text)

    # -- the whole build ---------------------------------------------------------------

    def build(self, context: Context, options: BuildOptions) -> str:
        for tag in options.tags:
            normalize_tag(tag)  # a bad tag fails before any work
        dockerfile = parse(context.dockerfile, context.dockerfile_name)
        for warning in dockerfile.warnings:
            self.say(f"[WARNING]: {warning}\n")
        plan = stages(dockerfile)
        target = self._target(plan, options.target)
        if options.labels:
            label = " ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in options.labels.items())
            node = parse(f"LABEL {label}", context.dockerfile_name).instructions[0]
            target.steps.append(Step(node, (), pairs=tuple(options.labels.items())))
        needed = self._needed(plan, target)
        total = sum(1 + len(s.steps) for s in needed)
        numbers: dict[int, int] = {}
        n = 0
        for s in needed:
            numbers[s.index] = n
            n += 1 + len(s.steps)
        if options.cache_from and not options.no_cache:
            self._cache_from = self._ancestors(options.cache_from)
        global_args = self._global_args(plan, options, dockerfile.escape)
        self._global_values = global_args
        futures: dict[int, concurrent.futures.Future[str]] = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(needed)) as pool:
            for s in needed:
                futures[s.index] = pool.submit(
                    self._stage,
                    s,
                    plan,
                    futures,
                    options,
                    global_args,
                    numbers[s.index],
                    total,
                    dockerfile.escape,
                    context,
                )
            done, _ = concurrent.futures.wait(
                futures.values(), return_when=concurrent.futures.FIRST_EXCEPTION
            )
            for f in done:
                if f.exception() is not None:
                    for other in futures.values():
                        other.cancel()
                    raise f.exception()  # type: ignore[misc]
            image_id = futures[target.index].result()
        unused = sorted(set(options.build_args) - self.used_args - set(imageconfig.PROXY_ARGS))
        if unused:
            self.say(f"[Warning] One or more build-args {unused} were not consumed\n")
        if options.squash:
            image_id = squash_image(self.store, image_id, self._base_of[target.index])
        for tag in options.tags:
            self.store.metadata.tag(normalize_tag(tag), self.store.image(image_id).id)
        return image_id

    def _target(self, plan: Plan, name: str) -> Stage:
        if not name:
            return plan.stages[-1]
        for s in plan.stages:
            if s.name == name.lower():
                return s
        raise InvalidArgument(f"failed to reach build target {name} in Dockerfile")

    def _needed(self, plan: Plan, target: Stage) -> list[Stage]:
        """The target and the stages it needs, in file order."""
        by_name = {s.name: s for s in plan.stages if s.name}
        want = {target.index}
        todo = [target]
        while todo:
            s = todo.pop()
            refs = [s.base] + [st.flag("from") or "" for st in s.steps if st.command == "copy"]
            for ref in refs:
                dep = by_name.get(ref.lower()) or (
                    plan.stages[int(ref)] if ref.isdigit() and int(ref) < s.index else None
                )
                if dep is not None and dep.index not in want:
                    want.add(dep.index)
                    todo.append(dep)
        return [s for s in plan.stages if s.index in want]

    def _global_args(self, plan: Plan, options: BuildOptions, escape: str) -> dict[str, str]:
        values: dict[str, str] = {}
        state = StageState({}, escape, build_args=dict(options.build_args))
        for step in plan.global_args:
            for name, default in step.pairs:
                state.args = dict(values)
                state.declare_arg(name, default, values)
                if name in state.args:
                    values[name] = state.args[name]
                    self.used_args.add(name)
        return values

    def _ancestors(self, refs: Sequence[str]) -> set[str]:
        """Ids of the --cache-from images and of the images they were built on."""
        found: set[str] = set()
        for ref in refs:
            try:
                image: Any = self.store.image(ref)
            except NotFound:
                self.say(f"[Warning] --cache-from image {ref} not found: not used\n")
                continue
            while image is not None and str(image.id) not in found:
                found.add(str(image.id))
                parent = next((b.digest for b in image.blobs if b.kind == "parent"), None)
                image = None if parent is None else self.store.metadata.get_image(parent)
        return found

    # -- one stage ---------------------------------------------------------------------

    def _stage(
        self,
        stage: Stage,
        plan: Plan,
        futures: Mapping[int, concurrent.futures.Future[str]],
        options: BuildOptions,
        global_args: dict[str, str],
        number: int,
        total: int,
        escape: str,
        context: Context,
    ) -> str:
        state = StageState({}, escape, args={}, build_args=dict(options.build_args))
        base = expand(stage.base, global_args, escape)
        self.say(f"Step {number + 1}/{total} : {stage.node.original}\n")
        image_id = self._resolve_base(base, stage, plan, futures, options)
        self._base_of[stage.index] = image_id
        state.image = self._load(image_id)
        if image_id is not None:
            self.say(f" ---> {_short(image_id)}\n")
        triggers = list(state.config.get("OnBuild") or [])
        if triggers:
            # the child does not inherit the triggers: an image without them, first, for
            # the trigger steps to build on (a commit keeps its image's config)
            state.config.pop("OnBuild", None)
            image_id = self._config_image(state, image_id, "")
            self.say(
                f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n"
            )
            for text in triggers:
                step = stages(parse(f"FROM scratch\n{text}", "ONBUILD")).stages[0].steps[0]
                image_id = self._step(step, state, image_id, options, context, futures, plan)
        for i, step in enumerate(stage.steps):
            if self.cancelled.is_set():
                raise BuildFailed("the build was cancelled")
            self.say(f"Step {number + 2 + i}/{total} : {step.text()}\n")
            image_id = self._step(step, state, image_id, options, context, futures, plan)
            self.say(f" ---> {_short(image_id or '')}\n")
        if image_id is None:  # FROM scratch and nothing else: an empty image
            image_id = add_image(self.store, new_config(), [])
        return image_id

    def _resolve_base(
        self,
        base: str,
        stage: Stage,
        plan: Plan,
        futures: Mapping[int, concurrent.futures.Future[str]],
        options: BuildOptions,
    ) -> str | None:
        if options.platform and options.platform.split("/")[0] != "linux":
            raise InvalidArgument(f"platform {options.platform} is not this host's (linux)")
        if base.lower() == "scratch":
            return None
        for earlier in plan.stages[: stage.index]:
            if earlier.name == base.lower() or str(earlier.index) == base:
                return futures[earlier.index].result()
        try:
            return str(self.store.image(base).id)
        except NotFound:
            raise NotFound(
                f"pull access denied for {base}: no such image here; pull or load it "
                "first, or fix the FROM line"
            ) from None

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

    def _step(
        self,
        step: Step,
        state: StageState,
        image_id: str | None,
        options: BuildOptions,
        context: Context,
        futures: Mapping[int, concurrent.futures.Future[str]],
        plan: Plan,
    ) -> str | None:
        cmd = step.command
        if cmd == "arg":
            for name, default in step.pairs:
                state.declare_arg(name, default, self._global_values)
                self.used_args.add(name)
            return image_id  # ARG makes no image (docker's legacy builder: same)
        if cmd in CONFIG_STEPS:
            before = json.dumps(state.image.get("config"), sort_keys=True)
            text = imageconfig.apply(state, step)
            key = self._key(image_id, "config", text, before)
            cached = self._cached(key, options)
            if cached is not None:
                state.image = self._load(cached)
                return cached
            new = self._workdir_layer(state, image_id, text) if cmd == "workdir" else None
            if new is None:
                new = self._config_image(state, image_id, imageconfig.nop(text))
            else:
                state.image = self._load(new)
            self.store.metadata.cache_step(key, self.store.image(new).id)
            return new
        if cmd == "run":
            return self._run(step, state, image_id, options)
        if cmd in ("copy", "add"):
            return self._copy(step, state, image_id, options, context, futures, plan)
        raise InvalidArgument(f"{cmd.upper()} cannot be used here")

    def _config_image(self, state: StageState, parent: str | None, created_by: str) -> str:
        image = state.image
        image["created"] = format_time(time.time())
        if created_by:  # "": a config change that is part of another step's
            image.setdefault("history", []).append(
                history_entry(created_by, created=image["created"], empty_layer=True)
            )
        record = None if parent is None else self.store.image(parent)
        layers = [] if record is None else self.store.layers_of(record)
        return add_image(self.store, image, layers, parent=None if record is None else record.id)

    def _run(
        self, step: Step, state: StageState, image_id: str | None, options: BuildOptions
    ) -> str:
        if image_id is None:
            raise BuildFailed("RUN needs an image with a shell: FROM scratch has none")
        argv = list(step.args) if step.exec_form else [*state.shell, step.args[0]]
        if step.heredocs and not step.exec_form:
            argv = [*state.shell, _heredoc_script(step, state)]
        network = step.flag("network") or options.network
        if network not in ("none", "host", "default"):
            raise InvalidArgument(f"RUN --network={network}: use none, host or default")
        env = state.run_env()
        args_used = sorted(f"{k}={v}" for k, v in state.args.items())
        shown = " ".join(argv) if step.exec_form else argv[-1]
        prefix = f"|{len(args_used)} {' '.join(args_used)} " if args_used else ""
        created_by = f"{prefix}{'/bin/sh -c ' if not step.exec_form else ''}{shown}"
        key = self._key(image_id, "run", json.dumps(argv), network, *args_used)
        cached = self._cached(key, options)
        if cached is not None:
            state.image = self._load(cached)
            return cached
        new = self.runner.run(
            image_id,
            argv,
            env=env,
            user=str(state.config.get("User") or ""),
            workdir=str(state.config.get("WorkingDir") or "/"),
            network="none" if network == "default" else network,
            created_by=created_by,
            output=self.say,
        )
        self.store.metadata.cache_step(key, self.store.image(new).id)
        state.image = self._load(new)
        return new

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
        with tempfile.TemporaryDirectory(dir=self._tmp(), prefix="heredoc-") as hdir:
            sources: list[Source]
            source_image: str | None = None
            if step.heredocs:
                sources = _heredoc_files(step, state, Path(hdir))
            elif step.flag("from"):
                source_image = self._from_image(step.flag("from") or "", futures, plan)
                sources = []
            else:
                if any(p.startswith(("http://", "https://")) for p in patterns):
                    if what == "COPY":
                        raise InvalidArgument("COPY does not take URLs: use ADD or curl in RUN")
                    raise BuildFailed(
                        f"ADD of a URL ({patterns[0]}) is not supported: download it in the "
                        "context first"
                    )
                sources = find_sources(context.root, patterns, what)
            if source_image is not None:
                return self._copy_from_image(
                    step, state, image_id, options, source_image, patterns, dest, chown, chmod
                )
            digest = checksum(sources)
            key = self._key(
                image_id,
                what,
                digest,
                dest,
                chown or "",
                chmod_text or "",
                json.dumps(state.config.get("WorkingDir")),
            )
            cached = self._cached(key, options)
            if cached is not None:
                state.image = self._load(cached)
                return cached
            created_by = imageconfig.nop(f"{what} {digest.replace('sha256:', 'file:')} in {dest} ")
            new = self._copied(
                image_id,
                created_by,
                lambda root: copy_sources(
                    root,
                    sources,
                    dest,
                    workdir=str(state.config.get("WorkingDir") or "/"),
                    owner=Ownership(*chown_ids(root, chown)) if chown else Ownership(),
                    chmod=chmod,
                    extract=what == "ADD" and not step.heredocs,
                    what=what,
                ),
            )
        self.store.metadata.cache_step(key, self.store.image(new).id)
        state.image = self._load(new)
        return new

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
                    digest = checksum(sources)
                    key = self._key(
                        image_id,
                        "COPY --from",
                        digest,
                        dest,
                        chown or "",
                        str(chmod),
                        json.dumps(state.config.get("WorkingDir")),
                    )
                    cached = self._cached(key, options)
                    if cached is not None:
                        state.image = self._load(cached)
                        return cached
                    created_by = imageconfig.nop(f"COPY dir:{digest[7:]} in {dest} ")
                    new = self._copied(
                        image_id,
                        created_by,
                        lambda root: copy_sources(
                            root,
                            sources,
                            dest,
                            workdir=str(state.config.get("WorkingDir") or "/"),
                            owner=Ownership(*chown_ids(root, chown)) if chown else Ownership(),
                            chmod=chmod,
                            what="COPY",
                        ),
                    )
                finally:
                    unmount_container(mnt)
            finally:
                remove_container(self.store, cid)
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


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def _heredoc_script(step: Step, state: StageState) -> str:
    """RUN <<EOF: the heredoc is the shell script (the shell expands its variables)."""
    del state
    return step.heredocs[0].content


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


__all__ = ["BuildFailed", "BuildOptions", "Builder", "Runner"]
