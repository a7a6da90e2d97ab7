"""The ``create``/``run`` options of the container's OCI runtime and its cgroup, and the
``HostConfig`` fields they set, as the docker CLI sends them: ``--runtime NAME``,
``--device-cgroup-rule 'c 1:3 rwm'`` (repeatable; checked here with docker's pattern
before anything is sent) and ``--oom-kill-disable``.
"""

from __future__ import annotations

from dockyard.cli.errors import UsageError
from dockyard.cli.flags import BOOL, LIST, STRING, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RUNTIME_FLAGS = [
    Flag("device-cgroup-rule", kind=LIST, help="Add a rule to the cgroup allowed devices list"),
    Flag("oom-kill-disable", kind=BOOL, help="Disable OOM Killer"),
    Flag("runtime", kind=STRING, help="Runtime to use for this container"),
]


def check_device_cgroup_rule(rule: str) -> str:
    """docker's ``ValidateDeviceCgroupRule``: ``TYPE MAJOR:MINOR ACCESS``."""
    # the pattern is docker's; re is imported here to keep the CLI's start fast
    import re

    if re.match(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$", rule) is None:
        raise UsageError(
            f'invalid argument "{rule}" for "--device-cgroup-rule" flag: '
            f"invalid device cgroup format '{rule}'",
            "run",
        )
    return rule


def runtime_settings(opts: dict[str, Any]) -> dict[str, Any]:
    """The ``HostConfig`` fields of the options above that were given."""
    host: dict[str, Any] = {}
    if opts["runtime"]:
        host["Runtime"] = opts["runtime"]
    if opts["device_cgroup_rule"]:
        host["DeviceCgroupRules"] = [
            check_device_cgroup_rule(r) for r in opts["device_cgroup_rule"]
        ]
    if opts["oom_kill_disable"]:
        host["OomKillDisable"] = True
    return host
