"""A directory tree that a layer is extracted into, written only beneath its root.

Paths are relative, ``/``-joined component strings (``""`` is the root). Before anything
is created, every parent is checked component by component with ``lstat``: a missing
parent is made as a plain directory, a symlink or non-directory parent refuses the entry.
The final component is never followed (``O_NOFOLLOW``, ``follow_symlinks=False``), so
neither a hostile tar nor a symlink left by an earlier entry can reach outside the root.

Directories known to be real are cached; removing a path drops it and its descendants
from the cache, so an entry that replaces a directory with a symlink is seen as such.
"""

from __future__ import annotations

import os
import shutil
import stat

from dockyard.errors import InvalidArgument

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"


def entry_path(name: str, link_of: str | None = None) -> str:
    """The normalised relative path of a tar name (or of the hardlink target of entry
    ``link_of``); absolute or ``..`` names are refused."""
    what = f"layer entry {name!r}"
    if link_of is not None:
        what = f"layer entry {link_of!r}: hardlink target {name!r}"
    if name.startswith("/"):
        raise InvalidArgument(f"refusing {what}: absolute paths are not allowed")
    parts = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise InvalidArgument(f"refusing {what}: '..' components are not allowed")
        parts.append(part)
    return "/".join(parts)


def join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def check_symlink_target(rel: str, target: str, entry: str) -> None:
    """Refuse an empty link target. Any other target is data, as in Docker: extraction
    never follows a link (parents are checked, ``open`` uses ``O_NOFOLLOW``), and inside
    the container ``..`` from the root stays at the root, so even ``../../..`` is safe.
    """
    del rel
    if not target or "\0" in target:
        raise InvalidArgument(f"refusing layer entry {entry!r}: empty symlink target")


class SafeTree:
    """The root being extracted into, with the bookkeeping that keeps writes inside it."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._dirs: set[str] = {""}
        self.written: set[str] = {""}
        self.dir_attrs: dict[str, tuple[int, int, int]] = {}

    def abs(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def lstat(self, rel: str) -> os.stat_result | None:
        try:
            return os.lstat(self.abs(rel))
        except FileNotFoundError:
            return None

    def mark(self, rel: str) -> None:
        """Record ``rel`` and its ancestors as written by this layer."""
        while rel not in self.written:
            self.written.add(rel)
            rel = rel.rpartition("/")[0]

    def parents(self, rel: str, entry: str, *, create: bool = True) -> bool:
        """Make every ancestor of ``rel`` a real directory inside the root.

        Missing ancestors are created (mode 0755) when ``create``, else the answer is
        False; a symlink or non-directory ancestor refuses ``entry``.
        """
        parent = rel.rpartition("/")[0]
        if parent in self._dirs:
            return True
        cur = ""
        for part in parent.split("/"):
            cur = join(cur, part)
            if cur in self._dirs:
                continue
            st = self.lstat(cur)
            if st is None:
                if not create:
                    return False
                os.mkdir(self.abs(cur), 0o755)
                os.chmod(self.abs(cur), 0o755)
                self.mark(cur)
            elif stat.S_ISLNK(st.st_mode):
                raise InvalidArgument(
                    f"refusing layer entry {entry!r}: its parent {cur!r} is a symlink"
                )
            elif not stat.S_ISDIR(st.st_mode):
                raise InvalidArgument(
                    f"refusing layer entry {entry!r}: its parent {cur!r} is not a directory"
                )
            self._dirs.add(cur)
        return True

    def add_dir(self, rel: str) -> None:
        self._dirs.add(rel)

    def remove(self, rel: str) -> None:
        """Delete whatever is at ``rel`` (a whole subtree for a directory), never following."""
        st = self.lstat(rel)
        if st is None:
            return
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(self.abs(rel))
            self.written.discard(rel)
            return
        shutil.rmtree(self.abs(rel))
        prefix = rel + "/"
        for known in (self._dirs, self.written):
            gone = [p for p in known if p == rel or p.startswith(prefix)]
            known.difference_update(gone)
        for p in [p for p in self.dir_attrs if p == rel or p.startswith(prefix)]:
            del self.dir_attrs[p]

    def purge(self, rel: str) -> None:
        """Empty directory ``rel`` of everything this layer did not write (opaque, plain)."""
        for name in os.listdir(self.abs(rel)):
            child = join(rel, name)
            if child not in self.written:
                self.remove(child)
                continue
            st = os.lstat(self.abs(child))
            if stat.S_ISDIR(st.st_mode):
                self.purge(child)

    def finish_dirs(self) -> None:
        """Apply directory modes and times last: adding children changes a dir's mtime."""
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        for rel in sorted(self.dir_attrs, reverse=True):
            mode, atime_ns, mtime_ns = self.dir_attrs[rel]
            fd = os.open(self.abs(rel), flags)
            try:
                os.fchmod(fd, mode)
                os.utime(fd, ns=(atime_ns, mtime_ns))
            finally:
                os.close(fd)
