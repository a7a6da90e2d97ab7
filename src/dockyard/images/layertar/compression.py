"""Layer blob compression: media types, detection by magic, and digesting streams.

A layer blob is a tar, plain or compressed with gzip or zstd. Reading, the compression is
told by the first bytes (never trusted from the media type alone) and the stream is
decompressed on the fly while the uncompressed bytes are hashed into the diffID. Writing,
``CompressedWriter`` takes uncompressed tar bytes and hashes both sides at once, so a
commit or push learns the diffID and the blob digest in one pass.

``zstandard`` is imported only when a zstd blob is read or written.
"""

from __future__ import annotations

import enum
import gzip
import hashlib
import io
import sys
import zlib
from dataclasses import dataclass
from typing import Any, Protocol

from dockyard.errors import InvalidArgument, NotSupported


class Compression(enum.StrEnum):
    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"


GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_NONDIST_LAYER = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_NONDIST_LAYER_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_NONDIST_LAYER_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"
DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

MEDIA_TYPES: dict[str, Compression] = {
    OCI_LAYER: Compression.NONE,
    OCI_LAYER_GZIP: Compression.GZIP,
    OCI_LAYER_ZSTD: Compression.ZSTD,
    OCI_NONDIST_LAYER: Compression.NONE,
    OCI_NONDIST_LAYER_GZIP: Compression.GZIP,
    OCI_NONDIST_LAYER_ZSTD: Compression.ZSTD,
    DOCKER_LAYER: Compression.NONE,
    DOCKER_LAYER_GZIP: Compression.GZIP,
    DOCKER_LAYER_ZSTD: Compression.ZSTD,
    DOCKER_FOREIGN_LAYER_GZIP: Compression.GZIP,
}

CHUNK = 1 << 20


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


def compression_of(media_type: str) -> Compression:
    """The compression a layer media type declares; unknown types are refused."""
    try:
        return MEDIA_TYPES[media_type]
    except KeyError:
        raise InvalidArgument(f"not a layer media type: {media_type!r}") from None


def media_type(compression: Compression, *, docker: bool = False) -> str:
    """The layer media type for ``compression`` in the OCI or the Docker vocabulary."""
    if docker:
        return {
            Compression.NONE: DOCKER_LAYER,
            Compression.GZIP: DOCKER_LAYER_GZIP,
            Compression.ZSTD: DOCKER_LAYER_ZSTD,
        }[compression]
    return {
        Compression.NONE: OCI_LAYER,
        Compression.GZIP: OCI_LAYER_GZIP,
        Compression.ZSTD: OCI_LAYER_ZSTD,
    }[compression]


def detect(head: bytes) -> Compression:
    """The compression of a blob whose first (up to 4) bytes are ``head``."""
    if head.startswith(GZIP_MAGIC):
        return Compression.GZIP
    if head.startswith(ZSTD_MAGIC):
        return Compression.ZSTD
    return Compression.NONE


def _zstandard() -> Any:
    try:
        import zstandard
    except ImportError:
        raise NotSupported(
            "zstd layers need the zstandard package: pip install zstandard"
        ) from None
    return zstandard


class _Prefixed(io.RawIOBase):
    """Serves bytes already read from a stream, then the rest of the stream."""

    def __init__(self, head: bytes, stream: Readable) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        view = memoryview(buf).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read(len(view))
        view[: len(data)] = data
        return len(data)


def decompressed(stream: Readable) -> tuple[Compression, Readable]:
    """Detect the compression of ``stream`` and answer a reader of its plain bytes."""
    head = b""
    while len(head) < 4:
        more = stream.read(4 - len(head))
        if not more:
            break
        head += more
    kind = detect(head)
    raw = io.BufferedReader(_Prefixed(head, stream), CHUNK)
    if kind is Compression.GZIP:
        return kind, gzip.GzipFile(fileobj=raw, mode="rb")
    if kind is Compression.ZSTD:
        reader = _zstandard().ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return kind, reader
    return kind, raw


def read_layer(stream: Readable, n: int = -1) -> bytes:
    """``stream.read(n)`` of a (decompressing) layer stream; a truncated or corrupt
    gzip/zstd stream becomes InvalidArgument instead of the codec's own error."""
    try:
        return stream.read(n)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise InvalidArgument(f"corrupt compressed layer: {e}") from e
    except Exception as e:
        zstd = sys.modules.get("zstandard")
        if zstd is not None and isinstance(e, zstd.ZstdError):
            raise InvalidArgument(f"corrupt compressed layer: {e}") from e
        raise


class DigestReader:
    """Reads through ``stream``, hashing and counting; decode errors become InvalidArgument."""

    def __init__(self, stream: Readable) -> None:
        self._stream = stream
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1, /) -> bytes:
        data = read_layer(self._stream, n)
        self._hash.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        """Read to the end: the diffID covers the padding after the tar's end marker."""
        while self.read(CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


class DigestWriter:
    """Writes through to ``out``, hashing and counting."""

    def __init__(self, out: Writable) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self._out.write(data)
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


@dataclass(frozen=True)
class CompressedLayer:
    """What a commit or push records: the diffID and the blob descriptor's fields."""

    diff_id: str
    uncompressed_size: int
    digest: str
    size: int
    compression: Compression

    def media_type(self, *, docker: bool = False) -> str:
        return media_type(self.compression, docker=docker)


class CompressedWriter:
    """A sink for an uncompressed layer tar that writes the compressed blob to ``out``.

    Output is deterministic: gzip carries no file name and mtime 0.
    """

    def __init__(self, out: Writable, compression: Compression, level: int | None = None) -> None:
        self.compression = compression
        self._blob = DigestWriter(out)
        self._plain = hashlib.sha256()
        self._plain_size = 0
        self._sink: Any
        if compression is Compression.GZIP:
            self._sink = gzip.GzipFile(
                filename="", mode="wb", fileobj=self._blob, compresslevel=level or 6, mtime=0
            )
        elif compression is Compression.ZSTD:
            compressor = _zstandard().ZstdCompressor(level=level or 3)
            self._sink = compressor.stream_writer(self._blob, closefd=False)
        else:
            self._sink = self._blob

    def write(self, data: bytes, /) -> int:
        self._plain.update(data)
        self._plain_size += len(data)
        self._sink.write(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> CompressedLayer:
        """Finish the compressed stream (``out`` stays open) and answer the digests."""
        if self.compression is not Compression.NONE:
            self._sink.close()
        return CompressedLayer(
            "sha256:" + self._plain.hexdigest(),
            self._plain_size,
            self._blob.digest,
            self._blob.size,
            self.compression,
        )


def compress(src: Readable, out: Writable, compression: Compression) -> CompressedLayer:
    """Compress a whole uncompressed layer tar from ``src`` into ``out``."""
    writer = CompressedWriter(out, compression)
    while chunk := src.read(CHUNK):
        writer.write(chunk)
    return writer.close()
