"""The content store: ingest, verification, idempotence, concurrency, resume, cleanup."""

import io
import multiprocessing
import os
import random
import stat
import threading
from pathlib import Path

import pytest

from dockyard.errors import Conflict, InvalidArgument, NotFound, SystemFault
from dockyard.store import ContentStore
from dockyard.store.content import CHUNK
from dockyard.types import Digest

# several chunks, not a multiple of one; seeded, so spawned children get the same bytes
DATA = random.Random(7).randbytes(3 * CHUNK + 12345)


def ingest_dir(store: ContentStore) -> list[str]:
    return sorted(os.listdir(store.root / "ingest"))


class GatedStream:
    """Yields ``data`` but waits at ``barrier`` after the first chunk, so that every
    concurrent writer holds a half-written temp file at the same moment."""

    def __init__(self, data: bytes, barrier: threading.Barrier) -> None:
        self._source = io.BytesIO(data)
        self._barrier = barrier
        self._first = True

    def read(self, size: int = -1) -> bytes:
        chunk = self._source.read(size)
        if not self._first:
            self._barrier.wait(timeout=30)
        self._first = False
        return chunk


def test_ingest_bytes_lays_out_blob_read_only(content: ContentStore) -> None:
    desc = content.ingest(DATA, media_type="application/x-test")
    digest = Digest.of_bytes(DATA)
    assert (desc.digest, desc.size, desc.media_type) == (digest, len(DATA), "application/x-test")
    path = content.root / "blobs" / "sha256" / digest.hex
    assert content.path(digest) == path
    assert path.read_bytes() == DATA
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert content.exists(digest)
    assert content.size(digest) == len(DATA)
    assert content.read(digest) == DATA
    with content.open(digest) as f:
        assert f.read(5) == DATA[:5]
    assert ingest_dir(content) == []
    content.verify(digest)


def test_ingest_stream_with_expected_digest_and_size(content: ContentStore) -> None:
    digest = Digest.of_bytes(DATA)
    desc = content.ingest(io.BytesIO(DATA), expected=digest, expected_size=len(DATA))
    assert desc.digest == digest
    assert list(content.digests()) == [digest]


def test_sha512_blobs_live_under_their_algorithm(content: ContentStore) -> None:
    digest = Digest.of_bytes(b"x", "sha512")
    content.ingest(b"x", expected=digest)
    assert (content.root / "blobs" / "sha512" / digest.hex).read_bytes() == b"x"
    assert list(content.digests()) == [digest]


def test_digest_mismatch_leaves_nothing(content: ContentStore) -> None:
    wrong = Digest.of_bytes(b"something else")
    with pytest.raises(InvalidArgument) as info:
        content.ingest(io.BytesIO(DATA), expected=wrong)
    assert str(info.value) == f"digest mismatch: expected {wrong}, got {Digest.of_bytes(DATA)}"
    assert not content.exists(wrong)
    assert not content.exists(Digest.of_bytes(DATA))
    assert list(content.digests()) == []
    assert ingest_dir(content) == []


@pytest.mark.parametrize("size", [len(DATA) - 1, len(DATA) + 1])
def test_size_mismatch_leaves_nothing(content: ContentStore, size: int) -> None:
    with pytest.raises(InvalidArgument, match="size mismatch"):
        content.ingest(DATA, expected=Digest.of_bytes(DATA), expected_size=size)
    assert list(content.digests()) == []
    assert ingest_dir(content) == []


def test_ingest_is_idempotent(content: ContentStore) -> None:
    first = content.ingest(DATA)
    second = content.ingest(io.BytesIO(DATA))
    assert first == second
    assert list(content.digests()) == [first.digest]
    assert ingest_dir(content) == []


def test_ingest_of_a_known_blob_does_not_read_the_source(content: ContentStore) -> None:
    digest = content.ingest(b"known").digest

    class Unreadable:
        def read(self, size: int = -1) -> bytes:
            raise AssertionError("read a source whose blob exists")

    assert content.ingest(Unreadable(), expected=digest).size == 5
    with pytest.raises(InvalidArgument, match="size mismatch"):
        content.ingest(Unreadable(), expected=digest, expected_size=6)


def test_missing_blobs_raise_not_found_naming_them(content: ContentStore) -> None:
    digest = Digest.of_bytes(b"absent")
    message = f"no such blob: {digest}"
    for call in (content.open, content.size, content.delete, content.verify, content.read):
        with pytest.raises(NotFound) as info:
            call(digest)
        assert str(info.value) == message
    assert not content.exists(digest)


def test_delete_removes_the_blob(content: ContentStore) -> None:
    digest = content.ingest(b"gone soon").digest
    content.delete(digest)
    assert not content.exists(digest)
    assert list(content.digests()) == []


def test_verify_detects_corruption(content: ContentStore) -> None:
    digest = content.ingest(b"pristine").digest
    path = content.path(digest)
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    with pytest.raises(SystemFault, match=f"blob {digest} is corrupt"):
        content.verify(digest)


def test_stray_files_are_not_listed_as_blobs(content: ContentStore) -> None:
    (content.root / "blobs" / "sha256" / "not-a-digest").write_bytes(b"")
    assert list(content.digests()) == []


