"""Extracting a tar without trusting it (this Python's ``tarfile`` has no filters).

No absolute or climbing names, nothing written through a symlink that an earlier
member made, no device nodes; owners, modes and times as the archive says.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

from dockyard.errors import InvalidArgument


def _member_path(dest: Path, name: str) -> Path | None:
    """Where a member goes; None for the root itself. Refuses names that leave ``dest``
    and parents that are not real directories (a symlink in the context earlier)."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArgument(f"the archive has a path that leaves it: {name!r}")
    if not parts:
        return None
    probe = dest
    for part in parts[:-1]:
        probe = probe / part
        if probe.is_symlink() or (probe.exists() and not probe.is_dir()):
            raise InvalidArgument(
                f"the archive has {name!r} below a symlink or a file: {probe.name!r}"
            )
    return dest.joinpath(*parts)


def extract_all(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract member by member (this Python's tarfile has no extraction filters):
    no absolute or climbing names, nothing through a symlink, no device nodes."""
    dirs: list[tuple[Path, tarfile.TarInfo]] = []
    for member in tar:
        target = _member_path(dest, member.name)
        if target is None or member.ischr() or member.isblk():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(target) and not (member.isdir() and target.is_dir()):
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()
        if member.isdir():
            target.mkdir(exist_ok=True)
            dirs.append((target, member))
        elif member.issym():
            os.symlink(member.linkname, target)
        elif member.islnk():
            source = _member_path(dest, member.linkname)
            if source is None or not source.is_file() or source.is_symlink():
                raise InvalidArgument(f"the archive has a bad hard link {member.name!r}")
            os.link(source, target)
        elif member.isfifo():
            os.mkfifo(target)
        else:
            data = tar.extractfile(member)
            assert data is not None
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as f:
                shutil.copyfileobj(data, f)
        if not member.issym():
            os.lchown(target, member.uid, member.gid)
            os.chmod(target, member.mode & 0o7777)
        os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)
    for path, member in reversed(dirs):  # after their contents, so the times stick
        os.utime(path, (member.mtime, member.mtime))
