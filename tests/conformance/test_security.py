"""Guards against the known runtime escape classes: leaked host fds (CVE-2024-21626),
overwriting the runtime through /proc/<pid>/exe (CVE-2019-5736)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.testing.lab import Lab
from dockyard.testing.runtimes import Runtime

pytestmark = pytest.mark.requires("busybox")


def _fds(listing: str) -> set[str]:
    return set(listing.split())


def test_no_host_fd_reaches_the_container(lab: Lab) -> None:
    # 0-2 are stdio, 3 is the directory ls itself opened
    assert _fds(lab.out("ls /proc/self/fd")) == {"0", "1", "2", "3"}


def test_no_host_fd_reaches_an_exec_process(lab: Lab) -> None:
    cid = lab.running()
    res = lab.runtime.exec(cid, ["ls", "/proc/self/fd"])
    assert res.returncode == 0, res.stderr
    assert _fds(res.stdout) == {"0", "1", "2", "3"}


@pytest.mark.parametrize("fd", [3, 4, 5, 6, 7, 8])
def test_cwd_through_a_leaked_fd_never_reaches_the_host(lab: Lab, fd: int) -> None:
    marker = lab.work / "dyt-host-marker"
    marker.write_text("host")
    res = lab.sh("ls -a .", cwd=f"/proc/self/fd/{fd}")
    assert "dyt-host-marker" not in res.stdout
    if lab.name == "dockyard":
        assert res.returncode != 0  # refused outright, with one line saying why
        assert len(res.stderr.strip().splitlines()) == 1


@pytest.fixture
def ours(rootfs: Path, base_dir: Path) -> Iterator[Lab]:
    work = Path(tempfile.mkdtemp(prefix="t-", dir=base_dir))
    work.chmod(0o755)
    lab = Lab(Runtime.named("dockyard", work / "state"), rootfs, work)
    yield lab
    stuck = lab.runtime.cleanup()
    shutil.rmtree(work, ignore_errors=True)
    assert not stuck


def test_exec_into_a_created_container_is_refused(ours: Lab) -> None:
    # the init is still the runtime's interpreter until start: nothing may join it
    cid = ours.created("true")
    res = ours.runtime.exec(cid, ["true"])
    assert res.returncode != 0
    assert "not running" in res.stderr


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def test_exec_joins_through_a_read_only_interpreter(ours: Lab) -> None:
    """The process that joins the container runs an interpreter mapped from a read-only
    mount, so reopening its /proc/<pid>/exe for writing can only ever fail (EROFS), even
    after every interpreter on the host has exited (when ETXTBSY no longer protects it)."""
    cid = ours.running()
    exec_cmd = subprocess.Popen(
        ours.runtime.argv("exec", cid, "sleep", "2"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        launcher = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not launcher:
            for child in _children(exec_cmd.pid):
                if _children(child):  # the launcher, once it has forked the process
                    launcher = child
            time.sleep(0.01)
        assert launcher, "the exec launcher never appeared"
        # what a process in the container gets by opening /proc/<pid>/exe: the file on
        # the mount it was executed from; a read-only mount refuses any reopen for writing
        fd = os.open(f"/proc/{launcher}/exe", os.O_PATH)
        try:
            assert os.fstatvfs(fd).f_flag & os.ST_RDONLY
        finally:
            os.close(fd)
        # the same interpreter reached through the host's own mount is writable by root
        assert not os.statvfs(os.path.realpath(sys.executable)).f_flag & os.ST_RDONLY
    finally:
        exec_cmd.kill()
        exec_cmd.wait()
