"""Images: layer blobs in and out.

- ``compression``: layer media types, gzip/zstd detection, digesting (de)compression.
- ``unpack``: apply a layer tar to a snapshot dir (overlay or plain whiteouts), safely.
- ``diff``: a layer tar from an overlay upper dir, or from two full trees.
- ``layertar``: the tar entry writer both diffs share.
"""

from __future__ import annotations

from .layertar.compression import (
    CompressedLayer,
    CompressedWriter,
    Compression,
    compress,
    compression_of,
    decompressed,
    detect,
    media_type,
)
from .layertar.diff import diff_overlay, diff_plain
from .layertar.tarwriter import DiffResult
from .layertar.unpack import UnpackResult, WhiteoutMode, unpack

__all__ = [
    "CompressedLayer",
    "CompressedWriter",
    "Compression",
    "DiffResult",
    "UnpackResult",
    "WhiteoutMode",
    "compress",
    "compression_of",
    "decompressed",
    "detect",
    "diff_overlay",
    "diff_plain",
    "media_type",
    "unpack",
]
