"""Storage drivers behind one ``Snapshotter`` interface (modelled on containerd's).

``make_snapshotter("overlay" | "btrfs" | "vfs", root)`` picks one; ``Mount`` values it hands
out are performed with ``Mount.mount(target)`` or ``mount_all(mounts, target)``.
"""

from __future__ import annotations

from pathlib import Path

from dockyard.errors import InvalidArgument, NotSupported

from .mount import Mount, mount_all, unmount_all
from .snapshotter import Info, Kind, Snapshotter, Usage

__all__ = [
    "DEFAULT_DRIVER",
    "DRIVERS",
    "Info",
    "Kind",
    "Mount",
    "Snapshotter",
    "Usage",
    "make_snapshotter",
    "mount_all",
    "unmount_all",
]

DEFAULT_DRIVER = "overlay"
DRIVERS = ("overlay", "btrfs", "vfs")


def make_snapshotter(driver: str, root: Path) -> Snapshotter:
    """The driver named ``driver`` keeping its data under ``root``.

    ``InvalidArgument`` for an unknown name; ``NotSupported`` when this host cannot run
    it (no overlayfs in the kernel, a btrfs root that is not on btrfs, no btrfs tool).
    """
    if driver == "vfs":
        from .vfs import VfsSnapshotter

        return VfsSnapshotter(root)
    if driver == "overlay":
        from dockyard.kernel.probe import missing

        lacking = missing(("overlay",))
        if lacking:
            raise NotSupported(
                f"the overlay storage driver needs overlayfs ({lacking[0]}):"
                " load it (modprobe overlay) or pick the vfs driver"
            )
        from .overlay import OverlaySnapshotter

        return OverlaySnapshotter(root)
    if driver == "btrfs":
        from .btrfs import BtrfsSnapshotter

        return BtrfsSnapshotter(root)
    raise InvalidArgument(f"unknown storage driver {driver!r}: choose one of {', '.join(DRIVERS)}")
