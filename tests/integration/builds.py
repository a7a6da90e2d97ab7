"""Helpers of the build tests: a store with the base image, contexts, and one build."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.build.builder import Builder, BuildOptions
from dockyard.build.context import unpack_context
from dockyard.images.config import load_config
from dockyard.images.imagestore import ImageStore
from dockyard.testing.buildrunner import RuntimeRunner


def context_tar(
    files: Mapping[str, bytes | str | None], modes: Mapping[str, int] | None = None
) -> bytes:
    """A context tar: ``bytes`` a file, ``str`` a symlink target, ``None`` a directory."""
    modes = modes or {}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, modes.get(name, 0o755)
                tar.addfile(info)
            elif isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), modes.get(name, 0o644)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@dataclass
class Built:
    image_id: str
    output: str
    runs: int
    config: dict[str, Any] = field(default_factory=dict)


def build(
    store: ImageStore,
    work: Path,
    files: Mapping[str, bytes | str | None],
    options: BuildOptions | None = None,
    dockerfile: str = "",
    modes: Mapping[str, int] | None = None,
) -> Built:
    """Build ``files`` (a context with its Dockerfile) in ``store``."""
    n = len(list(work.glob("ctx-*")))
    root = work / f"ctx-{n}"
    root.mkdir(parents=True)
    context = unpack_context(io.BytesIO(context_tar(files, modes or {})), root, dockerfile)
    lines: list[str] = []
    runner = RuntimeRunner(store, work)
    image_id = Builder(store, runner, lines.append).build(context, options or BuildOptions())
    config = load_config(store, store.image(image_id))
    return Built(image_id, "".join(lines), runner.runs, config)


def dump(config: Mapping[str, Any]) -> str:
    return json.dumps(config, indent=1, sort_keys=True)
