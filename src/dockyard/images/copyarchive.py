"""``docker cp`` inside a container's root: stat a path, tar it, extract a tar into a dir.

These functions run in a child process whose root directory *is* the container's root
(``containerfs.run_in_root`` chroots into it first), so every path is a container path
and every symlink, ``..`` included, resolves inside the container: nothing here can
reach the host, whatever links the container planted or swaps while we work.

Names and rules are Docker's (``daemon/archive*.go``, ``pkg/archive``): the path is made
absolute and cleaned, a trailing ``/`` or ``/.`` kept; the stat's ``mode`` is Go's
``os.FileMode``; a directory's tar entries start with its base name (``etc/``,
``etc/passwd``), those of ``dir/.`` with ``./``; extraction follows a final symlink to
the target directory, merges directories, replaces other entries, and keeps the tar's
owners unless told to chown everything to one user.

Everything this module needs is imported at load time: after the chroot the host's
Python library is out of reach.
"""

from __future__ import annotations

import bz2  # noqa: F401  - tarfile's "r|*" imports these lazily; the chroot hides them
import datetime
import errno
import lzma  # noqa: F401
import os
import posixpath
import shutil
import stat
import tarfile
import zlib  # noqa: F401
from dataclasses import dataclass
from typing import Any, BinaryIO

from dockyard.errors import InvalidArgument, NotFound

from .layertar.compression import CHUNK, Writable
from .layertar.tarwriter import LayerTarWriter

# Go's os.FileMode type bits (what the docker CLI tests in the stat header's "mode")
GO_DIR = 1 << 31
GO_SYMLINK = 1 << 27
GO_DEVICE = 1 << 26
GO_NAMED_PIPE = 1 << 25
GO_SOCKET = 1 << 24
GO_SETUID = 1 << 23
GO_SETGID = 1 << 22
GO_CHAR_DEVICE = 1 << 21
GO_STICKY = 1 << 20
XATTR_PREFIX = "SCHILY.xattr."


def go_file_mode(mode: int) -> int:
    """``st_mode`` as Go's ``os.FileMode``."""
    out = mode & 0o777
    kind = stat.S_IFMT(mode)
    out |= {
        stat.S_IFDIR: GO_DIR,
        stat.S_IFLNK: GO_SYMLINK,
        stat.S_IFBLK: GO_DEVICE,
        stat.S_IFCHR: GO_DEVICE | GO_CHAR_DEVICE,
        stat.S_IFIFO: GO_NAMED_PIPE,
        stat.S_IFSOCK: GO_SOCKET,
    }.get(kind, 0)
    if mode & stat.S_ISUID:
        out |= GO_SETUID
    if mode & stat.S_ISGID:
        out |= GO_SETGID
    if mode & stat.S_ISVTX:
        out |= GO_STICKY
    return out


def go_time(ns: int) -> str:
    """Go's JSON time (RFC 3339 with nanoseconds, trailing zeros dropped), in UTC."""
    seconds, frac = divmod(ns, 1_000_000_000)
    base = datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{frac:09d}".rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


def go_base(path: str) -> str:
    """Go's ``filepath.Base``."""
    if not path:
        return "."
    stripped = path.rstrip("/")
    if not stripped:
        return "/"
    return stripped.rpartition("/")[2]


def specifies_current_dir(path: str) -> bool:
    return go_base(path) == "."


def absolute_path(path: str) -> str:
    """The container path ``path`` made absolute and clean, keeping a trailing ``/`` or
    ``/.`` (Docker's ``PreserveTrailingDotOrSeparator(filepath.Join("/", path), path)``)."""
    cleaned = posixpath.normpath("/" + path.lstrip("/"))
    if not specifies_current_dir(cleaned) and specifies_current_dir(path):
        if not cleaned.endswith("/"):
            cleaned += "/"
        cleaned += "."
    if not cleaned.endswith("/") and path.endswith("/"):
        cleaned += "/"
    return cleaned


