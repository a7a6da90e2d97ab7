"""Whole-tree operations the drivers share: faithful copies, disk usage, removal.

Copies go through GNU ``cp -a --reflink=auto`` rather than ``shutil.copytree``: cp keeps
ownership, modes, timestamps, xattrs (security capabilities included), ACLs, device
nodes, fifos, sockets, symlinks and hardlinks *within* the tree, and shares extents on file
systems that can (btrfs, xfs), which shutil does not. ``-a`` tolerates file systems that
refuse some xattrs (it only fails on data it cannot copy).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from dockyard._internal import lazylog
from dockyard.errors import SystemFault

from .snapshotter import Usage

log = lazylog.getLogger(__name__)


def run(argv: list[str], what: str) -> str:
    """Run a helper tool; its stderr becomes the ``SystemFault`` message on failure."""
    log.debug("run %s", argv)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError as e:
        raise SystemFault(f"{what}: {argv[0]} not found: install it") from e
    if done.returncode != 0:
        detail = done.stderr.strip() or done.stdout.strip()
        raise SystemFault(f"{what}: {' '.join(argv)} exited {done.returncode}: {detail}")
    return done.stdout


def copy_tree(src: Path, dst: Path) -> None:
    """Make ``dst`` (an existing directory) a faithful copy of the contents of ``src``."""
    run(
        ["cp", "-a", "--reflink=auto", "--no-target-directory", f"{src}/.", str(dst)],
        f"cannot copy {src}",
    )
    # the root directory's own owner, mode and times come along with "src/." too
    st = src.lstat()
    os.chown(dst, st.st_uid, st.st_gid)
    os.chmod(dst, st.st_mode & 0o7777)


def disk_usage(path: Path) -> Usage:
    """Allocated bytes and distinct inodes under ``path`` (hardlinks counted once),
    without crossing into other file systems mounted below it."""
    seen: set[tuple[int, int]] = set()
    size = 0
    root_dev = path.lstat().st_dev
    stack = [str(path)]
    while stack:
        top = stack.pop()
        try:
            entries = list(os.scandir(top))
        except FileNotFoundError:
            continue
        for entry in entries:
            st = entry.stat(follow_symlinks=False)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            size += st.st_blocks * 512
            if entry.is_dir(follow_symlinks=False) and st.st_dev == root_dev:
                stack.append(entry.path)
    return Usage(size_bytes=size, inodes=len(seen))


def remove_tree(path: Path) -> None:
    """Delete ``path`` and everything below it; a missing path is fine."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
