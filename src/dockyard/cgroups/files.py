"""cgroup file I/O: the only place that touches cgroupfs, so every write is logged once.

Writes open the file without O_CREAT: a missing control file means the kernel lacks the
controller or feature, and must not silently become a regular file (that would also hide
bugs in tests that use a fake hierarchy in a temp dir). O_TRUNC is harmless on cgroupfs
and makes a fake hierarchy show exactly the last value written.
"""

from __future__ import annotations

import errno
import os
import time

from dockyard import errors
from dockyard._internal import lazylog

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

log = lazylog.getLogger(__name__)

_INVALID = (errno.EINVAL, errno.ERANGE, errno.EOVERFLOW, errno.EBUSY)
_READ_SIZE = 65536


def write(path: str, value: str) -> None:
    """Write ``value`` to the control file ``path``, mapping errno to an error kind."""
    log.debug("cgroup write %s = %r", path, value)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except FileNotFoundError as e:
        parent, name = os.path.split(path)
        if not os.path.isdir(parent):
            raise errors.NotFound(
                f"cgroup {parent} does not exist: create it before writing {name}"
            ) from e
        raise errors.NotSupported(
            f"cannot write {value!r} to {path}: the file is missing, so this kernel or "
            "cgroup does not offer the controller or feature"
        ) from e
    except OSError as e:
        raise errors.SystemFault(f"cannot open {path}: {e.strerror}") from e
    try:
        os.write(fd, value.encode())
    except OSError as e:
        raise _write_error(e, path, value) from e
    finally:
        os.close(fd)


def _write_error(e: OSError, path: str, value: str) -> errors.DockyardError:
    message = f"cannot write {value!r} to {path}: {e.strerror}"
    if e.errno == errno.ESRCH:
        return errors.NotFound(f"{message} (no such process)")
    if e.errno == errno.ENOSPC and os.path.basename(path) in ("cgroup.procs", "tasks"):
        return errors.SystemFault(f"{message} (cpuset.cpus or cpuset.mems is empty)")
    if e.errno in _INVALID:
        return errors.InvalidArgument(message)
    return errors.SystemFault(message)


def read(path: str) -> str | None:
    """The file's text, or None if it does not exist."""
    # os.open/os.read rather than open(): no fstat, ioctl or lseek, and no io wrappers.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise errors.SystemFault(f"cannot read {path}: {e.strerror}") from e
    try:
        chunks = []
        while chunk := os.read(fd, _READ_SIZE):
            chunks.append(chunk)
    except OSError as e:
        raise errors.SystemFault(f"cannot read {path}: {e.strerror}") from e
    finally:
        os.close(fd)
    return b"".join(chunks).decode()


def read_int(path: str) -> int:
    """An integer counter; 0 when the file is missing or holds no number (e.g. "max")."""
    text = read(path)
    if text is None:
        return 0
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else 0


def read_keyed(path: str) -> dict[str, int]:
    """A flat keyed file (``key value`` lines: memory.stat, cgroup.events, cpu.stat)."""
    out: dict[str, int] = {}
    for line in (read(path) or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def make_dir(path: str) -> bool:
    """mkdir one cgroup level; True if it was created now (False if it existed)."""
    try:
        os.mkdir(path)
    except FileExistsError:
        return False
    except OSError as e:
        raise errors.SystemFault(f"cannot create cgroup {path}: {e.strerror}") from e
    log.debug("cgroup mkdir %s", path)
    return True


def make_dirs(root: str, relative: str) -> None:
    """mkdir ``root/relative`` and any missing parents below ``root``.

    The leaf is tried first: its parents usually exist, so that is the only syscall.
    """
    leaf = os.path.join(root, relative)
    try:
        os.mkdir(leaf)
    except FileExistsError:
        return
    except FileNotFoundError:
        pass  # a parent is missing: make every level below
    except OSError as e:
        raise errors.SystemFault(f"cannot create cgroup {leaf}: {e.strerror}") from e
    else:
        log.debug("cgroup mkdir %s", leaf)
        return
    current = root
    for part in relative.split("/"):
        current = os.path.join(current, part)
        make_dir(current)


def procs(directory: str) -> set[int]:
    """Every pid in ``directory``'s cgroup.procs and in its descendant cgroups."""
    out: set[int] = set()
    for dirpath, _, _ in os.walk(directory):
        text = read(os.path.join(dirpath, "cgroup.procs")) or ""
        out.update(int(p) for p in text.split() if p.isdigit())
    return out


def send(pids: Iterable[int], sig: int) -> None:
    """Signal each pid, ignoring ones that have already gone."""
    for pid in pids:
        log.debug("cgroup kill pid %d sig %d", pid, sig)
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
        except OSError as e:
            raise errors.SystemFault(f"cannot signal pid {pid}: {e.strerror}") from e


def wait_until(done: Callable[[], bool], timeout: float) -> bool:
    """Poll ``done`` with a growing sleep until it is true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        if done():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def remove_tree(directory: str, timeout: float) -> None:
    """rmdir ``directory`` and its child cgroups, deepest first.

    EBUSY means tasks are still leaving (a killed process is only removed from its
    cgroup once it has exited), so retry until ``timeout`` before calling it a Conflict.
    """
    # The common case, an empty leaf cgroup, takes the single rmdir.
    try:
        os.rmdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError:
        pass  # child cgroups, or tasks still exiting: the walk below handles both
    else:
        log.debug("cgroup rmdir %s", directory)
        return
    for dirpath, _, _ in os.walk(directory, topdown=False):
        _rmdir(dirpath, timeout)


def remove_if_empty(directories: Iterable[str]) -> bool:
    """rmdir each directory once; False as soon as one is busy (tasks or child cgroups)."""
    for d in directories:
        try:
            os.rmdir(d)
        except FileNotFoundError:
            continue
        except OSError:
            return False
        log.debug("cgroup rmdir %s", d)
    return True


def _rmdir(path: str, timeout: float) -> None:
    last: OSError | None = None

    def attempt() -> bool:
        nonlocal last
        try:
            os.rmdir(path)
        except FileNotFoundError:
            return True
        except OSError as e:
            if e.errno != errno.EBUSY:
                raise errors.SystemFault(f"cannot remove cgroup {path}: {e.strerror}") from e
            last = e
            return False
        log.debug("cgroup rmdir %s", path)
        return True

    if not wait_until(attempt, timeout):
        left = sorted(procs(path))
        raise errors.Conflict(
            f"cannot remove cgroup {path}: still busy after {timeout:g}s"
            f" (processes {left}); kill them first"
        ) from last
