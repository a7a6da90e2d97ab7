"""``features``: what this runtime supports, as the OCI features document says it."""

from __future__ import annotations

from dockyard.kernel.capnames import CAP_NAMES

from .rootfs import FLAG_OPTIONS, PROPAGATION_OPTIONS
from .spec import HOOK_KINDS, NAMESPACE_TYPES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def features() -> dict[str, Any]:
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.1.0",
        "hooks": list(HOOK_KINDS),
        "mountOptions": sorted([*FLAG_OPTIONS, *PROPAGATION_OPTIONS, "tmpcopyup"]),
        "linux": {
            "namespaces": list(NAMESPACE_TYPES),
            "capabilities": list(CAP_NAMES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            # not yet: seccomp, AppArmor, SELinux, Intel RDT, id-mapped mounts
            "seccomp": {"enabled": False},
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": False}},
        },
        "annotations": {"org.dockyard.runtime.version": "0.1.0"},
    }