def test_same_blob_from_8_threads_at_once(content: ContentStore) -> None:
    digest = Digest.of_bytes(DATA)
    barrier = threading.Barrier(8)
    results: list[Digest] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            stream = GatedStream(DATA, barrier)
            results.append(content.ingest(stream, expected=digest, expected_size=len(DATA)).digest)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert results == [digest] * 8
    assert content.read(digest) == DATA
    assert list(content.digests()) == [digest]
    assert ingest_dir(content) == []


def _ingest_in_child(
    root: str, barrier: threading.Barrier, queue: "multiprocessing.Queue[str]"
) -> None:
    store = ContentStore(Path(root))
    stream = GatedStream(DATA, barrier)
    queue.put(str(store.ingest(stream).digest))


def test_same_blob_from_4_processes_at_once(content: ContentStore) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_ingest_in_child, args=(str(content.root), barrier, queue))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    digest = Digest.of_bytes(DATA)
    assert results == [str(digest)] * 4
    assert content.read(digest) == DATA
    assert list(content.digests()) == [digest]
    assert ingest_dir(content) == []


def test_partial_ingest_resumes_from_offset(content: ContentStore) -> None:
    digest = Digest.of_bytes(DATA)
    half = len(DATA) // 2
    with content.writer(digest, len(DATA)) as w:
        assert (w.offset, w.complete) == (0, False)
        w.write(DATA[:half])
    # the interrupted download stays for the next attempt
    assert ingest_dir(content) == [f"{digest.hex}.partial"]
    assert not content.exists(digest)
    with content.writer(digest, len(DATA)) as w:
        assert w.offset == half  # the caller would send Range: bytes=<half>-
        w.write(DATA[w.offset :])
        desc = w.commit()
    assert (desc.digest, desc.size) == (digest, len(DATA))
    assert content.read(digest) == DATA
    assert ingest_dir(content) == []


def test_resumed_partial_with_bad_bytes_is_discarded_on_commit(content: ContentStore) -> None:
    digest = Digest.of_bytes(DATA)
    with content.writer(digest) as w:
        w.write(b"garbage that is not a prefix")
    with content.writer(digest) as w:
        w.write(DATA[w.offset :])
        with pytest.raises(InvalidArgument, match="digest mismatch"):
            w.commit()
    assert ingest_dir(content) == []
    assert not content.exists(digest)


def test_partial_longer_than_the_blob_restarts_at_zero(content: ContentStore) -> None:
    digest = Digest.of_bytes(b"short")
    (content.root / "ingest" / f"{digest.hex}.partial").write_bytes(b"much too long")
    with content.writer(digest, expected_size=5) as w:
        assert w.offset == 0
        w.write(b"short")
        w.commit()
    assert content.read(digest) == b"short"


def test_reset_starts_over_when_range_is_ignored(content: ContentStore) -> None:
    digest = Digest.of_bytes(DATA)
    with content.writer(digest) as w:
        w.write(DATA[:100])
    with content.writer(digest) as w:
        w.reset()
        assert w.offset == 0
        w.write(DATA)
        w.commit()
    assert content.read(digest) == DATA


def test_a_partial_has_one_writer_at_a_time(content: ContentStore) -> None:
    digest = Digest.of_bytes(DATA)
    with content.writer(digest) as first:
        first.write(DATA[:10])
        with pytest.raises(Conflict, match=f"blob {digest} is being written"):
            content.writer(digest)
    with content.writer(digest) as again:
        assert again.offset == 10


def test_writer_for_a_stored_blob_is_complete(content: ContentStore) -> None:
    desc = content.ingest(b"here")
    with content.writer(desc.digest) as w:
        assert w.complete
        assert w.offset == 4
        with pytest.raises(Conflict):
            w.write(b"more")
        assert w.commit() == desc


def test_writer_without_expected_digest_names_the_blob_on_commit(content: ContentStore) -> None:
    with content.writer() as w:
        w.write(b"abc")
        w.write(b"def")
        desc = w.commit()
    assert desc.digest == Digest.of_bytes(b"abcdef")
    with content.writer() as w:
        w.write(b"abandoned")
    assert ingest_dir(content) == []


def _crash_while_writing(root: str, expected: str | None) -> None:
    store = ContentStore(Path(root))
    writer = store.writer(None if expected is None else Digest.parse(expected))
    writer.write(b"half of it")
    os._exit(0)  # no cleanup: a crashed writer


def test_files_of_crashed_writers_are_ignored_and_cleaned(content: ContentStore) -> None:
    ctx = multiprocessing.get_context("spawn")
    digest = Digest.of_bytes(DATA)
    for expected in (None, str(digest)):
        p = ctx.Process(target=_crash_while_writing, args=(str(content.root), expected))
        p.start()
        p.join(timeout=60)
    left = ingest_dir(content)
    assert len(left) == 2 and f"{digest.hex}.partial" in left
    assert list(content.digests()) == []  # never visible as blobs
    with content.writer() as live:  # a live writer's temp file must survive cleaning
        live.write(b"in progress")
        removed = content.clean_ingest()
        assert [p.name for p in removed] == [n for n in left if n.startswith("tmp-")]
        assert len(ingest_dir(content)) == 2  # the live temp file and the young partial
        assert [p.name for p in content.clean_ingest(partial_max_age=0)] == [
            f"{digest.hex}.partial"
        ]
        live.write(b" and done")
        live.commit()
    assert ingest_dir(content) == []
    # the crashed partial would also be resumed rather than ignored
    content.ingest(DATA)
    assert content.read(digest) == DATA
