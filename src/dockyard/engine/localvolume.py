"""The ``local`` volume driver's work on the host: names, driver options, mounting a
volume with options (tmpfs, bind, ... as dockerd's local driver), sizes, and removal
that never deletes through a mount."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from dockyard.errors import InvalidArgument, SystemFault

RECORD = "volume.json"
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
OPTIONS = ("type", "device", "o")
REQUIRED_OPTIONS = {"device": ("type",), "type": ("device",), "o": ("device", "type")}


def is_mounted(path: Path) -> bool:
    """Whether something is mounted on ``path`` (mountinfo: ``os.path.ismount`` misses a
    bind of a directory from the same file system)."""
    from dockyard.kernel.mount import mountpoints

    return os.path.realpath(path) in mountpoints()


def check_name(name: str) -> None:
    """The local driver's names: two or more of ``[a-zA-Z0-9][a-zA-Z0-9_.-]``."""
    if len(name) == 1:
        raise InvalidArgument(
            f"create {name}: volume name is too short, names should be at least two "
            "alphanumeric characters"
        )
    if not NAME_RE.match(name):
        raise InvalidArgument(
            f'create {name}: "{name}" includes invalid characters for a local volume name, '
            f'only "{NAME_CHARS}" are allowed. If you intended to pass a host directory, use '
            "absolute path"
        )


def check_options(name: str, options: Mapping[str, str]) -> None:
    for key in options:
        if key not in OPTIONS:
            raise InvalidArgument(f'create {name}: invalid option: "{key}"')
    for key, needs in REQUIRED_OPTIONS.items():
        if key in options:
            for other in needs:
                if other not in options:
                    raise InvalidArgument(f'create {name}: missing required option: "{other}"')


def disk_size(path: Path) -> int:
    """Bytes of the files under ``path`` (hard links once), as dockerd's directory.Size."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [str(path)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if e.is_dir(follow_symlinks=False):
                stack.append(e.path)
            key = (st.st_dev, st.st_ino)
            if key not in seen:
                seen.add(key)
                total += st.st_size if not e.is_dir(follow_symlinks=False) else 0
    return total


def labels_match(labels: Mapping[str, str], spec: str) -> bool:
    key, eq, value = spec.partition("=")
    return key in labels and (not eq or labels[key] == value)


def mount_local(options: Mapping[str, str], path: Path) -> None:
    """Mount ``device`` on ``path`` as dockerd's local driver does (``type``, ``o``)."""
    from dockyard.kernel import mount as km
    from dockyard.runtime.rootfs import parse_options

    fstype = options.get("type") or "none"
    device = options.get("device") or fstype
    flags, _, data = parse_options([o for o in options.get("o", "").split(",") if o])
    try:
        if flags & km.MS_BIND:
            km.mount(device, path, None, flags & (km.MS_BIND | km.MS_REC))
            if flags & ~(km.MS_BIND | km.MS_REC):
                km.mount(None, path, None, flags | km.MS_BIND | km.MS_REMOUNT)
        else:
            km.mount(device, path, None if fstype == "none" else fstype, flags, data or None)
    except OSError as e:
        raise SystemFault(
            f"failed to mount local volume: mount {device}:{path}, flags: {flags:#x}, "
            f"data: {data}: {e.strerror or e}"
        ) from e


def unmount(path: Path) -> None:
    from dockyard.kernel import mount as km

    try:
        km.umount(path, km.MNT_DETACH)
    except OSError as e:
        raise SystemFault(f"failed to unmount local volume at {path}: {e.strerror or e}") from e


def _mounts_under(path: Path) -> list[str]:
    from dockyard.kernel.mount import mountpoints

    real = os.path.realpath(path)
    return [p for p in mountpoints() if p == real or p.startswith(real + "/")]


def remove_tree(top: Path) -> None:
    """Remove a volume's dir: first whatever is mounted on or below ``_data`` (so a bind
    of a host directory never loses a file), then its record, then the tree."""
    data = top / "_data"
    for _ in range(16):  # stacked mounts come off one per call
        points = _mounts_under(data)
        if not points:
            break
        for point in sorted(points, key=len, reverse=True):
            with contextlib.suppress(SystemFault):
                unmount(Path(point))
    if _mounts_under(data):
        raise SystemFault(f"volume dir {data} is still mounted: unmount it first")
    with contextlib.suppress(FileNotFoundError):
        (top / RECORD).unlink()
    shutil.rmtree(top, ignore_errors=True)
    if top.exists():
        raise SystemFault(f"cannot remove volume dir {top}: check for files in use")
