"""Cases for the OCI runtime: ``dockyard-runtime`` against runc, crun and a bare floor."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.harness import Contender, Failed, case, run_command
from dockyard.testing.bundle import make_bundle
from dockyard.testing.hostfix import move_cgroup2_controllers_to_v1
from dockyard.testing.names import unique
from dockyard.testing.rootfs import make_busybox_rootfs
from dockyard.testing.runtimes import binary_of

RUNTIMES = ("dockyard", "runc", "crun")


def _runtime(name: str, bundle: Path, state: Path, ids: list[str]) -> Contender:
    binary = binary_of(name)
    counter = itertools.count()
    prefix = unique("bench")

    def run() -> None:
        if not shutil.which(binary):
            raise Failed(f"{binary} not found")
        cid = f"{prefix}-{next(counter)}"
        ids.append(cid)
        run_command([binary, "--root", str(state), "run", "-b", str(bundle), cid])

    return Contender(name, run)


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


@case("runtime run busybox true")
def run_true(tmp: Path) -> Iterator[Sequence[Contender]]:
    """``<runtime> run`` of one busybox bundle (args ["true"]), each with its own --root."""
    if os.geteuid() == 0:
        move_cgroup2_controllers_to_v1()
    rootfs = make_busybox_rootfs(tmp / "rootfs")
    # one bundle for all: each run removes its container, and with it the cgroup
    bundle = make_bundle(tmp / "bundle", rootfs, args=["true"], cgroups_path=f"/{unique('bench')}")
    ids: dict[str, list[str]] = {name: [] for name in RUNTIMES}
    contenders = [_runtime(n, bundle.path, tmp / f"state-{n}", ids[n]) for n in RUNTIMES]
    floor = [
        "unshare", "--mount", "--uts", "--ipc", "--net", "--pid", "--fork",
        f"--root={rootfs}", "/bin/true",
    ]  # fmt: skip
    contenders.append(Contender("floor: unshare+chroot", lambda: run_command(floor)))
    try:
        yield contenders
    finally:
        for name in RUNTIMES:
            _cleanup(name, tmp / f"state-{name}", ids[name])
