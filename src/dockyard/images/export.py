"""``docker export``: a container's merged root file system as one tar.

Plain drivers keep the container's whole tree in its snapshot dir, which is read
directly. Overlay needs the merged view, i.e. a mount: a forked child unshares its mount
namespace (made private first), mounts the container's rootfs there and writes the tar
into a pipe that this process copies to ``out``. The mount exists only in the child's
namespace and disappears with it, so no crash can leave it behind on the host.

The tar holds every entry of the tree (no whiteouts), written by the layer tar writer:
ownership, modes, xattrs (not ``trusted.overlay.*``), devices, symlinks, hardlinks.
"""

from __future__ import annotations

import os
import secrets
import shutil
from typing import BinaryIO

from dockyard._internal import lazylog
from dockyard.errors import SystemFault
from dockyard.snapshots import Mount, mount_all

from .imagestore import ImageStore
from .layertar.compression import CHUNK, Writable
from .layertar.diff import diff_plain
from .layertar.tarwriter import DiffResult
from .rootfs import container, container_tree

log = lazylog.getLogger(__name__)


def export_container(store: ImageStore, container_id: str, out: BinaryIO | Writable) -> int:
    """Write the container's file system to ``out`` as a tar; answer the bytes written."""
    record = container(store, container_id)
    if store.snapshotter.upper_dir(record.snapshot_key) is None:
        return diff_plain(None, container_tree(store, container_id), out).size
    mounts = store.snapshotter.mounts(record.snapshot_key)
    tmp = store.root / "tmp"
    tmp.mkdir(exist_ok=True)
    target = tmp / f"export-{secrets.token_hex(6)}"
    target.mkdir()
    data_r, data_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        pid = os.fork()
    except BaseException:
        for fd in (data_r, data_w, err_r, err_w):
            os.close(fd)
        target.rmdir()
        raise
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(data_r)
        os.close(err_r)
        _child(mounts, str(target), data_w, err_w)
    os.close(data_w)
    os.close(err_w)
    size = 0
    try:
        with os.fdopen(data_r, "rb", buffering=0) as pipe:
            while chunk := pipe.read(CHUNK):
                out.write(chunk)
                size += len(chunk)
    finally:
        _, status = os.waitpid(pid, 0)
        with os.fdopen(err_r, "rb") as err:
            message = err.read().decode(errors="replace").strip()
        shutil.rmtree(target, ignore_errors=True)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemFault(
            f"cannot export container {container_id}: {message or 'the exporter died'}"
        )
    return size


def _child(mounts: list[Mount], target: str, data_w: int, err_w: int) -> None:  # pragma: no cover
    code = 1
    try:
        from dockyard.kernel import mount as km
        from dockyard.kernel.namespaces import CLONE_NEWNS, unshare

        unshare(CLONE_NEWNS)
        km.mount(None, "/", None, km.MS_REC | km.MS_PRIVATE)
        mount_all(mounts, target)
        with os.fdopen(data_w, "wb", buffering=CHUNK) as pipe:
            result: DiffResult = diff_plain(None, target, pipe)
        log.debug("exported %d bytes from %s", result.size, target)
        code = 0
    except BaseException as e:
        try:
            os.write(err_w, str(e).encode()[:4000])
        except OSError:
            pass
    finally:
        os._exit(code)
