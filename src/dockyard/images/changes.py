"""``docker diff``: what a container changed, as ``A``/``C``/``D`` lines.

Overlay: the container's upper dir holds exactly its changes. An entry there is ``C``
when the layers below have it and ``A`` otherwise; a whiteout (0/0 char device) is
``D``; the contents of an opaque dir are ``A`` (the dir itself ``C``). Plain drivers
(vfs, btrfs): the container's tree is compared with its parent layer's tree; an entry
present only below is ``D`` (its children are not listed), only above ``A`` (with its
children), in both but different in type, mode, owner, size, link target or mtime
``C``. Paths are absolute and sorted, as Docker prints them.
"""

from __future__ import annotations

import enum
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .imagestore import ImageStore
from .rootfs import container, container_tree, container_upper, lower_dirs, parent_tree

OVERLAY_OPAQUE = "trusted.overlay.opaque"


class ChangeKind(enum.StrEnum):
    ADDED = "A"
    CHANGED = "C"
    DELETED = "D"

    @property
    def docker(self) -> int:
        """The ``Kind`` number of ``GET /containers/{id}/changes``."""
        return {"C": 0, "A": 1, "D": 2}[self.value]


@dataclass(frozen=True, order=True)
class FileChange:
    path: str
    kind: ChangeKind

    def __str__(self) -> str:
        return f"{self.kind.value} {self.path}"


def container_changes(store: ImageStore, container_id: str) -> list[FileChange]:
    """The changes of a container's root file system against its image."""
    record = container(store, container_id)
    upper = container_upper(store, container_id)
    if upper is not None:
        return overlay_changes(upper, lower_dirs(store, record))
    return plain_changes(parent_tree(store, record), container_tree(store, container_id))


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OVERLAY_OPAQUE, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _in_lowers(rel: str, lowers: list[Path]) -> bool:
    """Whether ``rel`` exists in the stack of layer dirs ``lowers`` (top first)."""
    parts = rel.split("/")
    for layer in lowers:
        path = os.path.join(layer, rel)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            # an opaque or deleted ancestor in this layer hides everything below it
            for i in range(len(parts) - 1, 0, -1):
                ancestor = os.path.join(layer, *parts[:i])
                try:
                    ast = os.lstat(ancestor)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                if _is_whiteout(ast) or not stat.S_ISDIR(ast.st_mode) or _opaque(ancestor):
                    return False
                break
            continue
        return not _is_whiteout(st)
    return False


def overlay_changes(upper: Path, lowers: list[Path]) -> list[FileChange]:
    out: list[FileChange] = []

    def walk(rel: str, hidden: bool) -> None:
        base = os.path.join(upper, rel) if rel else str(upper)
        for name in sorted(os.listdir(base)):
            child = f"{rel}/{name}" if rel else name
            path = os.path.join(base, name)
            st = os.lstat(path)
            if _is_whiteout(st):
                if not hidden and _in_lowers(child, lowers):
                    out.append(FileChange("/" + child, ChangeKind.DELETED))
                continue
            existed = not hidden and _in_lowers(child, lowers)
            kind = ChangeKind.CHANGED if existed else ChangeKind.ADDED
            out.append(FileChange("/" + child, kind))
            if stat.S_ISDIR(st.st_mode):
                walk(child, hidden or not existed or _opaque(path))

    walk("", False)
    return sorted(out)


def _differs(a: os.stat_result, b: os.stat_result) -> bool:
    if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode):
        return True
    if (a.st_mode, a.st_uid, a.st_gid) != (b.st_mode, b.st_uid, b.st_gid):
        return True
    if stat.S_ISDIR(a.st_mode):
        return a.st_mtime_ns != b.st_mtime_ns
    return a.st_size != b.st_size or a.st_mtime_ns != b.st_mtime_ns or a.st_rdev != b.st_rdev


def plain_changes(lower: Path | None, upper: Path) -> list[FileChange]:
    out: list[FileChange] = []

    def added(rel: str) -> None:
        out.append(FileChange("/" + rel, ChangeKind.ADDED))
        path = os.path.join(upper, rel)
        if os.path.isdir(path) and not os.path.islink(path):
            for name in os.listdir(path):
                added(f"{rel}/{name}")

    def compare(rel: str) -> None:
        up = os.path.join(upper, rel) if rel else str(upper)
        low = os.path.join(lower, rel) if (lower and rel) else (str(lower) if lower else None)
        names_up = set(os.listdir(up))
        names_low = set(os.listdir(low)) if low is not None else set()
        for name in sorted(names_low - names_up):
            out.append(FileChange(f"/{rel}/{name}" if rel else "/" + name, ChangeKind.DELETED))
        for name in sorted(names_up):
            child = f"{rel}/{name}" if rel else name
            if name not in names_low or low is None:
                added(child)
                continue
            ust = os.lstat(os.path.join(up, name))
            lst = os.lstat(os.path.join(low, name))
            changed = _differs(ust, lst)
            if changed:
                out.append(FileChange("/" + child, ChangeKind.CHANGED))
            if stat.S_ISDIR(ust.st_mode) and stat.S_ISDIR(lst.st_mode):
                before = len(out)
                compare(child)
                if len(out) > before and not changed:
                    # as Docker: a dir with changes inside counts as changed itself
                    out.append(FileChange("/" + child, ChangeKind.CHANGED))
            elif stat.S_ISDIR(ust.st_mode):
                for sub in os.listdir(os.path.join(up, name)):
                    added(f"{child}/{sub}")

    compare("")
    return sorted(out)
