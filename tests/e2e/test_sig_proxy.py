"""``run --sig-proxy`` (the default for an attached run without a TTY): the signals the
client receives reach the container's process; with ``--sig-proxy=false`` they do not.
Both the real docker CLI and ours, against a private dockyardd."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from dockyard.testing.daemon import DOCKER, Daemon
from dockyard.testing.names import unique
from tests.e2e.test_live_restore import read_line

pytestmark = pytest.mark.requires("root")

BUSYBOX = "busybox:latest"
CLIENTS = ["docker", "dockyard"]
SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGUSR1]


def trapping(sig: signal.Signals) -> str:
    """A shell (pid 1 of the container) that reports ``sig`` and exits 3 on it."""
    short = sig.name.removeprefix("SIG")
    return f'trap "echo got {short}; exit 3" {short}; echo ready; sleep 300 & wait'


def start_run(daemon: Daemon, client: str, *args: str) -> subprocess.Popen[bytes]:
    """``<client> run ARGS`` attached, without a TTY (stdin is not a terminal)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_"))}
    if client == "docker":
        conf = daemon.dir / "docker-config"
        conf.mkdir(exist_ok=True)
        env.update(DOCKER_CONFIG=str(conf), DOCKER_CLI_HINTS="false")
        argv = [DOCKER, "-H", daemon.url, "run", *args]
    else:
        argv = [sys.executable, "-m", "dockyard.cli.main", "-H", daemon.url, "run", *args]
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def finish(proc: subprocess.Popen[bytes], timeout: float = 20) -> tuple[int, bytes]:
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_signals_reach_the_container(
    daemon: Daemon, names: list[str], client: str, sig: signal.Signals
) -> None:
    n = unique()
    names.append(n)
    proc = start_run(daemon, client, "--name", n, "--network", "none", BUSYBOX, "sh", "-c",
                     trapping(sig))  # fmt: skip
    try:
        # "ready" comes through the attach, which the client sets up with its handlers
        assert read_line(proc, timeout=30) == b"ready\n"
        proc.send_signal(sig)
        code, rest = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rest == f"got {sig.name.removeprefix('SIG')}\n".encode()
    assert code == 3  # the container's exit status, not the signal's
    status = "{{.State.Status}} {{.State.ExitCode}}"
    assert daemon.docker("inspect", "-f", status, n).stdout.strip() == "exited 3"


@pytest.mark.parametrize("client", CLIENTS)
def test_sig_proxy_false_keeps_signals_to_the_client(
    daemon: Daemon, names: list[str], client: str
) -> None:
    n = unique()
    names.append(n)
    proc = start_run(daemon, client, "--sig-proxy=false", "--name", n, "--network", "none",
                     BUSYBOX, "sh", "-c", trapping(signal.SIGTERM))  # fmt: skip
    try:
        assert read_line(proc, timeout=30) == b"ready\n"
        # the client keeps it (ours dies of it; docker 28 cancels its context and waits)
        proc.send_signal(signal.SIGTERM)
        time.sleep(1)  # a forwarded signal would have ended the container by now
        status = "{{.State.Status}}"
        assert daemon.docker("inspect", "-f", status, n).stdout.strip() == "running"
        assert daemon.docker("logs", n).stdout == "ready\n"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode != 3
