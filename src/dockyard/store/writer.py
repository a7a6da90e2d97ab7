"""Writing one blob: a locked file under ``ingest/``, hashed as it grows, renamed on commit.

``BlobWriter`` objects come from ``ContentStore.writer()`` and ``ContentStore.ingest``;
the module also holds the two file-system primitives the store's crash safety rests on
(``open_locked``, ``fsync_dir``).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from dockyard.errors import Conflict, InvalidArgument, SystemFault
from dockyard.types.descriptor import OCTET_STREAM, Descriptor
from dockyard.types.digest import Digest, new_hasher

if TYPE_CHECKING:
    from hashlib import _Hash

_CHUNK = 1 << 20
_LOCK_ATTEMPTS = 100


def fsync_dir(path: Path) -> None:
    """Make a rename or create inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_locked(path: Path, flags: int, mode: int = 0o600) -> int | None:
    """Open ``path`` holding an exclusive ``flock``; None if someone else holds it.

    Also None if the file does not exist (and ``flags`` lacks O_CREAT). The check after
    locking makes sure the path still names the locked file: whoever unlinks a file
    under ``ingest/`` does so while holding its lock, so a stale handle is retried.
    """
    for _ in range(_LOCK_ATTEMPTS):
        try:
            fd = os.open(path, flags | os.O_CLOEXEC, mode)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
        if not flags & os.O_CREAT:
            return None
    raise SystemFault(f"cannot lock {path}: it keeps being replaced")


class BlobWriter:
    """Appends to one blob under ``ingest/``; ``commit`` verifies and publishes it.

    Use as a context manager: leaving it without ``commit`` removes a private temp file
    but keeps a resumable ``.partial``. Not thread-safe (one writer, one thread).
    """

    def __init__(
        self,
        fd: int,
        temp: Path,
        blobs: Path,
        expected: Digest | None,
        expected_size: int | None,
        *,
        resumable: bool,
        hasher: _Hash | None = None,
        offset: int = 0,
    ) -> None:
        self._fd = fd
        self._temp = temp
        self._blobs = blobs
        self._expected = expected
        self._expected_size = expected_size
        self._resumable = resumable
        algorithm = "sha256" if expected is None else expected.algorithm
        self._hasher = hasher if hasher is not None else new_hasher(algorithm)
        self._offset = offset
        self.complete = False
        """True once the blob is in the store (committed, or there already)."""

    @classmethod
    def resume(
        cls, fd: int, partial: Path, blobs: Path, expected: Digest, expected_size: int | None
    ) -> BlobWriter:
        """Continue a ``.partial``: re-hash what is there (hash state is not storable)."""
        hasher = new_hasher(expected.algorithm)
        offset = 0
        while chunk := os.read(fd, _CHUNK):
            hasher.update(chunk)
            offset += len(chunk)
        if expected_size is not None and offset > expected_size:
            os.ftruncate(fd, 0)  # longer than the blob: cannot be a prefix of it
            hasher, offset = new_hasher(expected.algorithm), 0
        os.lseek(fd, offset, os.SEEK_SET)
        return cls(
            fd,
            partial,
            blobs,
            expected,
            expected_size,
            resumable=True,
            hasher=hasher,
            offset=offset,
        )

    @classmethod
    def finished(cls, blobs: Path, digest: Digest, size: int) -> BlobWriter:
        """A writer for a blob that exists already: nothing to write."""
        writer = cls(-1, Path(), blobs, digest, size, resumable=False, offset=size)
        writer.complete = True
        return writer

    @property
    def offset(self) -> int:
        """Bytes written so far, including those of a resumed ``.partial``."""
        return self._offset

    @property
    def expected(self) -> Digest | None:
        return self._expected

    def write(self, data: bytes | memoryview) -> int:
        """Append ``data``; InvalidArgument (and nothing kept) if it exceeds the size."""
        self._check_writable()
        if self._expected_size is not None and self._offset + len(data) > self._expected_size:
            got = self._offset + len(data)
            self._abort()
            raise InvalidArgument(
                f"size mismatch for {self._label()}: expected {self._expected_size} bytes, "
                f"got at least {got}"
            )
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as e:
            raise SystemFault(f"cannot write {self._temp}: {e.strerror}") from e
        self._hasher.update(data)
        self._offset += len(data)
        return len(data)

    def reset(self) -> None:
        """Start over from byte 0 (the server ignored a Range request)."""
        self._check_writable()
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        self._hasher = new_hasher(self._hasher.name)
        self._offset = 0

    def commit(self, media_type: str = OCTET_STREAM) -> Descriptor:
        """Verify digest and size, then publish the blob (idempotent if it exists)."""
        if self.complete:
            assert self._expected is not None
            return Descriptor(media_type, self._expected, self._offset)
        self._check_writable()
        actual = Digest.from_hasher(self._hasher)
        if self._expected_size is not None and self._offset != self._expected_size:
            self._abort()
            raise InvalidArgument(
                f"size mismatch for {self._label()}: expected {self._expected_size} bytes, "
                f"got {self._offset}"
            )
        if self._expected is not None and actual != self._expected:
            self._abort()
            raise InvalidArgument(f"digest mismatch: expected {self._expected}, got {actual}")
        target = self._blobs / actual.algorithm / actual.hex
        try:
            os.fsync(self._fd)
            os.fchmod(self._fd, 0o444)
            target.parent.mkdir(mode=0o700, exist_ok=True)
            if target.exists():
                self._temp.unlink()  # another writer won: same bytes, keep theirs
            else:
                # a concurrent rename of the same content onto target is harmless
                os.rename(self._temp, target)
                fsync_dir(target.parent)
        except OSError as e:
            self._abort()
            raise SystemFault(f"cannot store blob {actual}: {e.strerror}") from e
        self._release()
        self.complete = True
        return Descriptor(media_type, actual, self._offset)

    def close(self) -> None:
        """Give up without committing: drop a temp file, keep a ``.partial``."""
        if self._fd < 0:
            return
        if not self._resumable:
            try:
                self._temp.unlink()
            except FileNotFoundError:
                pass
        self._release()

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _label(self) -> str:
        return str(self._expected) if self._expected is not None else "blob"

    def _check_writable(self) -> None:
        if self.complete:
            raise Conflict(f"blob {self._label()} is stored already: nothing to write")
        if self._fd < 0:
            raise InvalidArgument(f"writer for {self._label()} is closed")

    def _abort(self) -> None:
        # unlink while the lock is held, so nobody resumes a file being discarded
        try:
            self._temp.unlink()
        except FileNotFoundError:
            pass
        self._release()

    def _release(self) -> None:
        os.close(self._fd)  # closing drops the flock
        self._fd = -1
