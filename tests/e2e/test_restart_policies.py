"""Restart policies (``docker run --restart``) as the real docker CLI sees them: restarts
with back-off, ``RestartCount``, explicit stops, and what a daemon restart starts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import docker  # docker-py, a dev dependency
import docker.errors
import pytest

from dockyard.testing.daemon import Daemon
from dockyard.testing.names import unique

from .test_live_restore import shim_pid

pytestmark = pytest.mark.requires("root")


def run(daemon: Daemon, names: list[str], *args: str) -> str:
    name = unique()
    names.append(name)
    daemon.docker("run", "-d", "--name", name, *args)
    return name


def state(daemon: Daemon, name: str) -> dict[str, Any]:
    res = daemon.docker(
        "inspect",
        "-f",
        "{{.State.Status}}|{{.State.Running}}|{{.State.Restarting}}|{{.RestartCount}}"
        "|{{.State.ExitCode}}|{{.State.Pid}}",
        name,
    )
    status, running, restarting, count, code, pid = res.stdout.strip().split("|")
    return {
        "status": status,
        "running": running == "true",
        "restarting": restarting == "true",
        "count": int(count),
        "code": int(code),
        "pid": int(pid),
    }


def until(check: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)


def ps_status(daemon: Daemon, name: str, *flags: str) -> str:
    """The STATUS column of ``docker ps`` for ``name`` ("" when not listed)."""
    out = daemon.docker("ps", *flags, "--format", "{{.Names}}|{{.Status}}").stdout
    found = [line.partition("|")[2] for line in out.splitlines() if line.startswith(name + "|")]
    return found[0] if found else ""


def test_always_restarts_with_back_off_and_a_stop_ends_it(daemon: Daemon, names: list[str]) -> None:
    since = f"{time.time() - 1:.0f}"
    name = run(daemon, names, "--restart", "always", "busybox", "sh", "-c", "echo up; exit 2")
    # the back-off grows (0.1 s, 0.2 s, 0.4 s, ...): it is soon caught waiting
    until(lambda: state(daemon, name)["count"] >= 4, what="four restarts")
    until(lambda: state(daemon, name)["restarting"], what="the restarting state")
    s = state(daemon, name)
    assert s["running"] and s["status"] == "restarting" and s["code"] == 2 and s["pid"] == 0
    until(lambda: ps_status(daemon, name).startswith("Restarting (2)"), what="ps status")
    assert daemon.docker("logs", name).stdout.count("up\n") >= 4
    events = daemon.docker(
        "events", "--since", since, "--until", f"{time.time():.3f}", "--filter",
        f"container={name}", "--filter", "event=restart", "--format", "{{.Action}}",
    ).stdout.split()  # fmt: skip
    assert len(events) >= s["count"] - 1 and set(events) == {"restart"}  # counted when due

    daemon.docker("stop", name)  # cancels the pending restart, or stops the run
    stopped = state(daemon, name)
    assert stopped["status"] == "exited" and not stopped["running"]
    time.sleep(1.5)
    assert state(daemon, name) == stopped  # no restart after an explicit stop
    assert ps_status(daemon, name) == ""

    daemon.docker("start", name)  # a start through the API counts from zero again
    until(lambda: state(daemon, name)["count"] >= 1, what="a restart after start")
    assert state(daemon, name)["count"] < stopped["count"]


def test_always_restarts_after_a_clean_exit_too(daemon: Daemon, names: list[str]) -> None:
    name = run(daemon, names, "--restart", "always", "busybox", "sh", "-c", "sleep 1")
    first = state(daemon, name)["pid"]
    assert first > 0
    until(lambda: state(daemon, name)["pid"] not in (0, first), what="a new process")
    s = state(daemon, name)
    assert (s["status"], s["count"], s["code"]) == ("running", 1, 0)


def test_on_failure_stops_after_its_retries(daemon: Daemon, names: list[str]) -> None:
    failing = run(
        daemon, names, "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 1"
    )
    fine = run(daemon, names, "--restart", "on-failure", "busybox", "true")
    until(
        lambda: state(daemon, failing)["status"] == "exited" and state(daemon, failing)["count"],
        what="the retries to end",
    )
    time.sleep(1.0)  # a third retry would come after 0.4 s
    s = state(daemon, failing)
    assert (s["status"], s["count"], s["code"]) == ("exited", 2, 1)
    assert daemon.docker("logs", failing).stdout == "run\n" * 3
    assert daemon.docker("wait", fine).stdout.strip() == "0"
    assert state(daemon, fine)["count"] == 0 and state(daemon, fine)["status"] == "exited"


def test_stop_and_remove_cancel_a_pending_restart(daemon: Daemon, names: list[str]) -> None:
    a = run(daemon, names, "--restart", "always", "busybox", "sh", "-c", "exit 1")
    b = run(daemon, names, "--restart", "unless-stopped", "busybox", "sh", "-c", "exit 1")
    k = run(daemon, names, "--restart", "on-failure", "busybox", "sh", "-c", "exit 1")
    for n in (a, b, k):  # five restarts: the next one waits 1.6 s
        until(lambda n=n: state(daemon, n)["count"] >= 5, what="five restarts")
        until(lambda n=n: state(daemon, n)["restarting"], what="the restarting state")
    res = daemon.docker("rm", b, check=False)
    assert res.returncode != 0 and "restarting" in res.stderr
    count = state(daemon, a)["count"]
    daemon.docker("stop", a)
    s = state(daemon, a)
    assert (s["status"], s["running"], s["restarting"]) == ("exited", False, False)
    daemon.docker("rm", "-f", b)
    assert ps_status(daemon, b, "-a") == ""
    killed = state(daemon, k)["count"]
    daemon.docker("kill", k)
    time.sleep(2.0)
    assert state(daemon, a)["status"] == "exited" and state(daemon, a)["count"] == count
    assert state(daemon, k)["status"] == "exited" and state(daemon, k)["count"] == killed


def test_a_daemon_stop_during_the_back_off(daemon: Daemon, names: list[str]) -> None:
    """The pending restart is not lost: the next daemon carries it out."""
    name = run(daemon, names, "--restart", "always", "busybox", "sh", "-c", "exit 1")
    until(lambda: state(daemon, name)["count"] >= 5, what="five restarts")
    until(lambda: state(daemon, name)["restarting"], what="the back-off (1.6 s)")
    daemon.stop()  # the record says restarting, and no timer survives the daemon
    daemon.restart()
    count = state(daemon, name)["count"]
    until(lambda: state(daemon, name)["count"] > count, what="a restart by the new daemon")


def test_daemon_restart_applies_the_policies(daemon: Daemon, names: list[str]) -> None:
    always = run(daemon, names, "--restart", "always", "busybox", "sleep", "1000")
    stopped = run(daemon, names, "--restart", "unless-stopped", "busybox", "sleep", "1000")
    kept = run(daemon, names, "--restart", "unless-stopped", "busybox", "sleep", "1000")
    failing = run(
        daemon, names, "--restart", "on-failure:3", "busybox", "sh", "-c", "sleep 1; exit 3"
    )
    plain = run(daemon, names, "busybox", "sh", "-c", "sleep 1; exit 3")
    daemon.docker("stop", "-t", "0", always, stopped)
    kept_pid = state(daemon, kept)["pid"]
    ids = {n: daemon.docker("inspect", "-f", "{{.Id}}", n).stdout.strip() for n in names}

    daemon.kill9()
    until(lambda: shim_pid(ids[failing]) is None and shim_pid(ids[plain]) is None, what="exits")
    daemon.restart()

    # always: started again although stopped by the user (dockerd's rule)
    until(lambda: state(daemon, always)["status"] == "running", what="always to run")
    # unless-stopped: stopped by the user stays stopped; the running one was never stopped
    assert state(daemon, stopped)["status"] == "exited"
    assert state(daemon, kept)["pid"] == kept_pid
    # on-failure: exited non-zero while the daemon was down, so it runs again
    until(lambda: state(daemon, failing)["status"] == "running", what="on-failure to run")
    assert state(daemon, failing)["count"] >= 1
    s = state(daemon, plain)
    assert (s["status"], s["code"], s["count"]) == ("exited", 3, 0)

    # a second daemon restart after a clean stop: the manual stop is remembered
    daemon.stop()
    daemon.restart()
    assert state(daemon, stopped)["status"] == "exited"
    assert state(daemon, kept)["pid"] == kept_pid


def test_invalid_policies_are_refused(daemon: Daemon, names: list[str]) -> None:
    res = daemon.docker("run", "-d", "--restart", "sometimes", "busybox", "true", check=False)
    assert res.returncode != 0 and "unknown policy 'sometimes'" in res.stderr
    res = daemon.docker("create", "--restart", "always:2", "busybox", "true", check=False)
    assert "maximum retry count can only be used with 'on-failure'" in res.stderr
    api = docker.APIClient(base_url=daemon.url, version="1.45", timeout=30)
    try:
        host_config = api.create_host_config(auto_remove=True, restart_policy={"Name": "always"})
        with pytest.raises(docker.errors.APIError) as e:
            api.create_container("busybox", ["true"], host_config=host_config)
        assert e.value.status_code == 400
        assert "Conflicting options: --restart and --rm" in str(e.value.explanation)
        assert api.containers(all=True) == []
    finally:
        api.close()
