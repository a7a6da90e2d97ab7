"""The local side of ``docker cp``: docker's path rules and the host's files.

Pure rules from the docker CLI (``pkg/archive/copy.go``): where an archive goes
(``prepare_copy``: into the destination, or into its parent with the top entry renamed),
how a trailing ``/`` or ``/.`` asserts a directory, how entries are renamed. Then the
walk that names a local tree's entries as docker's tar does, and ``LocalExtract``, which
unpacks a container's archive on the host without ever writing through a symlink below
the destination directory (an archive from a container is not trusted).
"""

from __future__ import annotations

import os

from dockyard.cli.errors import CommandFailed

GO_DIR = 1 << 31  # Go's os.FileMode bits in the daemon's path stat
GO_SYMLINK = 1 << 27

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from collections.abc import Iterator
    from typing import Any

# -- docker's path rules (pure) -----------------------------------------------------------


def split_cp_arg(arg: str) -> tuple[str, str]:
    """``CONTAINER:PATH`` -> (container, path); a local path -> ("", path)."""
    if arg.startswith("/"):
        return "", arg
    container, sep, path = arg.partition(":")
    if not sep or container.startswith("."):
        return "", arg  # no colon, or an explicit local path like ./file:name.txt
    return container, path


def go_base(path: str) -> str:
    stripped = path.rstrip("/")
    if not path:
        return "."
    return stripped.rpartition("/")[2] if stripped else "/"


def specifies_current_dir(path: str) -> bool:
    return go_base(path) == "."


def asserts_directory(path: str) -> bool:
    return path.endswith("/") or specifies_current_dir(path)


def split_path_dir_entry(path: str) -> tuple[str, str]:
    """Docker's ``SplitPathDirEntry``: (dir, base) of the cleaned path, ``x/.`` kept."""
    import posixpath

    cleaned = posixpath.normpath(path) if path else "."
    if specifies_current_dir(path):
        cleaned += "/."
    return posixpath.dirname(cleaned) or ".", go_base(cleaned)


def resolve_local_path(path: str) -> str:
    """An absolute local path with the trailing ``/`` or ``/.`` kept."""
    cleaned = os.path.abspath(path)
    if specifies_current_dir(path) and not specifies_current_dir(cleaned):
        cleaned = cleaned.rstrip("/") + "/."
    elif path.endswith("/") and not cleaned.endswith("/"):
        cleaned += "/"
    return cleaned


def prepare_copy(
    src_path: str, src_is_dir: bool, dst_path: str, dst_exists: bool, dst_is_dir: bool,
    rebase_name: str = "",
) -> tuple[str, tuple[str, str] | None]:  # fmt: skip
    """Docker's ``PrepareArchiveCopy``: the directory to extract into and the rename of
    the archive's top entry (old base, new base), or None to extract as it is."""
    dst_dir, dst_base = split_path_dir_entry(dst_path)
    src_base = rebase_name or split_path_dir_entry(src_path)[1]
    if dst_exists and dst_is_dir:
        return dst_path, None
    if dst_exists and src_is_dir:
        raise CommandFailed("cannot copy directory")
    if not dst_exists and not src_is_dir and asserts_directory(dst_path):
        raise CommandFailed("no such directory")
    return dst_dir, (src_base, dst_base)


def rebase(name: str, change: tuple[str, str] | None) -> str:
    """Docker's ``RebaseArchiveEntries`` for one entry name."""
    if change is None:
        return name
    old, new = change
    return name.replace("" if old == "/" else old, new, 1)


def copy_info_destination(path: str) -> tuple[str, bool, bool]:
    """Docker's ``CopyInfoDestinationPath``: (path, exists, is a dir), symlinks at the
    end followed; the parent of a missing destination must be a directory."""
    import stat as st_mod

    original = path
    for _ in range(11):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            parent = split_path_dir_entry(path)[0]
            if not os.path.exists(parent):
                raise CommandFailed(f"stat {parent}: no such file or directory") from None
            if not os.path.isdir(parent):
                raise CommandFailed("not a directory") from None
            return path, False, False
        if not st_mod.S_ISLNK(st.st_mode):
            return path, True, st_mod.S_ISDIR(st.st_mode)
        target = os.readlink(path)
        if not target.startswith("/"):
            target = os.path.join(split_path_dir_entry(path)[0], target)
        path = target
    raise CommandFailed(f"too many symlinks in {original}")


