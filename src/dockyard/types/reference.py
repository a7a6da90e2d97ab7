"""Image references as docker's ``distribution/reference`` parses and normalizes them.

A reference is ``[domain/]path[:tag][@digest]``. ``Reference.parse("busybox")`` is
``docker.io/library/busybox:latest`` once ``with_default_tag()`` is applied: the default
registry is ``docker.io``, a one-component repository there gets ``library/``, a name
without tag or digest gets ``:latest``. The first component is a registry when it holds
a ``.`` or a ``:``, is ``localhost`` or has an upper-case letter (which a repository
path never may). ``familiar`` undoes the defaults for display (``busybox:latest``).

Pure logic, no I/O; ``dockyard.images.names`` keeps its string API on top of this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.errors import InvalidArgument

DEFAULT_REGISTRY = "docker.io"
LEGACY_REGISTRY = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
MAX_NAME = 255

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_LABEL = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)"
_DOMAIN = re.compile(
    rf"^(?:{_LABEL}(?:\.{_LABEL})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$"  # name or [IPv6]
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
_ID = re.compile(r"^[a-f0-9]{64}$")


def split_domain(name: str) -> tuple[str, str]:
    """(registry, repository path) of a name without tag or digest, defaults applied."""
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


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed, normalized reference: ``domain``, ``path``, optional tag and digest."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Parse and normalize ``text``; InvalidArgument says what is malformed."""
        if not text:
            raise InvalidArgument("invalid reference format: the image name is empty")
        rest, at, digest = text.partition("@")
        if at and not _DIGEST.match(digest):
            raise InvalidArgument(f"invalid reference format: bad digest in {text!r}")
        tag: str | None = None
        slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > slash and not rest.endswith("]"):
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
        ref = cls(domain, path, tag, digest or None)
        if len(ref.name) > MAX_NAME:
            raise InvalidArgument(f"invalid reference format: {text!r} is longer than {MAX_NAME}")
        return ref

    @property
    def name(self) -> str:
        """``domain/path``: the repository, fully qualified."""
        return f"{self.domain}/{self.path}"

    def with_default_tag(self) -> Reference:
        """The reference with ``:latest`` when it has neither tag nor digest."""
        if self.tag is None and self.digest is None:
            return Reference(self.domain, self.path, DEFAULT_TAG, None)
        return self

    def with_tag(self, tag: str) -> Reference:
        if not _TAG.match(tag):
            raise InvalidArgument(f"invalid reference format: bad tag {tag!r}")
        return Reference(self.domain, self.path, tag, None)

    def with_digest(self, digest: str) -> Reference:
        if not _DIGEST.match(digest):
            raise InvalidArgument(f"invalid reference format: bad digest {digest!r}")
        return Reference(self.domain, self.path, None, digest)

    @property
    def familiar_name(self) -> str:
        """The repository as Docker shows it: ``busybox``, ``user/app``, ``host:5000/x``."""
        if self.domain != DEFAULT_REGISTRY:
            return self.name
        path = self.path
        if path.startswith(OFFICIAL_PREFIX) and "/" not in path[len(OFFICIAL_PREFIX) :]:
            path = path[len(OFFICIAL_PREFIX) :]
        return path

    @property
    def familiar(self) -> str:
        """The whole reference in its short form (``busybox:latest``)."""
        return self.familiar_name + self._suffix()

    @property
    def reference(self) -> str:
        """What to ask a registry's manifest endpoint for: the digest, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def _suffix(self) -> str:
        out = f":{self.tag}" if self.tag else ""
        return out + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + self._suffix()


def parse_normalized(text: str) -> Reference:
    """``Reference.parse`` with ``:latest`` added to a bare name (what pull and push use)."""
    return Reference.parse(text).with_default_tag()


def familiar_name(name: str) -> str:
    """The short form of a full name string: ``docker.io/library/busybox:latest`` ->
    ``busybox:latest``; a string that does not parse is given back unchanged."""
    if not name.startswith(DEFAULT_REGISTRY + "/"):
        return name
    rest = name[len(DEFAULT_REGISTRY) + 1 :]
    if rest.startswith(OFFICIAL_PREFIX):
        repo = rest[len(OFFICIAL_PREFIX) :].split("@")[0].split(":")[0]
        if "/" not in repo:
            return rest[len(OFFICIAL_PREFIX) :]
    return rest
