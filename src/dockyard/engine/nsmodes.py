"""A container's IPC, PID, UTS and cgroup namespace modes and its ``/dev/shm``, as dockerd
does them (``HostConfig.IpcMode``, ``PidMode``, ``UTSMode``, ``CgroupnsMode``,
``ShmSize``).

``check_modes`` is create's part: dockerd's checks and messages, its defaults written
into the record (``IpcMode`` "private", ``ShmSize`` 64 MiB, ``CgroupnsMode`` "host" on a
cgroup v1 or hybrid host), and a ``container:<name>`` target stored by its full id.
``resolve`` is start's part: the namespaces of a running target to join and the host
directory bound at ``/dev/shm``; a "shareable" container's ``/dev/shm`` is a tmpfs the
daemon mounts at ``<data dir>/shm`` (``mount_shm``, undone by ``unmount_shm`` when the
run ends), so that a container joining its IPC namespace sees the same files.
``namespaces``/``shm_mount`` give the OCI spec's parts (``specgen.container_spec``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound

from .containerrecord import Container

log = logging.getLogger(__name__)

DEFAULT_SHM_SIZE = 64 * 1024 * 1024  # dockerd's config.DefaultShmSize
SHM_DIR = "shm"  # the shareable tmpfs, in the container's data dir
IPC_MODES = ("", "private", "shareable", "host", "none")
NON_SHAREABLE_HINT = "non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
# each hop of container:<id> to find the tmpfs; more would be a cycle
MAX_HOPS = 8


def target_of(mode: str) -> str | None:
    """The container named by ``container:<name|id>``, else None."""
    kind, sep, ref = mode.partition(":")
    return ref if sep and kind == "container" else None


def _valid_pid(mode: str) -> bool:
    return mode in ("", "host") or bool(target_of(mode))


def check_modes(
    hc: dict[str, Any],
    config: Mapping[str, Any],
    full_id: Callable[[str], str],
    cgroup_v2: Callable[[], bool] | None = None,
) -> None:
    """Create's check of the modes and ``ShmSize``; fills dockerd's defaults into ``hc``.

    ``full_id`` finds a container's id by name or id prefix (NotFound otherwise);
    ``cgroup_v2`` says whether the host's cgroups are v2 only (private cgroupns default).
    """
    ipc = str(hc.get("IpcMode") or "")
    pid = str(hc.get("PidMode") or "")
    uts = str(hc.get("UTSMode") or "")
    cgroupns = str(hc.get("CgroupnsMode") or "")
    if uts == "host" and config.get("Hostname"):
        raise InvalidArgument("conflicting options: hostname and the UTS mode")
    if ipc not in IPC_MODES and target_of(ipc) is None:
        raise InvalidArgument(f"invalid IPC mode: {ipc}")
    if not _valid_pid(pid):
        raise InvalidArgument(f"invalid PID mode: {pid}")
    if uts not in ("", "host"):
        raise InvalidArgument(f"invalid UTS mode: {uts}")
    # no user namespace remapping in this daemon: "private" is the host's, as dockerd's
    # without --userns-remap
    if str(hc.get("UsernsMode") or "") not in ("", "host", "private"):
        raise InvalidArgument(f"invalid USER mode: {hc['UsernsMode']}")
    if cgroupns not in ("", "host", "private"):
        raise InvalidArgument(f"invalid cgroup namespace mode: {cgroupns}")
    try:
        shm = int(hc.get("ShmSize") or 0)
    except (TypeError, ValueError):
        raise InvalidArgument(f"invalid ShmSize {hc.get('ShmSize')!r}: give bytes") from None
    if shm < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    for key, mode in (("IpcMode", ipc), ("PidMode", pid)):
        ref = target_of(mode)
        if ref is not None:  # as dockerd: by id, so that a rename keeps the link
            try:
                hc[key] = "container:" + full_id(ref)
            except NotFound as e:  # a 404 would make the docker CLI pull the image
                raise InvalidArgument(str(e)) from None
    hc["IpcMode"] = hc["IpcMode"] if ipc else "private"
    hc["ShmSize"] = shm or DEFAULT_SHM_SIZE
    if not cgroupns:  # dockerd: host on cgroup v1 (and for privileged), else private
        private = (cgroup_v2 or host_cgroup_v2)() and not hc.get("Privileged")
        hc["CgroupnsMode"] = "private" if private else "host"


def host_cgroup_v2() -> bool:
    """Whether this host's cgroups are v2 only (not v1 or hybrid)."""
    from dockyard.cgroups.detect import LayoutKind, discover

    try:
        return bool(discover().kind == LayoutKind.V2)
    except (OSError, DockyardError):
        return False


@dataclass(frozen=True)
class Joined:
    """What a start joins: namespace paths of running targets and the /dev/shm source."""

    ipc: str = ""  # /proc/<pid>/ns/ipc of the IpcMode target
    pid: str = ""  # /proc/<pid>/ns/pid of the PidMode target
    shm: str = ""  # a host directory bound at /dev/shm ("" with a private or no /dev/shm)


def shm_dir(data_dir: Path) -> Path:
    return data_dir / SHM_DIR


