"""``run --runtime NAME`` (``HostConfig.Runtime``) end to end: each container runs under
the OCI runtime it was created with, whatever the daemon's default, for every verb and
across daemon restarts. Which binary runs a container is checked with that binary's own
``state`` on the daemon's runtime root: runc and crun only know containers they created.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from typing import Any

import pytest

from dockyard.testing.daemon import Daemon, running
from dockyard.testing.names import unique
from tests.e2e.test_containers_api import raw
from tests.e2e.test_live_restore import alive, shim_pid, until

pytestmark = pytest.mark.requires("root")

BUSYBOX = "busybox:latest"


def runtime_state(daemon: Daemon, runtime: str, cid: str) -> dict[str, Any] | None:
    """``<runtime> state <id>`` on the daemon's root; None when that runtime does not
    know the container."""
    binary = shutil.which(runtime)
    assert binary is not None, f"{runtime} is not installed"
    res = subprocess.run(
        [binary, "--root", str(daemon.exec_root / "runtime"), "state", cid],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if res.returncode != 0:
        return None
    state: dict[str, Any] = json.loads(res.stdout)
    return state


def inspect(daemon: Daemon, name: str, template: str) -> str:
    return daemon.docker("inspect", "-f", template, name).stdout.strip()


def run_box(daemon: Daemon, names: list[str], *flags: str) -> tuple[str, str]:
    n = unique()
    names.append(n)
    daemon.docker("run", "-d", "--name", n, *flags, BUSYBOX, "sleep", "300")
    return n, inspect(daemon, n, "{{.Id}}")


@pytest.mark.parametrize("runtime", ["runc", "crun"])
def test_each_container_runs_under_its_runtime(
    daemon: Daemon, names: list[str], runtime: str
) -> None:
    box, cid = run_box(daemon, names, "--runtime", runtime)
    plain, plain_id = run_box(daemon, names)
    assert inspect(daemon, box, "{{.HostConfig.Runtime}}") == runtime
    assert inspect(daemon, plain, "{{.HostConfig.Runtime}}") == "dockyard"  # the default
    state = runtime_state(daemon, runtime, cid)
    assert state is not None and state["status"] == "running"
    assert str(state["pid"]) == inspect(daemon, box, "{{.State.Pid}}")
    assert runtime_state(daemon, runtime, plain_id) is None  # ours ran that one

    # every verb goes through the container's runtime
    assert daemon.docker("exec", box, "echo", "hi").stdout == "hi\n"
    assert daemon.docker("exec", box, "sh", "-c", "exit 4", check=False).returncode == 4
    assert "sleep 300" in daemon.docker("top", box).stdout
    daemon.docker("pause", box)
    paused = runtime_state(daemon, runtime, cid)
    assert paused is not None and paused["status"] == "paused"
    assert inspect(daemon, box, "{{.State.Status}}") == "paused"
    daemon.docker("unpause", box)
    resumed = runtime_state(daemon, runtime, cid)
    assert resumed is not None and resumed["status"] == "running"
    daemon.docker("kill", box)
    assert daemon.docker("wait", box).stdout.strip() == "137"
    until(lambda: runtime_state(daemon, runtime, cid) is None, what="the runtime's delete")

    # started again: the same runtime
    daemon.docker("start", box)
    again = runtime_state(daemon, runtime, cid)
    assert again is not None and again["status"] == "running"
    daemon.docker("rm", "-f", box)
    assert runtime_state(daemon, runtime, cid) is None
    assert not (daemon.exec_root / "runtime" / cid).exists()


def test_dockyard_cli_and_api_choose_a_runtime(daemon: Daemon, names: list[str]) -> None:
    n = unique()
    names.append(n)
    daemon.dockyard("run", "-d", "--name", n, "--runtime", "crun", BUSYBOX, "sleep", "300")
    cid = inspect(daemon, n, "{{.Id}}")
    assert inspect(daemon, n, "{{.HostConfig.Runtime}}") == "crun"
    assert runtime_state(daemon, "crun", cid) is not None
    assert daemon.dockyard("exec", n, "cat", "/proc/1/cmdline").stdout == "sleep\x00300\x00"

    # an unknown name: 400 with dockerd's message, for every client
    bad = daemon.docker("run", "--runtime", "dyt-nope", BUSYBOX, "true", check=False)
    assert bad.returncode == 125
    assert "unknown or invalid runtime name: dyt-nope" in bad.stderr
    mine = daemon.dockyard("create", "--runtime", "dyt-nope", BUSYBOX, check=False)
    assert mine.returncode != 0
    assert "unknown or invalid runtime name: dyt-nope" in mine.stderr
    body = {"Image": BUSYBOX, "HostConfig": {"Runtime": "dyt-nope"}}
    status, doc = raw(daemon, "POST", "/containers/create", json.dumps(body).encode())
    assert status == 400
    assert doc["message"] == "unknown or invalid runtime name: dyt-nope"
    assert daemon.docker("ps", "-aq").stdout.split() == [cid[:12]]  # nothing was created


def test_runtime_survives_daemon_restarts() -> None:
    """The default changes between daemon runs; each container keeps its runtime, for
    live restore and for the clean-up of a run whose shim died."""
    with running("--default-runtime", "runc") as daemon:
        keep, keep_id = run_box(daemon, [])
        lost, lost_id = run_box(daemon, [])
        try:
            assert inspect(daemon, keep, "{{.HostConfig.Runtime}}") == "runc"
            ours, ours_id = run_box(daemon, [], "--runtime", "dockyard")
            assert runtime_state(daemon, "runc", ours_id) is None
            daemon.docker("rm", "-f", ours)

            lost_pid = int(inspect(daemon, lost, "{{.State.Pid}}"))
            shim = shim_pid(lost_id)
            assert shim is not None
            daemon.kill9()
            os.kill(shim, signal.SIGKILL)  # its run is left to the next daemon
            until(lambda: not alive(shim), what="the shim to die")
            assert runtime_state(daemon, "runc", lost_id) is not None
            daemon.restart("--default-runtime", "crun")

            # live restore under runc while the default is crun
            assert inspect(daemon, keep, "{{.HostConfig.Runtime}} {{.State.Status}}") == (
                "runc running"
            )
            assert "sleep 300" in daemon.docker("top", keep).stdout
            daemon.docker("pause", keep)
            paused = runtime_state(daemon, "runc", keep_id)
            assert paused is not None and paused["status"] == "paused"
            daemon.docker("unpause", keep)
            assert daemon.docker("exec", keep, "echo", "ok").stdout == "ok\n"

            # the dead shim's run was deleted with runc: state and process gone
            assert inspect(daemon, lost, "{{.State.Status}}") == "exited"
            assert runtime_state(daemon, "runc", lost_id) is None
            until(lambda: not alive(lost_pid), what="the orphaned init to be killed")

            # a new container gets the new default
            fresh, fresh_id = run_box(daemon, [])
            assert inspect(daemon, fresh, "{{.HostConfig.Runtime}}") == "crun"
            assert runtime_state(daemon, "crun", fresh_id) is not None
            daemon.docker("rm", "-f", fresh)
            daemon.docker("stop", "-t", "1", keep)
            assert runtime_state(daemon, "runc", keep_id) is None
        finally:
            daemon.docker("rm", "-f", keep, lost, check=False, timeout=30)