@dataclass(frozen=True)
class PathStat:
    """``X-Docker-Container-Path-Stat``: what ``HEAD /containers/{id}/archive`` tells."""

    name: str
    size: int
    mode: int  # Go's os.FileMode
    mtime: str
    link_target: str

    def docker(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "size": self.size,
            "mode": self.mode,
            "mtime": self.mtime,
            "linkTarget": self.link_target,
        }

    @classmethod
    def from_docker(cls, doc: dict[str, Any]) -> PathStat:
        return cls(
            str(doc.get("name", "")),
            int(doc.get("size", 0)),
            int(doc.get("mode", 0)),
            str(doc.get("mtime", "")),
            str(doc.get("linkTarget", "")),
        )

    @property
    def is_dir(self) -> bool:
        return bool(self.mode & GO_DIR)


def _lstat(path: str, shown: str) -> os.stat_result:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        raise NotFound(f"could not find the file {shown}") from None
    except NotADirectoryError:
        raise InvalidArgument(f"lstat {shown}: not a directory") from None


def stat_path(path: str) -> PathStat:
    """The stat of container path ``path`` (its last element is not followed)."""
    abs_path = absolute_path(path)
    st = _lstat(abs_path, path)
    target = ""
    if stat.S_ISLNK(st.st_mode):
        # resolved in the chroot: '..' stops at the container's root, as Docker's
        # FollowSymlinkInScope does
        target = os.path.realpath(abs_path)
    return PathStat(go_base(abs_path), st.st_size, go_file_mode(st.st_mode),
                    go_time(st.st_mtime_ns), target)  # fmt: skip


def archive_names(abs_path: str, is_dir: bool) -> tuple[str, str, str]:
    """(source dir, include, rebase name) of Docker's tar of ``abs_path``."""
    if is_dir:
        return abs_path, ".", go_base(abs_path)
    head, _, tail = abs_path.rpartition("/")
    return head + "/", tail, go_base(abs_path)


def entry_name(rel: str, include: str, rebase: str) -> str:
    """The tar name of ``rel`` (relative to the source dir) under Docker's rebase rule."""
    if include == "." and rel != ".":
        rel = "./" + rel
    replacement = "" if rebase == "/" else rebase
    return rel.replace(include, replacement, 1)


def write_tar(path: str, out: Writable) -> int:
    """Write Docker's tar of container path ``path`` to ``out``; answer the bytes."""
    abs_path = absolute_path(path)
    st = _lstat(abs_path, path)
    source, include, rebase = archive_names(abs_path, stat.S_ISDIR(st.st_mode))
    writer = LayerTarWriter(out)
    root = posixpath.join(source, include) if include != "." else source

    def add(host: str, rel: str, st: os.stat_result) -> None:
        try:
            writer.add(host, entry_name(rel, include, rebase), st)
        except InvalidArgument:
            pass  # a .wh. name: Docker's archive would carry it, our layer writer cannot

    add(root, include if include != "." else ".", st)
    if stat.S_ISDIR(st.st_mode):
        prefix = "" if include == "." else include + "/"
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel_dir = posixpath.relpath(dirpath, root)
            base = prefix if rel_dir == "." else f"{prefix}{rel_dir}/"
            for name in sorted(dirnames + filenames):
                host = posixpath.join(dirpath, name)
                try:
                    child = os.lstat(host)
                except FileNotFoundError:
                    continue  # removed while we walk
                add(host, base + name, child)
    return writer.close().size


# -- extraction ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtractOptions:
    no_overwrite_dir_non_dir: bool = False
    chown: tuple[int, int] | None = None  # every entry owned by this uid/gid
    readonly_rootfs: bool = False
    writable_mounts: tuple[str, ...] = ()  # container paths where writes are allowed then


def extraction_dir(path: str) -> str:
    """The directory ``path`` names, its final symlink followed (inside the root)."""
    abs_path = absolute_path(path)
    resolved = os.path.realpath(abs_path)
    st = _lstat(resolved, path)
    if not stat.S_ISDIR(st.st_mode):
        raise InvalidArgument("extraction point is not a directory")
    return resolved


def _within(path: str, mounts: tuple[str, ...]) -> bool:
    return any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts)


def extract_tar(path: str, source: BinaryIO, options: ExtractOptions) -> None:
    """Extract the tar (optionally compressed) read from ``source`` into dir ``path``."""
    dest = extraction_dir(path)
    if options.readonly_rootfs and not _within(dest, options.writable_mounts):
        raise InvalidArgument("container rootfs is marked read-only")
    dirs: list[tuple[str, tarfile.TarInfo]] = []
    try:
        tar = tarfile.open(fileobj=source, mode="r|*")  # noqa: SIM115
    except tarfile.TarError as e:
        raise InvalidArgument(f"the request body is not a tar archive: {e}") from e
    with tar:
        for member in tar:
            target = _extract_one(tar, member, dest, options)
            if target is not None and member.isdir():
                dirs.append((target, member))
    for target, member in dirs:
        os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)


