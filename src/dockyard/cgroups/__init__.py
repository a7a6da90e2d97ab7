"""cgroup managers for v1, v2 and hybrid hosts, with the hierarchy root injected.

``manager_for(path)`` detects the layout under ``/sys/fs/cgroup`` (or an injected root)
and returns the ``CgroupManager`` for it; ``Resources.from_oci`` parses
``linux.resources``. Pure file I/O: no ctypes, no other Dockyard layer.
"""

from .detect import manager_for
from .hybrid import CgroupHybridManager
from .manager import CgroupManager, Stats, default_path
from .resources import DeviceRule, Resources
from .v1 import CgroupV1Manager
from .v2 import CgroupV2Manager

__all__ = [
    "CgroupHybridManager",
    "CgroupManager",
    "CgroupV1Manager",
    "CgroupV2Manager",
    "DeviceRule",
    "Resources",
    "Stats",
    "default_path",
    "manager_for",
]
