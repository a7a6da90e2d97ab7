"""Pure vocabulary shared by every layer: digests, descriptors (stdlib only, no I/O).

Nothing here touches the disk, the network or the kernel; these are value objects that
the store, the registry client, the image code and the API all speak.
"""

from dockyard.types.descriptor import Descriptor
from dockyard.types.digest import Digest

__all__ = ["Descriptor", "Digest"]
