"""Differential conformance of OCI runtimes: the same bundles under ours, runc and crun.

Every test takes the ``lab`` (or ``runtime``) fixture, parametrized over the three runtimes
with ids "dockyard", "runc", "crun". The busybox rootfs is built once per session and shared
read-only; each test gets its own work dir, bundles, state dir (``--root``) and ``dyt-`` ids,
and everything a test created is force-deleted afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.testing.hostfix import move_cgroup2_controllers_to_v1
from dockyard.testing.lab import Lab
from dockyard.testing.rootfs import make_busybox_rootfs
from dockyard.testing.runtimes import Runtime

MOUNT_POINTS = ("ro", "rw", "rbind")

RUNTIME_PARAMS = [
    pytest.param("dockyard", id="dockyard"),
    pytest.param("runc", id="runc", marks=pytest.mark.requires("runc")),
    pytest.param("crun", id="crun", marks=pytest.mark.requires("crun")),
]


@pytest.fixture(scope="session", autouse=True)
def _cgroup_hostfix() -> None:
    """crun refuses hybrid hosts whose cgroup2 mount still holds a controller."""
    if os.geteuid() == 0:
        move_cgroup2_controllers_to_v1()


@pytest.fixture(scope="session")
def base_dir() -> Iterator[Path]:
    # Not under pytest's tmp dir: that is mode 0700, and a container whose root is mapped
    # to another host uid (user namespace tests) must be able to reach its rootfs.
    path = Path(tempfile.mkdtemp(prefix="dockyard-conformance-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def rootfs(base_dir: Path) -> Path:
    path = make_busybox_rootfs(base_dir / "rootfs")
    # Mount points for the tests' extra mounts: the shared rootfs is read-only to the
    # containers, so a runtime must not have to create them.
    for d in MOUNT_POINTS:
        (path / "mnt" / d).mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(params=RUNTIME_PARAMS)
def runtime(request: pytest.FixtureRequest, base_dir: Path) -> Iterator[Runtime]:
    work = Path(tempfile.mkdtemp(prefix="t-", dir=base_dir))
    rt = Runtime.named(request.param, work / "state")
    yield rt
    stuck = rt.cleanup()
    shutil.rmtree(work, ignore_errors=True)
    assert not stuck, f"{rt.name} could not delete {stuck}"


@pytest.fixture
def lab(runtime: Runtime, rootfs: Path) -> Iterator[Lab]:
    work = runtime.root.parent
    work.chmod(0o755)
    lab = Lab(runtime, rootfs, work)
    yield lab
    lab.close()
