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
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dockyard.errors import InvalidArgument, NotFound
from dockyard.images.config import add_image, format_time, history_entry, new_config
from dockyard.images.imagestore import ImageStore
from dockyard.images.names import normalize_tag

from . import imageconfig
from .context import Context
from .dockerfile import parse
from .expansion import expand
from .filesteps import FileSteps
from .imageconfig import StageState
from .instructions import Plan, Stage, Step, stages
from .options import BuildFailed, BuildOptions, Runner
from .squash import squash_image

log = logging.getLogger(__name__)


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


class Builder(FileSteps):
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
        """One step; a bad value in it is reported with its file, line and text."""
        try:
            return self._do_step(step, state, image_id, options, context, futures, plan)
        except InvalidArgument as e:
            where = f"{context.dockerfile_name}:{step.node.line}"
            if str(e).startswith(where):
                raise
            raise InvalidArgument(f"{where}: {step.text()}: {e}") from e

    def _do_step(
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


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def _heredoc_script(step: Step, state: StageState) -> str:
    """RUN <<EOF: the heredoc is the shell script (the shell expands its variables)."""
    del state
    return step.heredocs[0].content


__all__ = ["BuildFailed", "BuildOptions", "Builder", "Runner"]
