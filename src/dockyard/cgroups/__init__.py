"""cgroup managers for v1, v2 and hybrid hosts, with the hierarchy root injected.

``manager_for(path)`` detects the layout under ``/sys/fs/cgroup`` (or an injected root)
and returns the ``CgroupManager`` for it; ``Resources.from_oci`` parses
``linux.resources``. Pure file I/O: no ctypes, no other Dockyard layer.

The OCI runtime imports this package on every container start, so it imports nothing
beyond ``os``, ``time`` and ``errno`` at run time (tests/unit/cgroups/test_import_cost.py
checks that), and loads each manager and ``Resources`` only when first used:
``manager_for`` imports just the manager the host needs. ``CgroupManager`` is a typing
``Protocol`` and exists for type checkers only.
"""

from .detect import manager_for
from .manager import Stats, default_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    # The redundant alias marks an explicit re-export of a name that does not exist at
    # run time, which is why it is not in __all__ (``import *`` must keep working).
    from .hybrid import CgroupHybridManager
    from .manager import CgroupManager as CgroupManager
    from .resources import DeviceRule, Resources
    from .v1 import CgroupV1Manager
    from .v2 import CgroupV2Manager

__all__ = [
    "CgroupHybridManager",
    "CgroupV1Manager",
    "CgroupV2Manager",
    "DeviceRule",
    "Resources",
    "Stats",
    "default_path",
    "manager_for",
]

if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any name

    def __getattr__(name: str) -> object:
        # PEP 562: import a manager or the resources module on first use.
        if name in ("Resources", "DeviceRule"):
            from . import resources as module
        elif name == "CgroupV1Manager":
            from . import v1 as module
        elif name == "CgroupV2Manager":
            from . import v2 as module
        elif name == "CgroupHybridManager":
            from . import hybrid as module
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(module, name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))
