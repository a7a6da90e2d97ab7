"""Image reference names: Docker's normalization and its familiar (short) form.

``normalize_name("busybox")`` is ``"docker.io/library/busybox:latest"``: the default
registry is ``docker.io``, a one-component repository there gets ``library/``, and a
name without tag or digest gets ``:latest``. The first component is a registry when it
holds a ``.`` or a ``:`` or is ``localhost``. ``familiar_name`` undoes the defaults for
display (``docker images``/``RepoTags``). The store keeps normalized names only.
"""

from __future__ import annotations

import re

from dockyard.errors import InvalidArgument

DEFAULT_REGISTRY = "docker.io"
LEGACY_REGISTRY = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_DOMAIN = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(?::[0-9]+)?$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
_ID = re.compile(r"^[a-f0-9]{64}$")
MAX_NAME = 255


def split_domain(name: str) -> tuple[str, str]:
    """(registry, repository path) of a name without tag or digest."""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_REGISTRY, name
    if domain == LEGACY_REGISTRY:
        domain = DEFAULT_REGISTRY
    if domain == DEFAULT_REGISTRY and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def parse_name(text: str) -> tuple[str, str | None, str | None]:
    """(``registry/repository``, tag, digest) of a reference; InvalidArgument if malformed."""
    if not text:
        raise InvalidArgument("invalid reference format: the image name is empty")
    rest, at, digest = text.partition("@")
    if at and not _DIGEST.match(digest):
        raise InvalidArgument(f"invalid reference format: bad digest in {text!r}")
    tag: str | None = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.match(tag):
            raise InvalidArgument(f"invalid reference format: bad tag {tag!r} in {text!r}")
    if _ID.match(rest):
        raise InvalidArgument(
            f"invalid repository name {rest!r}: a 64-hex name is reserved for image ids"
        )
    domain, path = split_domain(rest)
    if not _DOMAIN.match(domain):
        raise InvalidArgument(f"invalid reference format: bad registry {domain!r} in {text!r}")
    for component in path.split("/"):
        if not _COMPONENT.match(component):
            if component.lower() != component:
                raise InvalidArgument(
                    f"invalid reference format: repository name {path!r} must be lowercase"
                )
            raise InvalidArgument(f"invalid reference format: {text!r}")
    repo = f"{domain}/{path}"
    if len(repo) > MAX_NAME:
        raise InvalidArgument(f"invalid reference format: {text!r} is longer than {MAX_NAME}")
    return repo, tag, digest or None


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


def familiar_name(name: str) -> str:
    """The short form Docker shows: ``docker.io/library/busybox:latest`` -> ``busybox:latest``."""
    if name.startswith(DEFAULT_REGISTRY + "/"):
        name = name[len(DEFAULT_REGISTRY) + 1 :]
        if (
            name.startswith(OFFICIAL_PREFIX)
            and "/" not in name[len(OFFICIAL_PREFIX) :].split("@")[0].split(":")[0]
        ):
            name = name[len(OFFICIAL_PREFIX) :]
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
