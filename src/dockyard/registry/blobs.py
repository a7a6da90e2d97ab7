"""Blob transfers: HEAD, streamed download with resume, upload (monolithic or chunked),
cross-repository mount.

``fetch_blob`` writes into a ``BlobSink`` (the content store's resumable writer fits):
when the connection drops mid-body it asks again with ``Range: bytes=<offset>-`` and
carries on where it stopped (``resume_action`` decides from the answer: a 206 with the
right ``Content-Range`` continues, a 200 starts over, anything else fails). The sink
checks size and digest on ``commit``, so a tampered blob is refused and never stored.
Attempts that make no progress are bounded (``RetryPolicy.attempts``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from typing import BinaryIO, Protocol

from dockyard.errors import InvalidArgument
from dockyard.types.descriptor import Descriptor
from dockyard.types.digest import Digest

from .client import PUSH, Repository, with_query
from .errors import RegistryUnavailable
from .transport import NETWORK_ERRORS

CHUNK = 1 << 16
OCTET = "application/octet-stream"
Progress = Callable[[int], None]  # bytes done so far


class BlobSink(Protocol):
    @property
    def offset(self) -> int: ...

    def write(self, data: bytes) -> int: ...

    def reset(self) -> None: ...


class Resume(enum.Enum):
    CONTINUE = "continue"  # the answer carries the bytes from our offset on
    RESTART = "restart"  # the answer is the whole blob: drop what we have
    FAIL = "fail"


_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


def parse_content_range(value: str) -> tuple[int, int, int | None] | None:
    """(first, last, total) of ``Content-Range: bytes first-last/total``."""
    m = _RANGE.match(value.strip())
    if not m:
        return None
    total = None if m.group(3) == "*" else int(m.group(3))
    return int(m.group(1)), int(m.group(2)), total


def resume_action(offset: int, status: int, content_range: str, size: int | None) -> Resume:
    """What to do with the answer to a (ranged when ``offset`` > 0) blob GET."""
    if status == 200:
        return Resume.RESTART if offset else Resume.CONTINUE
    if status == 206 and offset:
        parsed = parse_content_range(content_range)
        if parsed is None or parsed[0] != offset:
            return Resume.FAIL
        if size is not None and parsed[2] is not None and parsed[2] != size:
            return Resume.FAIL
        return Resume.CONTINUE
    return Resume.FAIL


def fetch_blob(
    repo: Repository, desc: Descriptor, sink: BlobSink, progress: Progress | None = None
) -> None:
    """Download ``desc`` into ``sink`` (resuming from ``sink.offset``); the caller commits."""
    what = f"blob {desc.digest} of {repo.path}"
    url = repo.url("blobs", str(desc.digest))
    attempts = repo.client.transport.retry
    stalled = 0
    while sink.offset < desc.size or desc.size == 0:
        start = sink.offset
        headers = {"Range": f"bytes={start}-"} if start else {}
        try:
            with repo.request("GET", url, headers=headers) as r:
                if r.status not in (200, 206):
                    if r.status == 416 and start:
                        sink.reset()  # our partial is longer than the blob: start over
                        continue
                    repo.expect(r, (200, 206), what)
                action = resume_action(start, r.status, r.header("Content-Range"), desc.size)
                if action is Resume.FAIL:
                    raise InvalidArgument(
                        f"{what}: the registry answered a resumed download with "
                        f"{r.status} {r.header('Content-Range')!r}"
                    )
                if action is Resume.RESTART:
                    sink.reset()
                while chunk := r.read(CHUNK):
                    sink.write(chunk)
                    if progress is not None:
                        progress(sink.offset)
                if desc.size == 0:
                    return
        except NETWORK_ERRORS as e:
            stalled = 0 if sink.offset > start else stalled + 1
            if stalled >= attempts.attempts:
                raise RegistryUnavailable(
                    f"{what}: the download keeps failing at byte {sink.offset}: {e}"
                ) from e
            repo.client.transport.sleep(attempts.delay(max(stalled, 1)))
            continue
        if sink.offset < desc.size:
            stalled = 0 if sink.offset > start else stalled + 1
            if stalled >= attempts.attempts:
                raise RegistryUnavailable(f"{what}: the download ended at byte {sink.offset}")


def blob_size(repo: Repository, digest: Digest, actions: tuple[str, ...] = PUSH) -> int | None:
    """``HEAD`` the blob: its size if the repository has it, None if not."""
    with repo.request("HEAD", repo.url("blobs", str(digest)), actions) as r:
        if r.status == 404:
            return None
        repo.expect(r, (200,), f"blob {digest} of {repo.path}")
        length = r.header("Content-Length")
        return int(length) if length.isdigit() else 0


def mount_blob(repo: Repository, digest: Digest, source: str) -> bool:
    """Ask the registry to link ``digest`` from repository ``source``; True if it did."""
    url = with_query(repo.url("blobs", "uploads"), mount=str(digest), **{"from": source})
    scopes = [f"repository:{repo.path}:pull,push", f"repository:{source}:pull"]
    with repo.request("POST", url, PUSH, scopes=scopes) as r:
        if r.status == 201:
            r.read()
            return True
        repo.expect(r, (202,), f"mount of {digest} into {repo.path}")
        r.read()
        location = r.header("Location")
    if location:  # the registry opened an upload instead: cancel it
        with repo.request("DELETE", repo.absolute(location), PUSH) as r:
            r.read()
    return False


def upload_blob(
    repo: Repository,
    desc: Descriptor,
    open_source: Callable[[], BinaryIO],
    chunk_size: int | None = None,
    progress: Progress | None = None,
) -> None:
    """Upload a blob: one PUT (``chunk_size`` None) or PATCH chunks and a closing PUT.

    ``open_source`` gives a fresh stream of the blob's bytes; a failed upload is
    started over from scratch (a new upload session) within the retry budget.
    """
    what = f"upload of {desc.digest} to {repo.path}"
    policy = repo.client.transport.retry
    for attempt in range(1, policy.attempts + 1):
        try:
            _upload_once(repo, desc, open_source, chunk_size, progress, what)
            return
        except (RegistryUnavailable, *NETWORK_ERRORS) as e:
            if attempt == policy.attempts:
                if isinstance(e, RegistryUnavailable):
                    raise
                raise RegistryUnavailable(f"{what}: {e}") from e
            repo.client.transport.sleep(policy.delay(attempt))


def _upload_once(
    repo: Repository,
    desc: Descriptor,
    open_source: Callable[[], BinaryIO],
    chunk_size: int | None,
    progress: Progress | None,
    what: str,
) -> None:
    with repo.request("POST", repo.url("blobs", "uploads"), PUSH) as r:
        repo.expect(r, (202,), what)
        r.read()
        location = repo.absolute(r.header("Location"))
    with open_source() as src:
        if chunk_size is None:
            url = with_query(location, digest=str(desc.digest))
            headers = {"Content-Type": OCTET, "Content-Length": str(desc.size)}
            body = _Counting(src, progress)
            with repo.request("PUT", url, PUSH, headers, body, retry=False) as r:
                repo.expect(r, (201, 204), what)
                r.read()
            return
        offset = 0
        while chunk := src.read(chunk_size):
            headers = {
                "Content-Type": OCTET,
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
            }
            with repo.request("PATCH", location, PUSH, headers, chunk, retry=False) as r:
                repo.expect(r, (202, 204), what)
                r.read()
                location = repo.absolute(r.header("Location") or location)
            offset += len(chunk)
            if progress is not None:
                progress(offset)
    if offset != desc.size:
        raise InvalidArgument(f"{what}: sent {offset} bytes, the descriptor says {desc.size}")
    url = with_query(location, digest=str(desc.digest))
    with repo.request("PUT", url, PUSH, retry=False) as r:
        repo.expect(r, (201, 204), what)
        r.read()


class _Counting:
    """A file wrapper that reports how much was read (the upload's progress)."""

    def __init__(self, src: BinaryIO, progress: Progress | None) -> None:
        self._src = src
        self._progress = progress
        self._done = 0

    def read(self, n: int = -1) -> bytes:
        data = self._src.read(n)
        self._done += len(data)
        if self._progress is not None and data:
            self._progress(self._done)
        return data

    def seekable(self) -> bool:
        return self._src.seekable()

    def seek(self, pos: int) -> int:
        self._done = pos
        return self._src.seek(pos)

    def tell(self) -> int:
        return self._src.tell()
