"""Content digests: ``<algorithm>:<hex>``, as used by OCI images and the content store."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from hashlib import _Hash

# algorithm -> length of its hex encoding (OCI image spec, "Digests")
HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_HEX = frozenset("0123456789abcdef")


def _valid(algorithm: str, hex_: str) -> bool:
    return HEX_LENGTHS.get(algorithm) == len(hex_) and _HEX.issuperset(hex_)


@dataclass(frozen=True, slots=True)
class Digest:
    """A validated content digest; ``str(d)`` is ``"sha256:<hex>"``.

    Only the registered algorithms (sha256, sha512) and lower-case hex are accepted, so
    two equal contents always give equal (and equally hashed) ``Digest`` objects.
    """

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        if not _valid(self.algorithm, self.hex):
            raise InvalidArgument(
                f"invalid digest: {self.algorithm}:{self.hex!s}: expected sha256 with 64 "
                "or sha512 with 128 lower-case hex digits"
            )

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``"sha256:<64 hex>"`` or ``"sha512:<128 hex>"``; InvalidArgument otherwise."""
        algorithm, sep, hex_ = text.partition(":")
        if not sep or not _valid(algorithm, hex_):
            raise InvalidArgument(
                f"invalid digest: {text!r}: expected sha256:<64 lower-case hex digits> "
                "or sha512:<128 lower-case hex digits>"
            )
        return cls(algorithm, hex_)

    @classmethod
    def of_bytes(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """The digest of ``data``."""
        hasher = new_hasher(algorithm)
        hasher.update(data)
        return cls.from_hasher(hasher)

    @classmethod
    def from_hasher(cls, hasher: _Hash) -> Digest:
        """The digest a running ``hashlib`` object has computed so far."""
        return cls(hasher.name, hasher.hexdigest())

    @property
    def short(self) -> str:
        """The first 12 hex digits, as ``docker images`` shows an image id."""
        return self.hex[:12]

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def new_hasher(algorithm: str = "sha256") -> _Hash:
    """A fresh ``hashlib`` object for a registered digest algorithm."""
    if algorithm not in HEX_LENGTHS:
        raise InvalidArgument(f"unsupported digest algorithm: {algorithm!r}: use sha256 or sha512")
    return hashlib.new(algorithm)
