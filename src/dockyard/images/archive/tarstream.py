"""The outer tar of an image archive: staging it into the store, and writing one.

Reading (``stage``) makes one pass over the stream, in whatever order its entries come:
small metadata files (top-level files, legacy ``<id>/json`` and ``VERSION``) are kept in
memory, every other regular file is streamed into the content store as it is read.
``blobs/<alg>/<hex>`` entries are checked against their names on the way in; other
files (legacy ``<id>/layer.tar``) are stored under the digest of their bytes. Symlinks
and hardlinks between entries are kept as aliases. Nothing is held in memory but the
metadata, and the blobs this pass created are listed so that a failed load can remove
exactly those.

Writing (``ArchiveWriter``) streams a tar to ``out``: entries carry mtime 0 and root
ownership, so the same images give the same archive bytes.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from dockyard.errors import DockyardError, InvalidArgument, NotFound, SystemFault
from dockyard.images.imagestore import ImageStore
from dockyard.images.layers import layer_tar
from dockyard.images.layertar.compression import CHUNK
from dockyard.store import ContentStore, LayerRecord
from dockyard.types.digest import HEX_LENGTHS, Digest

MAX_METADATA = 16 << 20  # a manifest, index or config larger than this is not one


def clean_path(name: str) -> str:
    """An entry name relative to the archive root (``./a//b`` -> ``a/b``); '' for root."""
    return posixpath.normpath("/" + name.replace("\\", "/")).lstrip("/")


def _is_metadata(path: str) -> bool:
    if "/" not in path:
        return path != "" and not path.endswith(".tar")
    head, _, base = path.rpartition("/")
    return "/" not in head and base in ("json", "VERSION")


def _blob_digest(path: str) -> Digest | None:
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "blobs" and parts[1] in HEX_LENGTHS:
        try:
            return Digest(parts[1], parts[2])
        except InvalidArgument:
            return None
    return None


@dataclass
class Staged:
    """What one pass over an archive found: metadata files, stored blobs, aliases."""

    content: ContentStore
    files: dict[str, bytes] = field(default_factory=dict)
    blobs: dict[str, Digest] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    created: set[Digest] = field(default_factory=set)
    known: set[Digest] = field(default_factory=set)
    """The blobs the store had before the load (``created`` excludes them)."""

    def _resolve(self, path: str) -> str:
        seen: set[str] = set()
        while path in self.links and path not in seen:
            seen.add(path)
            path = self.links[path]
        return path

    def has(self, path: str) -> bool:
        path = self._resolve(clean_path(path))
        return path in self.files or path in self.blobs

    def blob(self, path: str, what: str) -> Digest:
        """The stored digest of entry ``path`` (NotFound naming ``what`` if absent)."""
        real = self._resolve(clean_path(path))
        if real in self.blobs:
            return self.blobs[real]
        digest = _blob_digest(real)
        if digest is not None and self.content.exists(digest):
            return digest  # an OCI layout may leave out blobs the store has already
        if real in self.files:
            raise InvalidArgument(f"{what} {path!r} in the archive is not a layer file")
        raise NotFound(f"invalid image archive: {what} {path!r} is missing from the archive")

    def read(self, path: str, what: str) -> bytes:
        """A small file's bytes, from memory or from the blob it was stored as."""
        real = self._resolve(clean_path(path))
        if real in self.files:
            return self.files[real]
        digest = self.blob(path, what)
        if self.content.size(digest) > MAX_METADATA:
            raise InvalidArgument(f"invalid image archive: {what} {path!r} is too large")
        return self.content.read(digest)


def stage(content: ContentStore, stream: BinaryIO, staged: Staged) -> None:
    """Read the whole archive from ``stream`` into ``staged`` (see the module doc).

    ``staged.created`` lists the new blobs even when this raises, so the caller can
    remove them.
    """
    try:
        tar = tarfile.open(fileobj=stream, mode="r|*")  # noqa: SIM115
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise InvalidArgument(f"not an image archive: {e}") from e
    try:
        with tar:
            for member in tar:
                _stage_member(content, tar, member, staged)
    except DockyardError:
        raise
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise InvalidArgument(f"not an image archive: truncated or corrupt: {e}") from e


def _stage_member(
    content: ContentStore, tar: tarfile.TarFile, member: tarfile.TarInfo, staged: Staged
) -> None:
    path = clean_path(member.name)
    if member.issym() or member.islnk():
        base = posixpath.dirname(path) if member.issym() else ""
        staged.links[path] = clean_path(posixpath.join(base, member.linkname))
        return
    if not member.isreg() or not path:
        return
    src = tar.extractfile(member)
    if src is None:
        return
    if _is_metadata(path):
        if member.size > MAX_METADATA:
            raise InvalidArgument(f"invalid image archive: {path!r} is too large")
        staged.files[path] = src.read()
        return
    try:
        desc = content.ingest(src, expected=_blob_digest(path), expected_size=member.size)
    except InvalidArgument as e:
        raise InvalidArgument(f"invalid image archive: entry {path!r}: {e}") from e
    if desc.digest not in staged.known:
        staged.created.add(desc.digest)
    staged.blobs[path] = desc.digest


class ArchiveWriter:
    """Streams an image archive to ``out`` (a tar, never seeked)."""

    def __init__(self, out: IO[bytes], store: ImageStore) -> None:
        self._tar = tarfile.open(  # noqa: SIM115
            fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, bufsize=CHUNK
        )
        self._store = store
        self._dirs: set[str] = set()

    def close(self) -> None:
        self._tar.close()

    def _info(self, path: str, kind: bytes, size: int = 0) -> tarfile.TarInfo:
        info = tarfile.TarInfo(path)
        info.type = kind
        info.size = size
        info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    def add_dir(self, path: str) -> None:
        for i, _ in enumerate(parts := path.split("/")):
            sub = "/".join(parts[: i + 1])
            if sub not in self._dirs:
                self._dirs.add(sub)
                self._tar.addfile(self._info(sub + "/", tarfile.DIRTYPE))

    def add_bytes(self, path: str, data: bytes) -> None:
        self._tar.addfile(self._info(path, tarfile.REGTYPE, len(data)), io.BytesIO(data))

    def add_symlink(self, path: str, target: str) -> None:
        info = self._info(path, tarfile.SYMTYPE)
        info.mode = 0o777
        info.linkname = target
        self._tar.addfile(info)

    def add_stream(self, path: str, src: IO[bytes], size: int) -> None:
        self._tar.addfile(self._info(path, tarfile.REGTYPE, size), src)

    def add_layer(self, path: str, layer: LayerRecord, diff_id: Digest) -> int:
        """Write ``layer``'s uncompressed tar as ``path``; answer its size.

        The stored tar is copied straight from the content store; a layer without one
        is diffed out of its snapshot into a temp file first (a tar entry needs its size
        up front). SystemFault if those bytes do not hash to the config's ``diff_id``.
        """
        content = self._store.content
        if layer.diff_id == diff_id and content.exists(diff_id):
            size = content.size(diff_id)
            with content.open(diff_id) as src:
                self.add_stream(path, src, size)
            return size
        with _temp(self._store.root) as tmp:
            result = layer_tar(self._store, layer, tmp)
            if result.diff_id != str(diff_id):
                raise SystemFault(
                    f"layer {layer.chain_id} gives a tar with digest {result.diff_id}, but "
                    f"the image config names {diff_id}; the layer cannot be exported"
                )
            tmp.seek(0)
            self.add_stream(path, tmp, result.size)
            return result.size


@contextlib.contextmanager
def _temp(root: Path) -> Iterator[IO[bytes]]:
    with tempfile.TemporaryFile(dir=root, prefix="save-") as tmp:
        yield tmp


def parse_json(data: bytes, what: str) -> Any:
    """A JSON document; InvalidArgument naming ``what`` if it is not one."""
    import json

    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"invalid image archive: {what} is not valid JSON: {e}") from e
