"""The storage-driver role: the ``Snapshotter`` protocol and its value objects.

Modelled on containerd's snapshotter. A snapshot is named by a *key*. ``prepare`` makes an
*active* (writable) snapshot on top of a *committed* parent, ``view`` a read-only one;
``commit`` turns an active snapshot into an immutable committed one under a new name, which
can then be the parent of others. What a caller mounts is a list of ``Mount`` values.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .mount import Mount


class Kind(enum.StrEnum):
    ACTIVE = "active"
    VIEW = "view"
    COMMITTED = "committed"


@dataclass(frozen=True)
class Info:
    """What a snapshot is: its key (or committed name), its parent's name, its kind."""

    name: str
    parent: str | None
    kind: Kind


@dataclass(frozen=True)
class Usage:
    """Disk space (allocated bytes) and inodes held by the snapshot itself, not its parents."""

    size_bytes: int
    inodes: int


class Snapshotter(Protocol):
    """One storage driver. Implementations: vfs, overlay (default), btrfs."""

    root: Path

    def prepare(self, key: str, parent: str | None) -> list[Mount]:
        """An active (writable) snapshot ``key`` on top of the committed ``parent``."""
        ...

    def view(self, key: str, parent: str | None) -> list[Mount]:
        """A read-only snapshot ``key`` showing the committed ``parent``."""
        ...

    def commit(self, name: str, key: str) -> None:
        """Turn the active snapshot ``key`` into the immutable committed ``name``."""
        ...

    def mounts(self, key: str) -> list[Mount]:
        """The mounts of an active snapshot or a view (again, e.g. after a restart)."""
        ...

    def remove(self, key: str) -> None:
        """Delete a snapshot; ``Conflict`` while others are built on it."""
        ...

    def usage(self, key: str) -> Usage: ...

    def stat(self, key: str) -> Info: ...

    def walk(self) -> Iterator[Info]: ...

    def upper_dir(self, key: str) -> Path | None:
        """The writable layer of an active snapshot, holding only its changes (overlay
        whiteouts included), or None where the driver keeps whole trees (vfs, btrfs)."""
        ...
