"""The container lifecycle through the CLI: create, start, state, list, kill, delete, exec,
pause/resume, ps, --pid-file."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.lab import Lab

pytestmark = pytest.mark.requires("busybox")

LOOP = "trap 'echo got TERM; exit 7' TERM; while :; do sleep 0.05; done"


def _check_state(state: dict[str, Any], cid: str, status: str, bundle: Path) -> None:
    """What the runtime spec requires of ``state``; other fields may differ by runtime."""
    # runc 1.1.5 says "1.0.2-dev", crun 1.8.1 "1.0.0": any 1.x spec version
    assert re.fullmatch(r"1\.\d+\.\d+(-.*)?", state["ociVersion"]), state
    assert state["id"] == cid
    assert state["status"] == status
    assert state["bundle"] == str(bundle)
    if status in ("created", "running"):
        assert isinstance(state["pid"], int)
        assert state["pid"] > 0


def test_state_through_the_lifecycle(lab: Lab) -> None:
    cid, b = lab.bundle(args=("sleep", "0.3"))
    assert lab.runtime.create(cid, b.path).returncode == 0
    created = lab.runtime.state_json(cid)
    _check_state(created, cid, "created", b.path)
    # the init waits for start: the process exists but is not the user process yet
    assert os.path.exists(f"/proc/{created['pid']}")
    assert lab.runtime.start(cid).returncode == 0
    running = lab.runtime.state_json(cid)
    _check_state(running, cid, "running", b.path)
    assert running["pid"] == created["pid"]
    _check_state(lab.runtime.wait_status(cid, "stopped"), cid, "stopped", b.path)
    assert lab.runtime.delete(cid).returncode == 0
    assert lab.runtime.state(cid).returncode != 0


def test_state_of_unknown_container_fails(lab: Lab) -> None:
    assert lab.runtime.state("dyt-nonexistent").returncode != 0


def test_list_shows_the_container(lab: Lab) -> None:
    cid = lab.running()
    res = lab.runtime.list("json")
    assert res.returncode == 0
    entries = {e["id"]: e for e in json.loads(res.stdout)}
    assert set(entries) == {cid}
    assert entries[cid]["status"] == "running"
    assert entries[cid]["pid"] == lab.runtime.state_json(cid)["pid"]
    quiet = lab.runtime.call("list", "-q")
    assert quiet.stdout.split() == [cid]


def test_kill_then_delete(lab: Lab) -> None:
    cid = lab.running()
    assert lab.runtime.kill(cid, "KILL").returncode == 0
    assert lab.runtime.wait_status(cid, "stopped")["status"] == "stopped"
    assert lab.runtime.delete(cid).returncode == 0
    assert lab.runtime.state(cid).returncode != 0
    assert json.loads(lab.runtime.list("json").stdout or "[]") in ([], None)


def test_delete_running_without_force_fails(lab: Lab) -> None:
    cid = lab.running()
    assert lab.runtime.delete(cid).returncode != 0
    assert lab.runtime.state_json(cid)["status"] == "running"


def test_delete_force_removes_a_running_container(lab: Lab) -> None:
    cid = lab.running()
    pid = lab.runtime.state_json(cid)["pid"]
    assert lab.runtime.delete(cid, force=True).returncode == 0
    assert lab.runtime.state(cid).returncode != 0
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.02)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_delete_force_removes_a_created_container(lab: Lab) -> None:
    cid = lab.created("true")
    assert lab.runtime.delete(cid, force=True).returncode == 0
    assert lab.runtime.state(cid).returncode != 0


def test_signal_delivery_to_a_started_container(lab: Lab) -> None:
    cid = lab.created(LOOP)
    assert lab.runtime.start(cid).returncode == 0
    time.sleep(0.1)  # let sh install its trap
    assert lab.runtime.kill(cid, "TERM").returncode == 0
    assert lab.runtime.wait_status(cid, "stopped")["status"] == "stopped"
    assert (lab.runtime.root / f"{cid}.out").read_text() == "got TERM\n"


def test_kill_of_a_stopped_container_fails(lab: Lab) -> None:
    cid = lab.running("true")
    lab.runtime.wait_status(cid, "stopped")
    assert lab.runtime.kill(cid, "KILL").returncode != 0


def test_run_detached(lab: Lab) -> None:
    cid, b = lab.bundle(args=("sleep", "30"))
    res = lab.runtime.run(cid, b.path, detach=True, stdio=lab.work / "out")
    assert res.returncode == 0
    _check_state(lab.runtime.state_json(cid), cid, "running", b.path)


def test_exec_joins_the_container(lab: Lab) -> None:
    cid = lab.running()
    res = lab.runtime.exec(cid, ["sh", "-c", "echo $$; tr '\\0' ' ' < /proc/1/cmdline; exit 3"])
    assert res.returncode == 3
    pid, cmdline = res.stdout.splitlines()
    # same pid namespace: pid 1 is the container's init, the exec'd shell is another pid
    assert int(pid) > 1
    assert cmdline == "sleep 30 "
    assert lab.runtime.state_json(cid)["status"] == "running"


def test_exec_inline_env_and_cwd(lab: Lab) -> None:
    cid = lab.running()
    res = lab.runtime.exec(cid, ["/bin/env"], env=["FOO=bar"], cwd="/var/tmp")
    assert res.returncode == 0, res.stderr
    env = dict(line.split("=", 1) for line in res.stdout.splitlines())
    assert env["FOO"] == "bar"
    # runc adds --env to the config's env; crun 1.8 replaces the env with it (PATH is gone).
    # Ours follows runc, whose CLI it copies.
    if lab.name != "crun":
        assert env["PATH"].startswith("/usr/local/sbin:")
    res = lab.runtime.exec(cid, ["/bin/pwd"], cwd="/var/tmp")
    assert res.stdout == "/var/tmp\n"


def test_exec_process_json(lab: Lab) -> None:
    cid = lab.running()
    process = {
        "terminal": False,
        "user": {"uid": 1, "gid": 1},
        "args": ["sh", "-c", "echo $FOO; pwd; id -u; id -g; exit 5"],
        "env": ["PATH=/bin", "FOO=from-json"],
        "cwd": "/var/tmp",
    }
    path = lab.work / "process.json"
    path.write_text(json.dumps(process))
    res = lab.runtime.exec(cid, process=path)
    assert res.returncode == 5
    assert res.stdout.split() == ["from-json", "/var/tmp", "1", "1"]


def test_exec_into_a_stopped_container_fails(lab: Lab) -> None:
    cid = lab.running("true")
    lab.runtime.wait_status(cid, "stopped")
    assert lab.runtime.exec(cid, ["true"]).returncode != 0


def _counter(pid: int) -> int:
    return int(Path(f"/proc/{pid}/root/dev/shm/c").read_text() or 0)


def test_pause_and_resume(lab: Lab) -> None:
    cid = lab.running("i=0; while :; do i=$((i+1)); echo $i > /dev/shm/c; sleep 0.02; done")
    pid = lab.runtime.state_json(cid)["pid"]
    time.sleep(0.1)
    assert lab.runtime.pause(cid).returncode == 0
    assert lab.runtime.state_json(cid)["status"] == "paused"
    before = _counter(pid)
    time.sleep(0.25)
    assert _counter(pid) == before
    assert lab.runtime.resume(cid).returncode == 0
    assert lab.runtime.state_json(cid)["status"] == "running"
    time.sleep(0.25)
    assert _counter(pid) > before


def test_ps_lists_the_container_pids(lab: Lab) -> None:
    cid = lab.running("sleep 30 & sleep 30")
    pid = lab.runtime.state_json(cid)["pid"]
    time.sleep(0.1)
    res = lab.runtime.ps(cid, "json")
    assert res.returncode == 0, res.stderr
    pids = json.loads(res.stdout)
    assert pid in pids
    assert len(pids) == 2
    assert all(isinstance(p, int) for p in pids)


def test_pid_file(lab: Lab) -> None:
    cid, b = lab.bundle(args=("sleep", "30"))
    pid_file = lab.work / "pid"
    assert lab.runtime.create(cid, b.path, pid_file=pid_file).returncode == 0
    assert pid_file.read_text().strip() == str(lab.runtime.state_json(cid)["pid"])
