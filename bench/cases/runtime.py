"""Cases for the OCI runtime: ``dockyard-runtime`` against runc, crun and a bare floor."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from bench.harness import Contender, Failed, case, run_command
from dockyard.testing.bundle import make_bundle
from dockyard.testing.hostfix import move_cgroup2_controllers_to_v1
from dockyard.testing.names import unique
from dockyard.testing.rootfs import make_busybox_rootfs
from dockyard.testing.runtimes import binary_of

RUNTIMES = ("dockyard", "runc", "crun")
FLOOR = "floor: unshare+chroot"


def _runtime(name: str, bundle: Path, state: Path, ids: list[str]) -> Callable[[], None]:
    binary = binary_of(name)
    counter = itertools.count()
    prefix = unique("bench")

    def run() -> None:
        if not shutil.which(binary):
            raise Failed(f"{binary} not found")
        cid = f"{prefix}-{next(counter)}"
        ids.append(cid)
        run_command([binary, "--root", str(state), "run", "-b", str(bundle), cid])

    return run


def _cleanup(name: str, state: Path, ids: Sequence[str]) -> None:
    binary = binary_of(name)
    if shutil.which(binary) and state.is_dir():
        for cid in ids:
            subprocess.run(
                [binary, "--root", str(state), "delete", "--force", cid],
                capture_output=True,
                check=False,
                timeout=30,
            )
    shutil.rmtree(state, ignore_errors=True)


def _setup(tmp: Path) -> tuple[Path, Path]:
    if os.geteuid() == 0:
        move_cgroup2_controllers_to_v1()
    rootfs = make_busybox_rootfs(tmp / "rootfs")
    # one bundle for all: each run removes its container, and with it the cgroup
    bundle = make_bundle(tmp / "bundle", rootfs, args=["true"], cgroups_path=f"/{unique('bench')}")
    return rootfs, bundle.path


def _floor(rootfs: Path) -> Callable[[], None]:
    argv = [
        "unshare", "--mount", "--uts", "--ipc", "--net", "--pid", "--fork",
        f"--root={rootfs}", "/bin/true",
    ]  # fmt: skip
    return lambda: run_command(argv)


def _contenders(tmp: Path, ids: dict[str, list[str]]) -> list[tuple[str, Callable[[], None]]]:
    rootfs, bundle = _setup(tmp)
    out = [(n, _runtime(n, bundle, tmp / f"state-{n}", ids[n])) for n in RUNTIMES]
    out.append((FLOOR, _floor(rootfs)))
    return out


@case("runtime run busybox true")
def run_true(tmp: Path) -> Iterator[Sequence[Contender]]:
    """``<runtime> run`` of one busybox bundle (args ["true"]), each with its own --root.

    Run back to back, alternating: a runtime that moves its init by writing
    ``cgroup.procs`` is fast only within a grace period of the previous such write
    (the kernel's cgroup-migration lock, see docs/architecture.md), so its figure
    depends on which contender ran just before it. The two cases below fix that state.
    """
    ids: dict[str, list[str]] = {name: [] for name in RUNTIMES}
    try:
        yield [Contender(n, fn) for n, fn in _contenders(tmp, ids)]
    finally:
        for name in RUNTIMES:
            _cleanup(name, tmp / f"state-{name}", ids[name])


def _timed_after(before: Callable[[], None], fn: Callable[[], None]) -> Callable[[], float]:
    def run() -> float:
        before()
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start) * 1000

    return run


def _lock_cold() -> None:
    time.sleep(0.06)  # several grace periods with no cgroup move: the next one waits


def _lock_warm() -> None:
    # a no-op move of a throwaway child: whoever moves a task next does not wait
    from dockyard.cgroups.prime import prime

    pid = prime()
    if pid:
        os.waitpid(pid, 0)


@case("runtime run busybox true, cgroup lock cold", unit="ms cold")
def run_true_cold(tmp: Path) -> Iterator[Sequence[Contender]]:
    """As above, each run started 60 ms after anything else: a host starting a container
    now and then. A runtime that writes ``cgroup.procs`` waits out a grace period."""
    ids: dict[str, list[str]] = {name: [] for name in RUNTIMES}
    try:
        yield [Contender(n, _timed_after(_lock_cold, fn)) for n, fn in _contenders(tmp, ids)]
    finally:
        for name in RUNTIMES:
            _cleanup(name, tmp / f"state-{name}", ids[name])


@case("runtime run busybox true, cgroup lock warm", unit="ms warm")
def run_true_warm(tmp: Path) -> Iterator[Sequence[Contender]]:
    """As above, each run started right after a no-op cgroup move (untimed): a host busy
    starting containers. Nobody waits for the lock; what is left is each runtime's own
    work."""
    ids: dict[str, list[str]] = {name: [] for name in RUNTIMES}
    try:
        yield [Contender(n, _timed_after(_lock_warm, fn)) for n, fn in _contenders(tmp, ids)]
    finally:
        for name in RUNTIMES:
            _cleanup(name, tmp / f"state-{name}", ids[name])
