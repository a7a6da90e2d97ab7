"""The content store: immutable blobs addressed by digest, laid out like an OCI layout.

``<root>/blobs/<algorithm>/<hex>`` holds a blob only once its bytes hash to that name:
writers stream into ``<root>/ingest/`` (same file system), hash as they go, fsync, and
rename into place, so a crash leaves a complete blob or none (plus a temp file that
``clean_ingest`` removes). Blobs are made read-only (0444); never modify one in place.

Every file under ``ingest/`` is ``flock``-ed by its writer for the writer's whole life
(threads and processes alike, the lock is per open file). A file nobody holds a lock on
belongs to a writer that crashed. Two kinds live there:

- ``tmp-<pid>-<random>``: one writer's private temp file (``ingest``, ``writer()``
  without an expected digest). Concurrent writers of the same blob never share one; the
  first rename wins and the others just drop their copy.
- ``<hex>.partial``: a resumable download keyed by its expected digest
  (``writer(expected)``). It survives a failed or interrupted writer so that a later one
  can continue from ``offset`` (HTTP ``Range: bytes=<offset>-``); only one writer may
  hold it at a time (Conflict otherwise).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from dockyard.errors import Conflict, InvalidArgument, NotFound, SystemFault
from dockyard.store.writer import BlobWriter, open_locked
from dockyard.types.descriptor import OCTET_STREAM, Descriptor
from dockyard.types.digest import HEX_LENGTHS, Digest, new_hasher

CHUNK = 1 << 20
_TEMP_ATTEMPTS = 100


class Readable(Protocol):
    """What ``ingest`` reads from: a binary file, a socket file, an HTTP response."""

    def read(self, size: int, /) -> bytes: ...


class ContentStore:
    """Blobs under ``root``; safe to share between threads and processes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._blobs = self.root / "blobs"
        self._ingest = self.root / "ingest"
        (self._blobs / "sha256").mkdir(mode=0o700, parents=True, exist_ok=True)
        self._ingest.mkdir(mode=0o700, exist_ok=True)

    # -- reading ---------------------------------------------------------------------

    def path(self, digest: Digest) -> Path:
        """Where the blob lives (or would live); does not check that it exists."""
        return self._blobs / digest.algorithm / digest.hex

    def exists(self, digest: Digest) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: Digest) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"no such blob: {digest}") from None

    def open(self, digest: Digest) -> BinaryIO:
        """The blob opened for reading (binary); the caller closes it."""
        try:
            return self.path(digest).open("rb")
        except FileNotFoundError:
            raise NotFound(f"no such blob: {digest}") from None

    def read(self, digest: Digest) -> bytes:
        """The whole blob; meant for small ones (manifests, configs)."""
        with self.open(digest) as f:
            return f.read()

    def digests(self) -> Iterator[Digest]:
        """Every blob in the store (in no particular order)."""
        for algorithm in HEX_LENGTHS:
            try:
                names = os.listdir(self._blobs / algorithm)
            except FileNotFoundError:
                continue
            for name in names:
                try:
                    yield Digest(algorithm, name)
                except InvalidArgument:
                    continue  # not ours: never guess what a stray file is

    def verify(self, digest: Digest) -> None:
        """Re-hash the blob; SystemFault if its content no longer matches its name."""
        hasher = new_hasher(digest.algorithm)
        with self.open(digest) as f:
            while chunk := f.read(CHUNK):
                hasher.update(chunk)
        actual = Digest.from_hasher(hasher)
        if actual != digest:
            raise SystemFault(
                f"blob {digest} is corrupt: its content hashes to {actual}; "
                "delete it and pull the image again"
            )

    # -- writing ---------------------------------------------------------------------

    def delete(self, digest: Digest) -> None:
        try:
            self.path(digest).unlink()
        except FileNotFoundError:
            raise NotFound(f"no such blob: {digest}") from None

    def ingest(
        self,
        source: Readable | bytes,
        expected: Digest | None = None,
        expected_size: int | None = None,
        media_type: str = OCTET_STREAM,
    ) -> Descriptor:
        """Store ``source`` (bytes or a binary stream read to its end) as a blob.

        With ``expected``/``expected_size`` the content is checked before it becomes
        visible: a mismatch raises InvalidArgument and leaves nothing behind. Ingesting a
        blob that exists already is a no-op; when ``expected`` names an existing blob,
        ``source`` is not even read.
        """
        if expected is not None and self.exists(expected):
            return self._existing(expected, expected_size, media_type)
        with self._temp_writer(expected, expected_size) as writer:
            if isinstance(source, bytes | bytearray | memoryview):
                view = memoryview(source)
                for start in range(0, len(view), CHUNK):
                    writer.write(view[start : start + CHUNK])
            else:
                while chunk := source.read(CHUNK):
                    writer.write(chunk)
            return writer.commit(media_type)

    def writer(
        self, expected: Digest | None = None, expected_size: int | None = None
    ) -> BlobWriter:
        """A writer for incremental writes; use it as a context manager.

        With ``expected`` the writer is resumable: it continues ``ingest/<hex>.partial``
        left by an earlier writer (``offset`` says how many bytes are there already) and
        keeps it if it ends without ``commit``. ``complete`` is true when the blob exists
        already (``commit`` then just returns its descriptor). Conflict if another writer
        is writing the same expected digest right now.
        """
        if expected is None:
            return self._temp_writer(None, expected_size)
        if self.exists(expected):
            size = self._existing(expected, expected_size, OCTET_STREAM).size
            return BlobWriter.finished(self._blobs, expected, size)
        partial = self._ingest / f"{expected.hex}.partial"
        fd = open_locked(partial, os.O_RDWR | os.O_CREAT)
        if fd is None:
            raise Conflict(
                f"blob {expected} is being written by another writer; retry once it finishes"
            )
        try:
            return BlobWriter.resume(fd, partial, self._blobs, expected, expected_size)
        except BaseException:
            os.close(fd)
            raise

    def clean_ingest(self, partial_max_age: float = 24 * 3600.0) -> list[Path]:
        """Remove what crashed writers left in ``ingest/``; return the removed paths.

        Temp files nobody holds are removed at once; a ``.partial`` nobody holds only
        once it is older than ``partial_max_age`` seconds (it may still be resumed), or
        when its blob exists already.
        """
        removed: list[Path] = []
        now = time.time()
        for name in os.listdir(self._ingest):
            path = self._ingest / name
            fd = open_locked(path, os.O_RDONLY)
            if fd is None:
                continue  # a live writer holds it, or it is gone already
            try:
                if name.endswith(".partial"):
                    hex_ = name.removesuffix(".partial")
                    stale = now - os.fstat(fd).st_mtime > partial_max_age
                    if not (stale or self._blob_with_hex_exists(hex_)):
                        continue
                path.unlink()
                removed.append(path)
            finally:
                os.close(fd)
        return removed

    # -- internals -------------------------------------------------------------------

    def _existing(self, digest: Digest, expected_size: int | None, media_type: str) -> Descriptor:
        size = self.size(digest)
        if expected_size is not None and size != expected_size:
            raise InvalidArgument(
                f"size mismatch for {digest}: expected {expected_size} bytes, "
                f"the stored blob has {size}"
            )
        return Descriptor(media_type, digest, size)

    def _blob_with_hex_exists(self, hex_: str) -> bool:
        return any((self._blobs / alg / hex_).is_file() for alg in HEX_LENGTHS)

    def _temp_writer(self, expected: Digest | None, expected_size: int | None) -> BlobWriter:
        for _ in range(_TEMP_ATTEMPTS):
            temp = self._ingest / f"tmp-{os.getpid()}-{os.urandom(8).hex()}"
            try:
                fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            except FileExistsError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.stat(temp).st_ino == os.fstat(fd).st_ino:
                    return BlobWriter(
                        fd, temp, self._blobs, expected, expected_size, resumable=False
                    )
            except (BlockingIOError, FileNotFoundError):
                pass  # clean_ingest took it between create and lock: pick another name
            os.close(fd)
        raise SystemFault(f"cannot create a temp file in {self._ingest}")


__all__ = ["CHUNK", "BlobWriter", "ContentStore", "Readable"]
