"""Crash-safe file writes: temp file, fsync, rename, fsync the directory."""

from __future__ import annotations

import os


def write_atomic(path: str, data: bytes, mode: int = 0o600, durable: bool = False) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new file, never half.

    ``durable`` also fsyncs, for files that must survive a power cut; runtime state
    under /run lives on tmpfs and skips it.
    """
    # a name of its own per call: two threads may save the same file at once
    tmp = f"{path}.tmp{os.getpid()}-{os.urandom(4).hex()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    if durable:
        dfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