def _running_target(c: Container, what: str) -> None:
    if c.status == "restarting":
        raise Conflict(f"{what}Container {c.id} is restarting, wait until the container is running")
    if not c.running or not c.pid:
        raise Conflict(f"{what}container {c.id} is not running")


def _shm_source(
    c: Container, find: Callable[[str], Container], data_dir: Callable[[str], Path]
) -> str:
    """The host directory that is ``c``'s /dev/shm, "" when it is not shareable."""
    for _ in range(MAX_HOPS):
        mode = str(c.host_config.get("IpcMode") or "private")
        if mode == "shareable":
            path = shm_dir(data_dir(c.id))
            return str(path) if os.path.ismount(path) else ""
        if mode == "host":
            return "/dev/shm"
        ref = target_of(mode)
        if ref is None:
            return ""
        try:
            c = find(ref)
        except NotFound:
            return ""
    return ""


def resolve(
    hc: Mapping[str, Any],
    own_data_dir: Path,
    find: Callable[[str], Container],
    data_dir: Callable[[str], Path],
) -> Joined:
    """Start's part: the targets of ``container:`` modes (which must run; an IPC target
    must be shareable) and the /dev/shm source; a shareable container's tmpfs is mounted.
    NotFound or Conflict with dockerd's messages."""
    ipc_ns = pid_ns = shm = ""
    ref = target_of(str(hc.get("PidMode") or ""))
    if ref is not None:
        try:
            other = find(ref)
        except NotFound as e:
            raise NotFound(f"cannot join PID of a non running container: {ref}: {e}") from None
        _running_target(other, "")
        pid_ns = f"/proc/{other.pid}/ns/pid"
    ipc = str(hc.get("IpcMode") or "private")
    ref = target_of(ipc)
    if ref is not None:
        what = f"can't join IPC of container {ref}: "
        try:
            other = find(ref)
        except NotFound as e:
            raise NotFound(what + str(e)) from None
        what = f"can't join IPC of container {other.id}: "
        _running_target(other, what)
        shm = _shm_source(other, find, data_dir)
        if not shm:
            raise Conflict(what + NON_SHAREABLE_HINT)
        ipc_ns = f"/proc/{other.pid}/ns/ipc"
    elif ipc == "host":
        if not os.path.isdir("/dev/shm"):
            raise Conflict("/dev/shm is not mounted, but must be for --ipc=host")
        shm = "/dev/shm"
    elif ipc == "shareable":  # last: nothing after it fails and leaves the mount behind
        shm = str(shm_dir(own_data_dir))
        mount_shm(Path(shm), int(hc.get("ShmSize") or DEFAULT_SHM_SIZE))
    return Joined(ipc=ipc_ns, pid=pid_ns, shm=shm)


def mount_shm(path: Path, size: int) -> None:
    """The tmpfs of a shareable container's /dev/shm (dockerd's ``mode=1777,size=``)."""
    from dockyard.kernel import mount as km

    path.mkdir(mode=0o700, exist_ok=True)
    if os.path.ismount(path):
        return
    km.mount(
        "shm",
        path,
        "tmpfs",
        km.MS_NOEXEC | km.MS_NOSUID | km.MS_NODEV,
        f"mode=1777,size={size}",
    )


def unmount_shm(data_dir: Path) -> None:
    """Undo ``mount_shm`` when the run ends (a container joined to it keeps its copy)."""
    from dockyard.kernel import mount as km

    path = shm_dir(data_dir)
    try:
        if os.path.ismount(path):
            km.umount(path, km.MNT_DETACH)
    except OSError as e:
        log.warning("unmounting %s: %s", path, e)


def namespaces(hc: Mapping[str, Any], joined: Joined | None) -> list[dict[str, str]]:
    """The spec's pid, ipc, uts, mount and cgroup namespaces (network is the caller's)."""
    joined = joined or Joined()
    out: list[dict[str, str]] = []
    pid = str(hc.get("PidMode") or "")
    if joined.pid:
        out.append({"type": "pid", "path": joined.pid})
    elif pid != "host":
        out.append({"type": "pid"})
    if joined.ipc:
        out.append({"type": "ipc", "path": joined.ipc})
    elif str(hc.get("IpcMode") or "") != "host":
        out.append({"type": "ipc"})
    if not uts_host(hc):
        out.append({"type": "uts"})
    out.append({"type": "mount"})
    if str(hc.get("CgroupnsMode") or "") == "private":
        out.append({"type": "cgroup"})
    return out


def uts_host(hc: Mapping[str, Any]) -> bool:
    """``--uts host``: no hostname or domain name may be set (they would be the host's)."""
    return str(hc.get("UTSMode") or "") == "host"


def shm_mount(hc: Mapping[str, Any], joined: Joined | None) -> dict[str, Any] | None:
    """The spec's /dev/shm: the private tmpfs of ``ShmSize``, a bind of the shared one,
    or none (``--ipc none``)."""
    if joined is not None and joined.shm:
        return {
            "destination": "/dev/shm",
            "type": "bind",
            "source": joined.shm,
            "options": ["rbind", "rprivate"],
        }
    if str(hc.get("IpcMode") or "") == "none":
        return None
    size = int(hc.get("ShmSize") or DEFAULT_SHM_SIZE)
    return {
        "destination": "/dev/shm",
        "type": "tmpfs",
        "source": "shm",
        "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={size}"],
    }
