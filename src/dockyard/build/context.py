"""The build context: the tar a client sends, unpacked into a private directory.

``unpack_context(stream, dest, dockerfile)`` extracts the tar (plain or compressed)
safely (no absolute paths, nothing outside ``dest``, nothing written through a
symlink, no device nodes; symlinks stay symlinks, whatever they point at), reads the Dockerfile
named by the client (``-f``: a path inside the context, where the docker CLI also puts
a Dockerfile from outside it) and applies ``.dockerignore``: ignored files are removed
from the context, so that no COPY can see them. The Dockerfile and ``.dockerignore``
themselves are read before that and removed too when the patterns say so, as dockerd
does.
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from dockyard.errors import InvalidArgument

from .ignore import Matcher
from .safetar import extract_all

IGNORE_FILE = ".dockerignore"
DEFAULT_DOCKERFILE = "Dockerfile"
MAX_DOCKERFILE = 4 << 20


@dataclass(frozen=True)
class Context:
    root: Path
    dockerfile: str  # its text
    dockerfile_name: str  # as the client named it, for messages
    ignore: Matcher


def _clean_name(name: str) -> str:
    clean = posixpath.normpath(name.replace("\\", "/")).lstrip("/")
    if clean in ("", ".") or clean.startswith("../") or clean == "..":
        raise InvalidArgument(
            f"the Dockerfile path {name!r} must name a file inside the build context"
        )
    return clean


COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd")


class _Padded(io.RawIOBase):
    """A plain tar stream completed with its end-of-archive blocks if they are missing.

    The docker CLI sends a ``-f`` Dockerfile from outside the context as the last member
    of the tar, without its padding and the two zero blocks after it (its tar rewriter
    closes the pipe first); dockerd's Go reader takes that, so we do too. A compressed
    stream is passed through as it is."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__()
        self._stream = stream
        self._head = stream.read(512)
        self._plain = not self._head.startswith(COMPRESSED_MAGIC)
        self._size = 0
        self._tail: bytes | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n], self._head = self._head[:n], self._head[n:]
            self._size += n
            return n
        if self._tail is None:
            data = self._stream.read(len(view))
            if data or not self._plain:
                view[: len(data)] = data
                self._size += len(data)
                return len(data)
            self._tail = bytes(-self._size % 512 + 1024)
        n = min(len(view), len(self._tail))
        view[:n], self._tail = self._tail[:n], self._tail[n:]
        return n


def unpack_context(stream: IO[bytes], dest: Path, dockerfile: str = "") -> Context:
    """Unpack the context tar into ``dest`` (which must exist and be empty)."""
    name = _clean_name(dockerfile or DEFAULT_DOCKERFILE)
    try:
        padded = io.BufferedReader(_Padded(stream))
        with tarfile.open(fileobj=padded, mode="r|*") as tar:
            extract_all(tar, dest)
    except OSError as e:
        raise InvalidArgument(f"cannot unpack the build context: {e}") from e
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise InvalidArgument(f"the build context is not a valid tar archive: {e}") from e
    text = _read_dockerfile(dest, name, dockerfile or DEFAULT_DOCKERFILE)
    ignore_path = dest / IGNORE_FILE
    ignore = Matcher([])
    if ignore_path.is_file() and not ignore_path.is_symlink():
        ignore = Matcher.from_text(ignore_path.read_text(errors="replace"))
    if ignore:
        _remove_ignored(dest, ignore)
    return Context(dest, text, dockerfile or DEFAULT_DOCKERFILE, ignore)


def _read_dockerfile(root: Path, name: str, shown: str) -> str:
    path = root / name
    if not path.is_file():
        # the docker CLI sends "Dockerfile" as written; dockerd also accepts "dockerfile"
        alt = root / "dockerfile"
        if name == DEFAULT_DOCKERFILE and alt.is_file():
            path = alt
        else:
            raise InvalidArgument(
                f"Cannot locate specified Dockerfile: {shown}: add it to the build "
                "context or point -f at it"
            )
    if path.is_symlink():
        raise InvalidArgument(f"the Dockerfile {shown} is a symlink: use the file itself")
    if path.stat().st_size > MAX_DOCKERFILE:
        raise InvalidArgument(f"the Dockerfile {shown} is larger than 4 MiB")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidArgument(f"the Dockerfile {shown} is not UTF-8 text: {e}") from e


def _remove_ignored(root: Path, ignore: Matcher) -> None:
    """Remove every ignored entry; an ignored dir stays while it holds an exception."""
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        rel_dir = os.path.relpath(dirpath, root)
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if ignore.ignored(rel):
                os.unlink(os.path.join(dirpath, name))
        for name in dirnames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                continue
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if ignore.ignored(rel) and not os.listdir(full):
                os.rmdir(full)


def remove_context(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
