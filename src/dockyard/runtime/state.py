"""Per-container state under ``--root``: ``<root>/<id>/state.json`` and ``exec.fifo``.

The status is never stored; it is read off the kernel each time:
  stopped  the init process is gone, a zombie, or a different process with its pid
  created  init is alive and ``exec.fifo`` still exists (``start`` removes it)
  paused   the container's cgroup is frozen
  running  otherwise
"""

from __future__ import annotations

import os
import time

from dockyard._internal import fastjson
from dockyard._internal.atomicfile import write_atomic
from dockyard.errors import Conflict, InvalidArgument, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_ROOT = "/run/dockyard-runtime"
OCI_VERSION = "1.0.2-dev"


def check_id(cid: str) -> None:
    ok = cid and len(cid) <= 1024 and cid not in (".", "..")
    if not ok or not all(c.isalnum() or c in "_-.+" for c in cid):
        raise InvalidArgument(f"invalid container id {cid!r}: use letters, digits, _ - . +")


def proc_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in ticks), or None if gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def now_rfc3339() -> str:
    ns = time.time_ns()
    sec, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z"


class Container:
    """One container's record; ``data`` is what state.json holds."""

    __slots__ = ("data", "dir", "id")

    def __init__(self, root: str, cid: str, data: dict[str, Any]) -> None:
        self.id = cid
        self.dir = os.path.join(root, cid)
        self.data = data

    @property
    def pid(self) -> int:
        return int(self.data.get("pid") or 0)

    @property
    def fifo(self) -> str:
        return os.path.join(self.dir, "exec.fifo")

    def alive(self) -> bool:
        return self.pid > 0 and proc_start_time(self.pid) == self.data.get("start_time")

    def status(self) -> str:
        if not self.alive():
            return "stopped"
        if os.path.exists(self.fifo):
            return "created"
        from dockyard.cgroups import manager_for

        if manager_for(self.data["cgroup"]).frozen():
            return "paused"
        return "running"

    def oci_state(self) -> dict[str, Any]:
        """The state document of the OCI spec, as ``runc state`` prints it."""
        status = self.status()
        out: dict[str, Any] = {
            "ociVersion": self.data.get("oci_version", OCI_VERSION),
            "id": self.id,
            "pid": self.pid if status != "stopped" else 0,
            "status": status,
            "bundle": self.data["bundle"],
            "rootfs": self.data["rootfs"],
            "created": self.data["created"],
            "owner": "",
        }
        if self.data.get("annotations"):
            out["annotations"] = self.data["annotations"]
        return out

    def remove(self) -> None:
        remove_dir(self.dir)

    def save(self) -> None:
        write_atomic(os.path.join(self.dir, "state.json"), fastjson.dumps(self.data).encode())


def reserve(root: str, cid: str) -> str:
    """Make the container's state dir; a taken id is a Conflict."""
    check_id(cid)
    os.makedirs(root, mode=0o711, exist_ok=True)
    path = os.path.join(root, cid)
    try:
        os.mkdir(path, 0o711)
    except FileExistsError:
        raise Conflict(f"container id {cid!r} is already in use") from None
    return path


def load(root: str, cid: str) -> Container:
    check_id(cid)
    path = os.path.join(root, cid, "state.json")
    try:
        with open(path, "rb") as f:
            data = fastjson.loads(f.read())
    except FileNotFoundError:
        raise NotFound(f"container {cid!r} does not exist") from None
    except ValueError as e:
        raise InvalidArgument(
            f"{path} is damaged ({e}): 'delete --force {cid}' removes it"
        ) from None
    return Container(root, cid, data)


def remove_dir(path: str) -> None:
    """Remove a state dir; it normally holds only flat files, so no shutil (9 ms) here."""
    try:
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


def list_ids(root: str) -> list[str]:
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    return [n for n in names if os.path.exists(os.path.join(root, n, "state.json"))]
