"""Joining a container cgroup without the global migration lock, on the real host.

A forked child joins the v1 hierarchies with ``join_self`` and forks a grandchild
into the cgroup2 directory with ``clone3(CLONE_INTO_CGROUP)``; both report the
``/proc/self/cgroup`` they see, through a pipe.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from dockyard.cgroups import manager_for
from dockyard.kernel.clone import fork_into_cgroup
from dockyard.testing.lab import Lab
from dockyard.testing.names import unique
from dockyard.testing.rootfs import make_busybox_rootfs
from dockyard.testing.runtimes import Runtime

if TYPE_CHECKING:
    from dockyard.cgroups import CgroupManager

pytestmark = pytest.mark.requires("cgroups")


@pytest.fixture
def cgroup() -> Iterator[tuple[CgroupManager, str]]:
    path = "/" + unique("join")
    manager = manager_for(path)
    try:
        manager.create()
        yield manager, path
    finally:
        if manager.exists():
            manager.kill_all(signal.SIGKILL)
        manager.destroy()


def _fork_and_report(work: Callable[[], str]) -> tuple[int, str]:
    """Run ``work`` in a forked child; its exit code and what it returned (or raised)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(r)
            text = work()
            os.write(w, text.encode())
        except BaseException as e:
            os.write(w, f"error {type(e).__name__}: {e}".encode())
            code = 1
        os._exit(code)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode()


def _own_cgroups() -> str:
    with open("/proc/self/cgroup") as f:
        return f.read()


def test_join_self_puts_the_process_in_every_v1_hierarchy(
    cgroup: tuple[CgroupManager, str],
) -> None:
    manager, path = cgroup

    def work() -> str:
        manager.join_self()
        return _own_cgroups()

    code, text = _fork_and_report(work)
    assert code == 0, text
    v1 = [line for line in text.splitlines() if not line.startswith("0::")]
    if not v1:
        pytest.skip("no cgroup v1 hierarchy on this host")
    assert all(line.endswith(":" + path) for line in v1), text


def test_fork_into_cgroup_starts_the_child_in_the_cgroup2_directory(
    cgroup: tuple[CgroupManager, str],
) -> None:
    manager, path = cgroup
    target = manager.clone_dir()
    if target is None:
        pytest.skip("no cgroup2 mount on this host")

    def work() -> str:
        manager.join_self()
        r, w = os.pipe()
        pid = fork_into_cgroup(target)
        if pid == 0:  # the grandchild: born in the cgroup
            os.write(w, _own_cgroups().encode())
            os._exit(7)
        os.close(w)
        text = os.read(r, 65536).decode()
        _, status = os.waitpid(pid, 0)
        return f"{os.waitstatus_to_exitcode(status)}\n{text}"

    code, text = _fork_and_report(work)
    assert code == 0, text
    exit_line, _, cgroups = text.partition("\n")
    assert exit_line == "7"  # waitpid sees it as an ordinary child
    lines = cgroups.splitlines()
    assert f"0::{path}" in lines
    assert all(line.endswith(":" + path) for line in lines), cgroups


def test_fork_into_a_missing_cgroup_is_an_oserror() -> None:
    with pytest.raises(FileNotFoundError):
        fork_into_cgroup("/sys/fs/cgroup/" + unique("missing"))


@pytest.fixture
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("join-lab")
    base.chmod(0o755)
    rootfs = make_busybox_rootfs(base / "rootfs")
    runtime = Runtime.named("dockyard", base / "state")
    lab = Lab(runtime, rootfs, base)
    try:
        yield lab
    finally:
        lab.close()
        assert not runtime.cleanup()


@pytest.mark.requires("busybox")
@pytest.mark.requires("cgroup-hybrid")
def test_the_container_is_born_in_its_cgroup_on_both_sides_of_a_hybrid_host(lab: Lab) -> None:
    # the v1 side joined by stage1, the cgroup2 side by CLONE_INTO_CGROUP: the same path
    lines = lab.out("cat /proc/self/cgroup").splitlines()
    paths = {line.split(":", 2)[2] for line in lines}
    assert len(paths) == 1, lines
    assert any(line.startswith("0::/dyt-") for line in lines), lines


@pytest.mark.requires("busybox")
def test_run_removes_the_cgroup_of_a_container_that_left_a_process_behind(lab: Lab) -> None:
    # without a pid namespace the init's exit leaves its background child running: the
    # one-pass removal finds the cgroup busy, and delete kills and removes as before
    cid, bundle = lab.bundle(
        args=["sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"],
        namespaces=["mount", "ipc", "uts", "network"],
    )
    res = lab.runtime.run(cid, bundle.path)
    assert res.returncode == 0, res
    pid = int(res.stdout.split()[0])
    assert not os.path.exists(f"/proc/{pid}") or _is_zombie(pid)
    leftovers = [d for d in os.listdir("/sys/fs/cgroup/memory") if d.startswith("dyt-")]
    assert cid not in leftovers


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except FileNotFoundError:
        return True
