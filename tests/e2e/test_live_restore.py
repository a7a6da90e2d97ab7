"""Live restore: containers outlive a crashed dockyardd, and the next one takes them back.

Each test SIGKILLs its private daemon (``Daemon.kill9``) and starts it again on the same
data root, exec root and socket (``Daemon.restart``); the real docker CLI then checks what
a user sees. The last test also kills a container's shim, so the daemon has to clean up
after a run nobody watched (reconcile.py).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.cgroups import manager_for
from dockyard.testing.daemon import DOCKER, Daemon
from dockyard.testing.names import unique

pytestmark = pytest.mark.requires("root")

TICKER = "i=0; while :; do echo line $i; i=$((i+1)); sleep 0.2; done"
ECHOER = 'while read x; do echo "got $x"; [ "$x" = bye ] && exit 5; done'


def run(daemon: Daemon, names: list[str], *args: str) -> str:
    name = unique()
    names.append(name)
    daemon.docker("run", "-d", "--name", name, *args)
    return name


def inspect(daemon: Daemon, name: str, template: str) -> str:
    return daemon.docker("inspect", "-f", template, name).stdout.strip()


def until(check: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)


def shim_pid(container_id: str) -> int | None:
    """The shim of a container: the process listening on ``<id[:16]>.sock`` (a shim that
    started as a spare has no ``--id`` on its command line)."""
    suffix = f"/shims/{container_id[:16]}.sock"
    inodes = set()
    with open("/proc/net/unix") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if len(fields) >= 8 and fields[7].endswith(suffix):
                inodes.add(f"socket:[{fields[6]}]")
    if not inodes:
        return None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
            for fd in fds:
                if os.readlink(f"/proc/{entry}/fd/{fd}") in inodes:
                    return int(entry)
        except OSError:
            continue
    return None


def alive(pid: int) -> bool:
    """A live process (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def read_line(stream: subprocess.Popen[bytes], timeout: float = 10.0) -> bytes:
    assert stream.stdout is not None
    fd = stream.stdout.fileno()
    line = b""
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no line from docker attach in {timeout}s (got {line!r})")
        chunk = os.read(fd, 1)
        if not chunk:
            break
        line += chunk
    return line


def attach(daemon: Daemon, name: str) -> subprocess.Popen[bytes]:
    conf = daemon.dir / "docker-config"
    conf.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_CONFIG=str(conf), DOCKER_CLI_HINTS="false")
    return subprocess.Popen(
        [DOCKER, "-H", daemon.url, "attach", name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def test_containers_survive_a_daemon_crash(daemon: Daemon, names: list[str]) -> None:
    ticker = run(daemon, names, "busybox", "sh", "-c", TICKER)
    quitter = run(daemon, names, "busybox", "sh", "-c", "sleep 1; exit 3")
    echoer = run(daemon, names, "-i", "busybox", "sh", "-c", ECHOER)
    pids = {n: inspect(daemon, n, "{{.State.Pid}}") for n in (ticker, echoer)}
    quitter_id = inspect(daemon, quitter, "{{.Id}}")
    until(lambda: "line 3" in daemon.docker("logs", ticker).stdout, what="ticker output")

    daemon.kill9()
    # the quitter finishes while no daemon watches it: its shim records the exit and goes
    until(lambda: shim_pid(quitter_id) is None, what="the quitter's shim to finish")
    before = daemon.docker("logs", ticker, check=False)
    assert before.returncode != 0  # nobody answers on the socket
    time.sleep(0.5)
    daemon.restart()

    ps = daemon.docker("ps", "--format", "{{.Names}} {{.Status}}").stdout
    assert {line.split()[0] for line in ps.splitlines()} == {ticker, echoer}
    for n, pid in pids.items():
        assert inspect(daemon, n, "{{.State.Status}} {{.State.Pid}}") == f"running {pid}"
    assert daemon.docker("wait", quitter).stdout.strip() == "3"
    assert inspect(daemon, quitter, "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}") == (
        "exited 3"
    )

    # the log goes on without a gap across the crash
    until(lambda: "line 12" in daemon.docker("logs", ticker).stdout, what="more output")
    lines = daemon.docker("logs", ticker).stdout.splitlines()
    assert lines[:13] == [f"line {i}" for i in range(13)]

    # attach and wait work on a container started by the previous daemon
    session = attach(daemon, echoer)
    try:
        time.sleep(0.5)  # the attach is set up before the input is sent
        assert session.stdin is not None
        session.stdin.write(b"hello\n")
        session.stdin.flush()
        assert read_line(session) == b"got hello\n"
        waiter = subprocess.Popen(
            [DOCKER, "-H", daemon.url, "wait", echoer],
            stdout=subprocess.PIPE,
            env={**os.environ, "DOCKER_CONFIG": str(daemon.dir / "docker-config")},
        )
        time.sleep(0.5)
        session.stdin.write(b"bye\n")
        session.stdin.flush()
        assert read_line(session) == b"got bye\n"
        out, _ = waiter.communicate(timeout=15)
        assert out.strip() == b"5"
        session.wait(15)
    finally:
        session.kill()
        session.wait()
    assert inspect(daemon, echoer, "{{.State.Status}} {{.State.ExitCode}}") == "exited 5"

    daemon.docker("stop", "-t", "1", ticker)
    assert inspect(daemon, ticker, "{{.State.Status}} {{.State.ExitCode}}") == "exited 137"
    assert not alive(int(pids[ticker]))


def test_a_second_crash_and_a_clean_stop(daemon: Daemon, names: list[str]) -> None:
    """Two crashes in a row, then a clean stop and start: still the same process."""
    ticker = run(daemon, names, "busybox", "sh", "-c", TICKER)
    pid = inspect(daemon, ticker, "{{.State.Pid}}")
    for _ in range(2):
        daemon.kill9()
        daemon.restart()
        assert inspect(daemon, ticker, "{{.State.Status}} {{.State.Pid}}") == f"running {pid}"
    daemon.stop()  # SIGTERM: the daemon stops, its containers do not
    assert alive(int(pid))
    daemon.restart()
    assert inspect(daemon, ticker, "{{.State.Status}} {{.State.Pid}}") == f"running {pid}"
    daemon.docker("kill", ticker)
    assert daemon.docker("wait", ticker).stdout.strip() == "137"


def test_reconcile_after_daemon_and_shim_die(daemon: Daemon, names: list[str]) -> None:
    name = run(daemon, names, "busybox", "sleep", "1000")
    cid = inspect(daemon, name, "{{.Id}}")
    pid = int(inspect(daemon, name, "{{.State.Pid}}"))
    shim = shim_pid(cid)
    assert shim is not None and alive(pid)
    rootfs = str(daemon.exec_root / "containers" / cid / "rootfs")
    cgroup = manager_for(f"{daemon.cgroup_parent}/{cid}")
    assert rootfs in mount_points() and cgroup.exists()

    daemon.kill9()
    os.kill(shim, signal.SIGKILL)
    until(lambda: not alive(shim), what="the shim to die")
    assert alive(pid)  # the container's process outlives its shim
    daemon.restart()

    state = inspect(daemon, name, "{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}")
    assert state == "exited 255 0"
    assert "shim" in inspect(daemon, name, "{{.State.Error}}")
    until(lambda: not alive(pid), what="the orphaned container process to be killed")
    assert rootfs not in mount_points()
    assert not cgroup.exists()
    assert not (daemon.exec_root / "runtime" / cid).exists()

    # the container is usable again
    daemon.docker("start", name)
    assert inspect(daemon, name, "{{.State.Status}}") == "running"
    daemon.docker("rm", "-f", name)
    assert not cgroup.exists() and rootfs not in mount_points()


def mount_points() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        return {line.split(" ")[4] for line in f}
