"""The ``create``/``run`` options of limits, privileges and devices, and the
``HostConfig`` fields they set, spelled as the docker CLI sends them: ``--memory-swap``,
``--cpu-shares``, ``--ulimit``, ``--device``, ``--security-opt``, ``--sysctl``,
``--group-add``, ``--oom-score-adj``, ``--log-driver``/``--log-opt``, the namespace modes
(``--ipc``, ``--pid``, ``--uts``, ``--cgroupns``), ``--shm-size`` and the like.
"""

from __future__ import annotations

from dockyard.cli.errors import UsageError
from dockyard.cli.flags import LIST, STRING, Flag, parse_int

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

HOST_FLAGS = [
    Flag("blkio-weight", kind=STRING, help="Block IO (relative weight), between 10 and 1000"),
    Flag("cgroupns", kind=STRING, help="Cgroup namespace to use (host|private)"),
    Flag("cpu-period", kind=STRING, help="Limit CPU CFS (Completely Fair Scheduler) period"),
    Flag("cpu-quota", kind=STRING, help="Limit CPU CFS (Completely Fair Scheduler) quota"),
    Flag("cpu-shares", "c", STRING, "CPU shares (relative weight)"),
    Flag("cpuset-cpus", kind=STRING, help="CPUs in which to allow execution (0-3, 0,1)"),
    Flag("cpuset-mems", kind=STRING, help="MEMs in which to allow execution (0-3, 0,1)"),
    Flag("device", kind=LIST, help="Add a host device to the container"),
    Flag("domainname", kind=STRING, help="Container NIS domain name"),
    Flag("group-add", kind=LIST, help="Add additional groups to join"),
    Flag("ipc", kind=STRING, help="IPC mode to use"),
    Flag("log-driver", kind=STRING, help="Logging driver for the container"),
    Flag("log-opt", kind=LIST, help="Log driver options"),
    Flag("memory-reservation", kind=STRING, help="Memory soft limit"),
    Flag("memory-swap", kind=STRING, help="Swap limit equal to memory plus swap: -1 unlimited"),
    Flag("memory-swappiness", kind=STRING, help="Tune container memory swappiness (0 to 100)"),
    Flag("oom-score-adj", kind=STRING, help="Tune host's OOM preferences (-1000 to 1000)"),
    Flag("pid", kind=STRING, help="PID namespace to use"),
    Flag("security-opt", kind=LIST, help="Security Options"),
    Flag("shm-size", kind=STRING, help="Size of /dev/shm"),
    Flag("storage-opt", kind=LIST, help="Storage driver options for the container"),
    Flag("sysctl", kind=LIST, help="Sysctl options"),
    Flag("ulimit", kind=LIST, help="Ulimit options"),
    Flag("userns", kind=STRING, help="User namespace to use"),
    Flag("uts", kind=STRING, help="UTS namespace to use"),
]

_DEVICE_MODES = set("rwm")


def _bad(value: str, flag: str, why: str) -> UsageError:
    return UsageError(f'invalid argument "{value}" for "--{flag}" flag: {why}', "run")


def parse_ulimit(spec: str) -> dict[str, Any]:
    """``name=soft[:hard]`` as docker's ``--ulimit`` (hard defaults to soft)."""
    name, eq, limits = spec.partition("=")
    soft_text, _, hard_text = limits.partition(":")
    try:
        soft = int(soft_text)
        hard = int(hard_text) if hard_text else soft
    except ValueError:
        raise _bad(spec, "ulimit", f"invalid ulimit argument: {spec}") from None
    if not eq or not name:
        raise _bad(spec, "ulimit", f"invalid ulimit argument: {spec}")
    if soft > hard:
        raise _bad(
            spec, "ulimit", f"ulimit soft limit must be less than or equal to hard limit: {spec}"
        )
    return {"Name": name, "Soft": soft, "Hard": hard}


def parse_device(spec: str) -> dict[str, str]:
    """``/dev/x[:/dev/y][:rwm]`` as docker's ``--device``."""
    parts = spec.split(":")
    if len(parts) > 3 or not parts[0]:
        raise _bad(spec, "device", f"invalid device specification: {spec}")
    src, dst, mode = parts[0], "", "rwm"
    if len(parts) == 3:
        dst, mode = parts[1], parts[2]
    elif len(parts) == 2:
        if parts[1] and set(parts[1]) <= _DEVICE_MODES:
            mode = parts[1]
        else:
            dst = parts[1]
    if not mode or not set(mode) <= _DEVICE_MODES:
        raise _bad(spec, "device", f"bad mode specified: {mode}")
    dst = dst or src
    for path in (src, dst):
        if not path.startswith("/"):
            raise _bad(spec, "device", f"{path} is not an absolute path")
    return {"PathOnHost": src, "PathInContainer": dst, "CgroupPermissions": mode}


