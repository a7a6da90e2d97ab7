"""Pure vocabulary shared by every layer: digests, descriptors (stdlib only, no I/O).

Nothing here touches the disk, the network or the kernel; these are value objects that
the store, the registry client, the image code and the API all speak.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.types.descriptor import Descriptor
    from dockyard.types.digest import Digest

__all__ = ["Descriptor", "Digest"]


def __getattr__(name: str) -> object:
    # loaded on first use: importing a light module of the package (``types.ports`` for
    # the CLI) must not pull in dataclasses and hashlib
    if name == "Descriptor":
        from dockyard.types.descriptor import Descriptor

        return Descriptor
    if name == "Digest":
        from dockyard.types.digest import Digest

        return Digest
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
