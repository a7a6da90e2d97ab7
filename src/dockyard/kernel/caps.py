"""Capabilities: names, capget/capset, the bounding set and the ambient set."""

from __future__ import annotations

import ctypes

from dockyard._internal import lazylog
from dockyard._internal.value import Value

from .capnames import CAP_NUMBERS
from .libc import SYS_CAPGET, SYS_CAPSET, check, libc
from .process import (
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_CLEAR_ALL,
    PR_CAP_AMBIENT_RAISE,
    PR_CAPBSET_DROP,
    PR_CAPBSET_READ,
    prctl,
)

log = lazylog.getLogger(__name__)


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


class CapSets(Value):
    """The three per-thread sets as 64-bit masks."""

    __slots__ = ("effective", "inheritable", "permitted")
    _fields = ("effective", "permitted", "inheritable")

    def __init__(self, effective: int, permitted: int, inheritable: int) -> None:
        self.effective = effective
        self.permitted = permitted
        self.inheritable = inheritable

    def __repr__(self) -> str:
        return (
            f"CapSets(effective={self.effective:#x}, permitted={self.permitted:#x}, "
            f"inheritable={self.inheritable:#x})"
        )


def last_cap() -> int:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


def mask(names: list[str] | None) -> int:
    """A bit mask from capability names; unknown names raise ValueError naming them."""
    bits = 0
    for name in names or []:
        n = CAP_NUMBERS.get(
            name.upper() if name.upper().startswith("CAP_") else f"CAP_{name.upper()}"
        )
        if n is None:
            raise ValueError(f"unknown capability {name!r}")
        bits |= 1 << n
    return bits


def capget() -> CapSets:
    hdr = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    check(libc.syscall(SYS_CAPGET, ctypes.byref(hdr), ctypes.byref(data)), "capget")
    return CapSets(
        effective=data[0].effective | data[1].effective << 32,
        permitted=data[0].permitted | data[1].permitted << 32,
        inheritable=data[0].inheritable | data[1].inheritable << 32,
    )


def capset(sets: CapSets) -> None:
    log.debug("capset(%s)", sets)
    hdr = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    for i, shift in enumerate((0, 32)):
        data[i].effective = (sets.effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (sets.permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (sets.inheritable >> shift) & 0xFFFFFFFF
    check(libc.syscall(SYS_CAPSET, ctypes.byref(hdr), ctypes.byref(data)), f"capset({sets})")


def bounding_has(cap: int) -> bool:
    return prctl(PR_CAPBSET_READ, cap) == 1


def drop_bounding(keep: int) -> None:
    """Drop every capability not in ``keep`` from the bounding set (needs CAP_SETPCAP)."""
    for cap in range(last_cap() + 1):
        if not keep & (1 << cap) and bounding_has(cap):
            prctl(PR_CAPBSET_DROP, cap)


def set_ambient(caps: int) -> None:
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    for cap in range(last_cap() + 1):
        if caps & (1 << cap):
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)
