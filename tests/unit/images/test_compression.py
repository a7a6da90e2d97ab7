"""Compression: detection by magic, the same diffID whatever the compression, digests."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import pytest
import zstandard

from dockyard.errors import InvalidArgument
from dockyard.images import unpack
from dockyard.images.layertar import compression as c

from .trees import add, make_tar


def _tar() -> bytes:
    def build(tar: tarfile.TarFile) -> None:
        add(tar, "etc/", kind=tarfile.DIRTYPE, mode=0o755)
        add(tar, "etc/hosts", data=b"127.0.0.1 localhost\n" * 1000)

    return make_tar(build)


def test_detect_by_magic() -> None:
    assert c.detect(b"\x1f\x8b\x08\x00") is c.Compression.GZIP
    assert c.detect(b"\x28\xb5\x2f\xfd") is c.Compression.ZSTD
    assert c.detect(b"etc/") is c.Compression.NONE
    assert c.detect(b"") is c.Compression.NONE


def test_media_types_both_vocabularies() -> None:
    assert c.compression_of(c.OCI_LAYER_ZSTD) is c.Compression.ZSTD
    assert c.compression_of(c.DOCKER_LAYER_GZIP) is c.Compression.GZIP
    assert c.compression_of(c.OCI_LAYER) is c.Compression.NONE
    assert c.media_type(c.Compression.GZIP) == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert c.media_type(c.Compression.GZIP, docker=True) == c.DOCKER_LAYER_GZIP
    with pytest.raises(InvalidArgument, match="not a layer media type"):
        c.compression_of("application/json")


@pytest.mark.parametrize("kind", list(c.Compression))
def test_decompressed_reads_back_the_tar(kind: c.Compression) -> None:
    plain = _tar()
    blob = {
        c.Compression.NONE: plain,
        c.Compression.GZIP: gzip.compress(plain),
        c.Compression.ZSTD: zstandard.ZstdCompressor().compress(plain),
    }[kind]
    found, reader = c.decompressed(io.BytesIO(blob))
    assert found is kind
    out = b""
    while chunk := reader.read(7000):
        out += chunk
    assert out == plain


def test_gzip_and_zstd_give_the_same_diff_id(tmp_path: Path) -> None:
    plain = _tar()
    want = "sha256:" + hashlib.sha256(plain).hexdigest()
    blobs = {
        "plain": plain,
        "gzip": gzip.compress(plain),
        "zstd": zstandard.ZstdCompressor(level=5).compress(plain),
    }
    for name, blob in blobs.items():
        res = unpack(io.BytesIO(blob), tmp_path / f"dyt-{name}")
        assert res.diff_id == want, name
        assert res.size == len(plain)
        assert (tmp_path / f"dyt-{name}/etc/hosts").read_bytes().startswith(b"127.0.0.1")


@pytest.mark.parametrize("kind", [c.Compression.GZIP, c.Compression.ZSTD, c.Compression.NONE])
def test_compressed_writer_digests_both_sides(kind: c.Compression) -> None:
    plain = _tar()
    out = io.BytesIO()
    layer = c.compress(io.BytesIO(plain), out, kind)
    blob = out.getvalue()
    assert layer.diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()
    assert layer.uncompressed_size == len(plain)
    assert layer.digest == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert layer.size == len(blob)
    assert c.detect(blob[:4]) is kind
    assert c.decompressed(io.BytesIO(blob))[1].read(len(plain) + 1) == plain
    again = io.BytesIO()
    c.compress(io.BytesIO(plain), again, kind)
    assert again.getvalue() == blob  # deterministic: no name, no timestamp


def test_corrupt_gzip_is_invalid_argument(tmp_path: Path) -> None:
    blob = gzip.compress(_tar())
    broken = blob[:40] + bytes(len(blob) - 40)
    with pytest.raises(InvalidArgument, match="corrupt compressed layer"):
        unpack(io.BytesIO(broken), tmp_path / "dyt-dest")
    assert not (tmp_path / "dyt-dest").exists()
    assert list(tmp_path.iterdir()) == []


def test_truncated_zstd_is_invalid_argument(tmp_path: Path) -> None:
    blob = zstandard.ZstdCompressor().compress(_tar())
    with pytest.raises(InvalidArgument):
        unpack(io.BytesIO(blob[: len(blob) // 2]), tmp_path / "dyt-dest")
    assert list(tmp_path.iterdir()) == []