def _sysctls(specs: list[str]) -> dict[str, str]:
    out = {}
    for spec in specs:
        key, eq, value = spec.partition("=")
        if not eq or not key:
            raise _bad(spec, "sysctl", f"sysctl '{spec}' is not allowed")
        out[key] = value
    return out


def host_settings(opts: dict[str, Any], ram_in_bytes: Callable[[str, str], int]) -> dict[str, Any]:
    """The ``HostConfig`` fields of the options above that were given."""
    host: dict[str, Any] = {}
    swap = opts["memory_swap"]
    if swap:
        host["MemorySwap"] = -1 if swap.strip() == "-1" else ram_in_bytes(swap, "--memory-swap")
    if opts["memory_reservation"]:
        host["MemoryReservation"] = ram_in_bytes(opts["memory_reservation"], "--memory-reservation")
    for flag, key in (
        ("cpu_shares", "CpuShares"),
        ("cpu_period", "CpuPeriod"),
        ("cpu_quota", "CpuQuota"),
        ("blkio_weight", "BlkioWeight"),
        ("oom_score_adj", "OomScoreAdj"),
        ("memory_swappiness", "MemorySwappiness"),
    ):
        if opts[flag]:
            host[key] = parse_int(opts[flag], "--" + flag.replace("_", "-"))
    if opts["cpuset_cpus"]:
        host["CpusetCpus"] = opts["cpuset_cpus"]
    if opts["cpuset_mems"]:
        host["CpusetMems"] = opts["cpuset_mems"]
    if opts["ulimit"]:
        host["Ulimits"] = [parse_ulimit(u) for u in opts["ulimit"]]
    if opts["device"]:
        host["Devices"] = [parse_device(d) for d in opts["device"]]
    if opts["security_opt"]:
        host["SecurityOpt"] = list(opts["security_opt"])
    if opts["sysctl"]:
        host["Sysctls"] = _sysctls(opts["sysctl"])
    if opts["group_add"]:
        host["GroupAdd"] = list(opts["group_add"])
    swappiness = host.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1 and not 0 <= swappiness <= 100:
        raise _mode_error(f"invalid value: {swappiness}. Valid memory swappiness range is 0-100")
    if opts["userns"]:
        if opts["userns"] not in ("host", "private"):
            raise _mode_error("--userns: invalid USER mode")
        host["UsernsMode"] = opts["userns"]
    if opts["storage_opt"]:
        host["StorageOpt"] = _storage_opts(opts["storage_opt"])
    if opts["log_driver"] or opts["log_opt"]:
        host["LogConfig"] = _log_config(opts["log_driver"] or "", opts["log_opt"])
    host.update(_namespace_modes(opts, ram_in_bytes))
    return host


def _namespace_modes(
    opts: dict[str, Any], ram_in_bytes: Callable[[str, str], int]
) -> dict[str, Any]:
    """``--ipc``, ``--pid``, ``--uts``, ``--cgroupns`` (checked as the docker CLI does; the
    daemon checks ``--ipc``) and ``--shm-size``."""
    host: dict[str, Any] = {}
    pid = opts["pid"] or ""
    kind, _, target = pid.partition(":")
    if pid and not (pid == "host" or (kind == "container" and target)):
        raise _mode_error("--pid: invalid PID mode")
    if (opts["uts"] or "") not in ("", "host"):
        raise _mode_error("--uts: invalid UTS mode")
    if (opts["cgroupns"] or "") not in ("", "host", "private"):
        raise _mode_error("--cgroupns: invalid CGROUP mode")
    for flag, key in (("ipc", "IpcMode"), ("pid", "PidMode"), ("uts", "UTSMode")):
        if opts[flag]:
            host[key] = opts[flag]
    if opts["cgroupns"]:
        host["CgroupnsMode"] = opts["cgroupns"]
    if opts["shm_size"]:
        host["ShmSize"] = ram_in_bytes(opts["shm_size"], "--shm-size")
    return host


def _storage_opts(specs: list[str]) -> dict[str, str]:
    """``--storage-opt key=value`` as docker parses them."""
    out = {}
    for spec in specs:
        key, eq, value = spec.partition("=")
        if not eq or not key:
            raise _bad(spec, "storage-opt", "invalid storage option")
        out[key] = value
    return out


def _log_config(driver: str, options: list[str]) -> dict[str, Any]:
    """docker's parseLoggingOpts: ``--log-opt key=value`` pairs for ``--log-driver``."""
    if driver == "none" and options:
        raise UsageError("invalid logging opts for driver none", "run")
    config = {}
    for spec in options:
        key, _, value = spec.partition("=")
        config[key] = value
    return {"Type": driver, "Config": dict(sorted(config.items()))}  # as Go marshals a map


def _mode_error(message: str) -> UsageError:
    """docker's report of a bad mode: no usage lines, status 125."""
    hint = "Run 'dockyard run --help' for more information"
    return UsageError(f"dockyard: {message}\n\n{hint}", None)
