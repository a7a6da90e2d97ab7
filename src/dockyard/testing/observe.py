"""Parse what a probe inside a container printed, into values that compare across runtimes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from dockyard.kernel.capnames import CAP_NAMES

CAPABILITIES = tuple(CAP_NAMES)

CAP_LINES = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


def cap_mask(names: Iterable[str]) -> int:
    mask = 0
    for name in names:
        mask |= 1 << CAPABILITIES.index(name)
    return mask


def proc_status(text: str) -> dict[str, str]:
    """``/proc/<pid>/status`` as a dict of stripped values."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def cap_sets(status_text: str) -> dict[str, int]:
    """The five capability masks of a ``/proc/<pid>/status`` text."""
    status = proc_status(status_text)
    return {k: int(status[k], 16) for k in CAP_LINES}


class MountEntry(NamedTuple):
    point: str
    fstype: str
    access: str  # "ro" or "rw": the per-mount flag, which is what a write runs into


def mount_table(mountinfo: str, masked: Iterable[str] = ()) -> list[MountEntry]:
    """``/proc/self/mountinfo`` reduced to what every runtime must agree on, sorted.

    Sources, ids, super-block options and order legitimately differ between runtimes; so
    does how a masked path is covered (a bind of /dev/null from the container's /dev or
    from the host's devtmpfs; a read-only tmpfs): masked paths become type "masked".
    """
    masked = set(masked)
    out = set()
    for line in mountinfo.splitlines():
        fields = line.split()
        if not fields:
            continue
        sep = fields.index("-")
        point, opts, fstype = fields[4], fields[5].split(","), fields[sep + 1]
        if point in masked:
            out.add(MountEntry(point, "masked", "-"))
            continue
        out.add(MountEntry(point, fstype, "ro" if "ro" in opts else "rw"))
    return sorted(out)
