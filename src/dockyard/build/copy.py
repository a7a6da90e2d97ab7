"""COPY and ADD: sources in the context (or another stage), copied into a rootfs.

Docker's rules, as its legacy builder applies them:

- a source is a path or a pattern (``*``, ``?``, ``[...]`` as Go's ``filepath.Match``;
  dotfiles match too) relative to the context root; a symlink named as a source is
  followed (inside the context), symlinks inside a copied directory stay symlinks;
- a directory source copies its contents, not itself; a destination directory the
  copy creates is 0755;
- the destination is relative to WORKDIR; it is a directory when it ends in ``/``,
  when it already is one in the image, or when several sources are copied (then it
  must end in ``/``);
- everything copied (and every directory the copy creates) belongs to 0:0, or to
  ``--chown``; modes (less setuid and setgid) and mtimes come from the source;
  ``--chmod`` replaces the mode;
- ADD extracts a local tar archive (plain, gzip, bzip2 or xz) into the destination,
  keeping the archive's owners.

``checksum`` hashes what a COPY would copy (paths, types, modes, owners, sizes, link
targets and contents; not mtimes) for the build cache.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import InvalidArgument, NotFound
from dockyard.runtime.rootfs import resolve_in_root

from .safetar import extract_all

GLOB_CHARS = re.compile(r"[*?\[]")
ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


@dataclass(frozen=True)
class Source:
    path: Path  # on the host, symlinks resolved inside its root
    name: str  # as matched, relative to the root, for messages and the cache


def _pattern(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise InvalidArgument(f"invalid pattern {pattern!r}: missing ']'")
            body = pattern[i:end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
            i = end + 1
        elif ch == "\\" and i < len(pattern):
            out.append(re.escape(pattern[i]))
            i += 1
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + "$", re.DOTALL)


def find_sources(root: Path, patterns: list[str], what: str) -> list[Source]:
    """The sources ``patterns`` name under ``root``; NotFound for a missing one."""
    found: list[Source] = []
    for raw in patterns:
        if os.path.normpath(raw).split("/")[0] == "..":
            raise InvalidArgument(
                f"{what} failed: forbidden path outside the build context: {raw} ()"
            )
        rel = os.path.normpath("/" + raw).lstrip("/")
        if not GLOB_CHARS.search(rel):
            host = _inside(root, rel, raw, what)
            if not os.path.lexists(host):
                raise NotFound(
                    f"{what} failed: file not found in build context or excluded by "
                    f".dockerignore: stat {raw}: file does not exist"
                )
            found.append(Source(Path(host), rel or "."))
            continue
        regex = _pattern(rel)
        matches = []
        for dirpath, dirnames, filenames in os.walk(root):
            base = os.path.relpath(dirpath, root)
            for name in sorted(dirnames + filenames):
                path = name if base == "." else f"{base}/{name}"
                if regex.match(path):
                    matches.append(path)
            dirnames.sort()
        if not matches:
            raise NotFound(f"{what} failed: no source files were specified (nothing matches {raw})")
        found += [Source(Path(_inside(root, m, m, what)), m) for m in sorted(matches)]
    return found


def _inside(root: Path, rel: str, shown: str, what: str) -> str:
    try:
        return resolve_in_root(str(root), rel, what=f"{what} source")
    except InvalidArgument as e:
        raise InvalidArgument(f"{e}: sources must stay inside the build context") from e
    except OSError as e:
        raise InvalidArgument(f"{what} source {shown}: {e.strerror}") from e


def _entries(path: Path) -> Iterator[tuple[str, os.stat_result, Path]]:
    """``path`` and, for a directory, everything under it (sorted; links not followed)."""
    st = os.stat(path)  # the named source itself is followed
    yield ".", st, path
    if stat.S_ISDIR(st.st_mode):
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            base = os.path.relpath(dirpath, path)
            for name in sorted(dirnames + filenames):
                full = Path(dirpath) / name
                rel = name if base == "." else f"{base}/{name}"
                yield rel, os.lstat(full), full


def checksum(sources: list[Source]) -> str:
    """A digest of what copying ``sources`` would write (see the module doc)."""
    h = hashlib.sha256()
    for src in sources:
        h.update(f"source {src.name}\0".encode())
        try:
            entries = list(_entries(src.path))
        except OSError as e:
            raise InvalidArgument(f"cannot read {src.name}: {e.strerror}") from e
        for rel, st, full in entries:
            link = os.readlink(full) if stat.S_ISLNK(st.st_mode) else ""
            h.update(
                f"{rel}\0{st.st_mode:o}\0{st.st_uid}:{st.st_gid}\0{st.st_size}\0{link}\0".encode()
            )
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
    return "sha256:" + h.hexdigest()


@dataclass(frozen=True)
class Ownership:
    uid: int = 0
    gid: int = 0


def _mkdirs(rootfs: Path, path: str, owner: Ownership) -> str:
    """Make the container dir ``path`` (and its parents), new ones owned by ``owner``."""
    host = resolve_in_root(str(rootfs), path, what="destination")
    missing = []
    probe = host
    while not os.path.lexists(probe) and probe != str(rootfs):
        missing.append(probe)
        probe = os.path.dirname(probe)
    for d in reversed(missing):
        os.mkdir(d, 0o755)
        os.lchown(d, owner.uid, owner.gid)
    if not os.path.isdir(host):
        raise InvalidArgument(f"destination {path} exists and is not a directory")
    return host


def mkdirs(rootfs: Path, path: str) -> bool:
    """Make the container dir ``path`` (root's, 0755) unless it exists; True if made."""
    host = resolve_in_root(str(rootfs), path, what="WORKDIR")
    if os.path.isdir(host):
        return False
    _mkdirs(rootfs, path, Ownership())
    return True


def _mode(st: os.stat_result, chmod: int | None) -> int:
    """The mode a copy gets: ``--chmod``, else the source's without setuid and setgid
    (docker's copy from a build context drops them; sticky stays)."""
    return chmod if chmod is not None else stat.S_IMODE(st.st_mode) & ~0o6000


def _copy_file(src: Path, dst: str, owner: Ownership, chmod: int | None) -> None:
    if os.path.lexists(dst) and (os.path.isdir(dst) and not os.path.islink(dst)):
        shutil.rmtree(dst)
    elif os.path.lexists(dst):
        os.unlink(dst)
    st = os.lstat(src)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISREG(st.st_mode):
        shutil.copyfile(src, dst, follow_symlinks=False)
    elif stat.S_ISFIFO(st.st_mode):
        os.mkfifo(dst)
    else:
        return  # sockets and devices are not copied, as docker's tar leaves them out
    os.lchown(dst, owner.uid, owner.gid)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, _mode(st, chmod))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_dir(src: Path, dst: str, owner: Ownership, chmod: int | None) -> None:
    """The contents of ``src`` into the existing dir ``dst`` (whose mode stays)."""
    dirs: list[tuple[str, os.stat_result]] = []
    for rel, est, full in _entries(src):
        if rel == ".":
            continue
        target = os.path.join(dst, rel)
        if stat.S_ISDIR(est.st_mode):
            if os.path.lexists(target) and not (
                os.path.isdir(target) and not os.path.islink(target)
            ):
                os.unlink(target)
            if not os.path.lexists(target):
                os.mkdir(target)
            os.lchown(target, owner.uid, owner.gid)
            os.chmod(target, _mode(est, chmod))
            dirs.append((target, est))
        else:
            _copy_file(full, target, owner, chmod)
    for d, dst_st in reversed(dirs):  # after their contents, so the times stick
        os.utime(d, ns=(dst_st.st_atime_ns, dst_st.st_mtime_ns))


