"""cgroup file I/O: the only place that touches cgroupfs, so every write is logged once.

Writes open the file without O_CREAT: a missing control file means the kernel lacks the
controller or feature, and must not silently become a regular file (that would also hide
bugs in tests that use a fake hierarchy in a temp dir). O_TRUNC is harmless on cgroupfs
and makes a fake hierarchy show exactly the last value written.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from dockyard import errors

log = logging.getLogger(__name__)

_INVALID = (errno.EINVAL, errno.ERANGE, errno.EOVERFLOW, errno.EBUSY)


def write(path: Path, value: str) -> None:
    """Write ``value`` to the control file ``path``, mapping errno to an error kind."""
    log.debug("cgroup write %s = %r", path, value)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except FileNotFoundError as e:
        if not path.parent.is_dir():
            raise errors.NotFound(
                f"cgroup {path.parent} does not exist: create it before writing {path.name}"
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


def _write_error(e: OSError, path: Path, value: str) -> errors.DockyardError:
    message = f"cannot write {value!r} to {path}: {e.strerror}"
    if e.errno == errno.ESRCH:
        return errors.NotFound(f"{message} (no such process)")
    if e.errno == errno.ENOSPC and path.name in ("cgroup.procs", "tasks"):
        return errors.SystemFault(f"{message} (cpuset.cpus or cpuset.mems is empty)")
    if e.errno in _INVALID:
        return errors.InvalidArgument(message)
    return errors.SystemFault(message)


def read(path: Path) -> str | None:
    """The file's text, or None if it does not exist."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise errors.SystemFault(f"cannot read {path}: {e.strerror}") from e


def read_int(path: Path) -> int:
    """An integer counter; 0 when the file is missing or holds no number (e.g. "max")."""
    text = read(path)
    if text is None:
        return 0
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else 0


def read_keyed(path: Path) -> dict[str, int]:
    """A flat keyed file (``key value`` lines: memory.stat, cgroup.events, cpu.stat)."""
    out: dict[str, int] = {}
    for line in (read(path) or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def make_dir(path: Path) -> bool:
    """mkdir one cgroup level; True if it was created now (False if it existed)."""
    try:
        path.mkdir()
    except FileExistsError:
        return False
    except OSError as e:
        raise errors.SystemFault(f"cannot create cgroup {path}: {e.strerror}") from e
    log.debug("cgroup mkdir %s", path)
    return True


def procs(directory: Path) -> set[int]:
    """Every pid in ``directory``'s cgroup.procs and in its descendant cgroups."""
    out: set[int] = set()
    for dirpath, _, _ in os.walk(directory):
        text = read(Path(dirpath, "cgroup.procs")) or ""
        out.update(int(p) for p in text.split() if p.isdigit())
    return out


def send(pids: Iterable[int], sig: int) -> None:
    """Signal each pid, ignoring ones that have already gone."""
    for pid in pids:
        log.debug("cgroup kill pid %d sig %s", pid, signal.Signals(sig).name)
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


def remove_tree(directory: Path, timeout: float) -> None:
    """rmdir ``directory`` and its child cgroups, deepest first.

    EBUSY means tasks are still leaving (a killed process is only removed from its
    cgroup once it has exited), so retry until ``timeout`` before calling it a Conflict.
    """
    if not directory.is_dir():
        return
    for dirpath, _, _ in os.walk(directory, topdown=False):
        _rmdir(Path(dirpath), timeout)


def _rmdir(path: Path, timeout: float) -> None:
    last: OSError | None = None

    def attempt() -> bool:
        nonlocal last
        try:
            path.rmdir()
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