def _extract_one(
    tar: tarfile.TarFile, member: tarfile.TarInfo, dest: str, options: ExtractOptions
) -> str | None:
    name = posixpath.normpath("/" + member.name).lstrip("/") or "."
    lexical = posixpath.normpath(member.name)
    if lexical == ".." or lexical.startswith("../"):
        raise InvalidArgument(f"refusing tar entry {member.name!r}: it is outside of {dest}")
    path = dest if name == "." else posixpath.join(dest, name)
    if name != ".":
        parent = posixpath.dirname(path)
        if not os.path.lexists(parent):
            os.makedirs(parent, 0o755, exist_ok=True)
    try:
        existing: os.stat_result | None = os.lstat(path)
    except FileNotFoundError:
        existing = None
    if existing is not None:
        is_dir = stat.S_ISDIR(existing.st_mode)
        if options.no_overwrite_dir_non_dir and is_dir and not member.isdir():
            raise InvalidArgument(
                f"cannot overwrite directory {path!r} with non-directory {member.name!r}"
            )
        if options.no_overwrite_dir_non_dir and not is_dir and member.isdir():
            raise InvalidArgument(
                f"cannot overwrite non-directory {path!r} with directory {member.name!r}"
            )
        if is_dir and name == ".":
            return None
        if not (is_dir and member.isdir()):
            if is_dir:
                shutil.rmtree(path)
            else:
                os.unlink(path)
    _create(tar, member, path, dest)
    uid, gid = options.chown if options.chown is not None else (member.uid, member.gid)
    os.lchown(path, uid, gid)
    for key, value in member.pax_headers.items():
        if key.startswith(XATTR_PREFIX):
            try:
                raw = value.encode("utf-8", "surrogateescape")
                os.setxattr(path, key[len(XATTR_PREFIX) :], raw, follow_symlinks=False)
            except OSError as e:
                if e.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise
    if not member.issym():
        os.chmod(path, member.mode & 0o7777)
        if not member.isdir():
            os.utime(path, (member.mtime, member.mtime))
    return path


def _create(tar: tarfile.TarFile, member: tarfile.TarInfo, path: str, dest: str) -> None:
    if member.isdir():
        if not os.path.isdir(path) or os.path.islink(path):
            os.mkdir(path, 0o755)
    elif member.isreg():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        src = tar.extractfile(member)
        with os.fdopen(fd, "wb") as f:
            while src is not None and (chunk := src.read(CHUNK)):
                f.write(chunk)
    elif member.issym():
        os.symlink(member.linkname, path)
    elif member.islnk():
        link = posixpath.normpath(posixpath.join(dest, member.linkname.lstrip("/")))
        os.link(link, path, follow_symlinks=False)
    elif member.ischr() or member.isblk() or member.isfifo():
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else stat.S_IFIFO
        os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
    else:
        raise InvalidArgument(f"unhandled tar entry type of {member.name!r}")


def lookup_user(user: str) -> tuple[int, int]:
    """The uid and gid of ``user`` (``name``, ``uid``, ``name:group``, ...) by the
    container's own /etc/passwd and /etc/group (we are in its root)."""
    name, _, group = user.partition(":")

    def table(path: str) -> list[list[str]]:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return [line.rstrip("\n").split(":") for line in f if ":" in line]
        except OSError:
            return []

    uid = gid = None
    for row in table("/etc/passwd"):
        if len(row) > 3 and (row[0] == name or row[2] == name):
            uid, gid = int(row[2]), int(row[3])
            break
    if uid is None:
        if not name.isdigit():
            raise NotFound(f"unable to find user {name}: no matching entries in passwd file")
        uid = gid = int(name)
    if group:
        for row in table("/etc/group"):
            if len(row) > 2 and (row[0] == group or row[2] == group):
                gid = int(row[2])
                break
        else:
            if not group.isdigit():
                raise NotFound(f"unable to find group {group}: no matching entries in group file")
            gid = int(group)
    return uid, gid if gid is not None else uid