def is_archive(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    if head.startswith(ARCHIVE_MAGIC):
        return True
    return len(head) == 512 and head[257:262] == b"ustar"


def _extract(archive: Path, dst: str) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            extract_all(tar, Path(dst))
    except (tarfile.TarError, OSError, EOFError) as e:
        raise InvalidArgument(f"ADD failed: cannot extract {archive.name}: {e}") from e


def copy_sources(
    rootfs: Path,
    sources: list[Source],
    dest: str,
    *,
    workdir: str = "/",
    owner: Ownership | None = None,
    chmod: int | None = None,
    extract: bool = False,
    what: str = "COPY",
) -> None:
    """Copy ``sources`` to ``dest`` inside the mounted ``rootfs`` (module doc)."""
    owner = owner or Ownership()
    if not dest.startswith("/"):
        dest = os.path.join(workdir or "/", dest) + ("/" if dest.endswith("/") else "")
    as_dir = dest.endswith(("/", "/."))
    if len(sources) > 1 and not as_dir:
        raise InvalidArgument(
            f"When using {what} with more than one source file, the destination must be a "
            "directory and end with a /"
        )
    dest_host = resolve_in_root(str(rootfs), dest, what="destination")
    exists_as_dir = os.path.isdir(dest_host)
    for src in sources:
        st = os.stat(src.path)
        if stat.S_ISDIR(st.st_mode):
            _copy_dir(src.path, _mkdirs(rootfs, dest, owner), owner, chmod)
        elif extract and is_archive(src.path):
            _extract(src.path, _mkdirs(rootfs, dest, owner))
        else:
            if as_dir or exists_as_dir:
                parent = _mkdirs(rootfs, dest, owner)
                target = os.path.join(parent, os.path.basename(src.name))
            else:
                parent = _mkdirs(rootfs, os.path.dirname(dest.rstrip("/")) or "/", owner)
                target = os.path.join(parent, os.path.basename(dest.rstrip("/")))
            _copy_file(src.path, target, owner, chmod)
