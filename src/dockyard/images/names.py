"""Image reference names: Docker's normalization and its familiar (short) form.

``normalize_name("busybox")`` is ``"docker.io/library/busybox:latest"``: the default
registry is ``docker.io``, a one-component repository there gets ``library/``, and a
name without tag or digest gets ``:latest``. The first component is a registry when it
holds a ``.`` or a ``:`` or is ``localhost``. ``familiar_name`` undoes the defaults for
display (``docker images``/``RepoTags``). The store keeps normalized names only.
The parsing itself is ``dockyard.types.reference``; this module keeps the string API
that the image code uses.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument
from dockyard.types.reference import (
    DEFAULT_REGISTRY,
    DEFAULT_TAG,
    LEGACY_REGISTRY,
    MAX_NAME,
    OFFICIAL_PREFIX,
    Reference,
    familiar_name,
    split_domain,
)


def parse_name(text: str) -> tuple[str, str | None, str | None]:
    """(``registry/repository``, tag, digest) of a reference; InvalidArgument if malformed."""
    ref = Reference.parse(text)
    return ref.name, ref.tag, ref.digest


def normalize_name(text: str) -> str:
    """The full form of an image reference (registry, ``library/``, ``:latest`` added)."""
    repo, tag, digest = parse_name(text)
    if digest is not None:
        return f"{repo}:{tag}@{digest}" if tag else f"{repo}@{digest}"
    return f"{repo}:{tag or DEFAULT_TAG}"


def normalize_tag(text: str) -> str:
    """The full form of a name to tag with: a digest is refused (tags name images only)."""
    name = normalize_name(text)
    if "@" in name:
        raise InvalidArgument(f"refusing to create a tag with a digest reference: {text!r}")
    return name


def repository_of(name: str) -> str:
    """The repository part of a normalized name (no tag, no digest)."""
    repo, _, _ = parse_name(name)
    return repo


def tag_of(name: str) -> str | None:
    """The tag of a normalized name (None for a digest-only reference)."""
    return parse_name(name)[1]


def is_digest_ref(name: str) -> bool:
    return "@" in name


__all__ = [
    "DEFAULT_REGISTRY",
    "DEFAULT_TAG",
    "LEGACY_REGISTRY",
    "MAX_NAME",
    "OFFICIAL_PREFIX",
    "familiar_name",
    "is_digest_ref",
    "normalize_name",
    "normalize_tag",
    "parse_name",
    "repository_of",
    "split_domain",
    "tag_of",
]