def source_path(path: str, follow: bool) -> tuple[str, str]:
    """Docker's ``ResolveHostSourcePath``: (resolved path, rebase name)."""
    if follow:
        resolved = os.path.realpath(path)
        if specifies_current_dir(path) and not specifies_current_dir(resolved):
            resolved += "/."
        if path.endswith("/") and not resolved.endswith("/"):
            resolved += "/"
        return resolved, go_base(path) if go_base(path) != go_base(resolved) else ""
    head, _, base = path.rpartition("/")
    resolved = os.path.realpath(head or "/").rstrip("/") + "/" + base
    if path.endswith("/") and go_base(path) != go_base(resolved):
        return resolved, go_base(path)
    return resolved, ""


def walk_entries(src_dir: str, include: str) -> Iterator[tuple[str, str]]:
    """(host path, entry name) of ``include`` under ``src_dir``, as docker's TarWithOptions
    names them: ``name``, ``name/child``; for ``.``: ``.``, ``./child``."""
    root = os.path.join(src_dir, include)
    yield root, include
    if not os.path.isdir(root) or os.path.islink(root):
        return
    prefix = "./" if include == "." else include + "/"
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        base = prefix if rel == "." else f"{prefix}{rel}/"
        for name in sorted(dirnames + filenames):
            yield os.path.join(dirpath, name), base + name


class ChunkReader:
    """A file-like view of an iterator of byte chunks (for ``tarfile`` streams)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._buf += chunk
        if size < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:size], self._buf[size:]
        return data


class LocalExtract:
    """Docker's client-side ``Untar`` (no chown, no replacing a dir by a non-dir or back)
    into ``dest``; an entry whose parent inside ``dest`` is a symlink is refused."""

    def __init__(self, dest: str) -> None:
        self.dest = os.path.abspath(dest)

    def _target(self, name: str) -> str:
        import posixpath

        rel = posixpath.normpath("/" + name).lstrip("/")
        lexical = posixpath.normpath(name)
        if lexical == ".." or lexical.startswith("../"):
            raise CommandFailed(f"refusing archive entry {name!r}: it leaves {self.dest}")
        cur = self.dest
        for part in rel.split("/")[:-1] if rel else []:
            cur = os.path.join(cur, part)
            if os.path.islink(cur):
                raise CommandFailed(f"refusing archive entry {name!r}: {cur} is a symlink")
            if not os.path.exists(cur):
                os.mkdir(cur, 0o755)
        return os.path.join(self.dest, rel) if rel else self.dest

    def run(self, tar: tarfile.TarFile, change: tuple[str, str] | None) -> None:
        import shutil

        dirs = []
        for member in tar:
            member.name = rebase(member.name, change)
            path = self._target(member.name)
            if os.path.lexists(path):
                is_dir = os.path.isdir(path) and not os.path.islink(path)
                if is_dir != member.isdir():
                    kind = "directory" if is_dir else "non-directory"
                    raise CommandFailed(f"cannot overwrite {kind} {path!r} with {member.name!r}")
                if is_dir and path == self.dest:
                    continue
                if not is_dir:
                    os.unlink(path)
            self._create(tar, member, path, shutil)
            if member.isdir():
                dirs.append((path, member.mtime))
        for path, mtime in reversed(dirs):
            os.utime(path, (mtime, mtime))

    def _create(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: str, shutil: Any
    ) -> None:
        if member.isdir():
            if not os.path.isdir(path):
                os.mkdir(path, 0o755)
        elif member.isreg():
            src = tar.extractfile(member)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as f:
                if src is not None:
                    shutil.copyfileobj(src, f)
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            os.link(self._target(rebase(member.linkname, None)), path, follow_symlinks=False)
        else:
            return  # devices and fifos need root and are left out, as docker's rootless cp
        if not member.issym():
            os.chmod(path, member.mode & 0o7777)
            os.utime(path, (member.mtime, member.mtime))
