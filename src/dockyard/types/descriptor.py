"""OCI content descriptors: what a blob is (media type), which (digest) and how big."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.types.digest import Digest

OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A reference to a blob: OCI image spec "Content Descriptors".

    ``annotations`` is a plain mapping; a descriptor that carries annotations is not
    hashable (equality still works).
    """

    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] | None = None

    def to_oci(self) -> dict[str, Any]:
        """The descriptor as OCI JSON fields (``mediaType``, ``digest``, ``size``, ...)."""
        doc: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.annotations:
            doc["annotations"] = dict(self.annotations)
        return doc

    @classmethod
    def from_oci(cls, doc: Mapping[str, Any]) -> Descriptor:
        """Parse OCI JSON fields; InvalidArgument names the first bad field."""
        media_type = doc.get("mediaType", "")
        size = doc.get("size")
        annotations = doc.get("annotations")
        if not isinstance(media_type, str):
            raise InvalidArgument(f"invalid descriptor: mediaType {media_type!r} is not a string")
        if not isinstance(doc.get("digest"), str):
            raise InvalidArgument(
                f"invalid descriptor: digest {doc.get('digest')!r} is not a string"
            )
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidArgument(f"invalid descriptor: size {size!r} is not a byte count")
        if annotations is not None and not (
            isinstance(annotations, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in annotations.items())
        ):
            raise InvalidArgument("invalid descriptor: annotations must map strings to strings")
        return cls(media_type, Digest.parse(doc["digest"]), size, annotations)
