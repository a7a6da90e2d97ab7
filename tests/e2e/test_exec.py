"""``exec`` end to end: the real docker CLI (also through a pty), docker-py, the raw API
and the dockyard CLI against a private dockyardd, under ours, runc and crun."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker  # docker-py, a dev dependency
import docker.errors
import pytest

from dockyard.testing.daemon import DOCKER, Daemon, running
from dockyard.testing.names import unique
from tests.e2e.test_containers_api import raw as raw_request

pytestmark = pytest.mark.requires("root")

BUSYBOX = "busybox:latest"
NOT_FOUND = (
    'OCI runtime exec failed: exec failed: unable to start container process: exec: "dyt-nope": '
    "executable file not found in $PATH: unknown"
)


@pytest.fixture
def box(daemon: Daemon) -> Iterator[str]:
    """A running busybox container (``sleep``), removed (forced) at the end."""
    n = unique()
    daemon.docker("run", "-d", "--name", n, BUSYBOX, "sleep", "300")
    try:
        yield n
    finally:
        daemon.docker("rm", "-f", n, check=False, timeout=30)


def raw(daemon: Daemon, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    return raw_request(daemon, method, path, b"" if body is None else json.dumps(body).encode())


def shim_files(daemon: Daemon) -> list[str]:
    shims = (daemon.exec_root / "shims").iterdir()
    return sorted(p.name for p in shims if not p.name.startswith("spare-"))  # the ready one


# -- docker CLI -----------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", ["dockyard-runtime", "runc", "crun"])
def test_docker_exec_output_and_exit_codes(runtime: str) -> None:
    extra: list[str] = []
    if runtime != "dockyard-runtime":
        extra = ["--add-runtime", f"{runtime}={shutil.which(runtime)}"]
        extra += ["--default-runtime", runtime]
    with running(*extra) as daemon:
        n = unique()
        daemon.docker("run", "-d", "--name", n, BUSYBOX, "sleep", "300")
        try:
            before = shim_files(daemon)
            res = daemon.docker("exec", n, "echo", "hi")
            assert (res.returncode, res.stdout) == (0, "hi\n")
            assert daemon.docker("exec", n, "sh", "-c", "exit 3", check=False).returncode == 3
            missing = daemon.docker("exec", n, "dyt-nope", check=False)
            assert missing.returncode == 127
            assert missing.stdout.strip() == NOT_FOUND
            assert daemon.docker("exec", n, "/etc/passwd", check=False).returncode == 126
            err = daemon.docker("exec", n, "sh", "-c", "echo oops >&2; exit 1", check=False)
            assert (err.returncode, err.stdout, err.stderr) == (1, "", "oops\n")
            # nothing of the execs is left: no console sockets, no process or pid files
            assert shim_files(daemon) == before
            bundle = daemon.exec_root / "containers"
            assert not list(bundle.glob("*/exec-*"))
        finally:
            daemon.docker("rm", "-f", n, check=False, timeout=30)
        assert shim_files(daemon) == []


def test_docker_exec_user_workdir_env(daemon: Daemon, box: str) -> None:
    res = daemon.docker(
        "exec", "-u", "nobody", "-w", "/tmp", "-e", "DYT_FOO=bar baz", box,
        "sh", "-c", "id; pwd; env",
    )  # fmt: skip
    lines = res.stdout.splitlines()
    assert lines[0].startswith("uid=65534(nobody) gid=65534(nogroup)")
    assert lines[1] == "/tmp"
    assert "DYT_FOO=bar baz" in lines[2:]
    assert not any(line.startswith("TERM=") for line in lines)  # no TTY, no TERM
    assert daemon.docker("exec", "-u", "12:34", box, "id", "-u").stdout == "12\n"
    unknown = daemon.docker("exec", "-u", "dyt-nobody", box, "true", check=False)
    assert unknown.returncode == 126
    assert "unable to find user dyt-nobody: no matching entries in passwd file" in unknown.stdout
    # the container's own user and dir are untouched
    assert daemon.docker("exec", box, "sh", "-c", "id -u; pwd").stdout == "0\n/\n"


def test_docker_exec_capabilities(daemon: Daemon, box: str) -> None:
    def effective(*flags: str) -> int:
        out = daemon.docker("exec", *flags, box, "grep", "CapEff", "/proc/self/status").stdout
        return int(out.split()[1], 16)

    default = effective()
    assert default and effective("-u", "nobody") == 0
    privileged = effective("--privileged")
    assert privileged & default == default and privileged > default


def test_docker_exec_stdin(daemon: Daemon, box: str) -> None:
    res = daemon.docker("exec", "-i", box, "sh", "-c", "cat; echo done", input=b"fed in\n")
    assert res.stdout == "fed in\ndone\n"
    # without -i the exec's stdin is empty, whatever the client has
    assert daemon.docker("exec", box, "cat", input=b"ignored\n").stdout == ""


def test_docker_exec_detached_shows_in_top(daemon: Daemon, box: str) -> None:
    res = daemon.docker("exec", "-d", box, "sleep", "271")
    assert (res.returncode, res.stdout) == (0, "")
    deadline = time.monotonic() + 10
    while "sleep 271" not in (top := daemon.docker("top", box).stdout):
        assert time.monotonic() < deadline, top
        time.sleep(0.1)
    doc = json.loads(daemon.docker("inspect", box).stdout)[0]
    assert doc["State"]["Running"] is True
    # the container's pid 1 ignores a TERM it has no handler for: only the exec's sleep ends
    daemon.docker("exec", box, "killall", "sleep")
    deadline = time.monotonic() + 10
    while "sleep 271" in daemon.docker("top", box).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_docker_exec_into_a_stopped_or_paused_container(daemon: Daemon) -> None:
    n = unique()
    cid = daemon.docker("create", "--name", n, BUSYBOX, "sleep", "300").stdout.strip()
    try:
        res = daemon.docker("exec", n, "true", check=False)
        assert res.returncode == 1
        assert f"Error response from daemon: container {cid} is not running" in res.stderr
        status, doc = raw(daemon, "POST", f"/v1.45/containers/{n}/exec", {"Cmd": ["true"]})
        assert status == 409 and doc["message"] == f"container {cid} is not running"
        daemon.docker("start", n)
        daemon.docker("pause", n)
        paused = daemon.docker("exec", n, "true", check=False)
        assert paused.returncode == 1 and "is paused, unpause the container" in paused.stderr
        daemon.docker("unpause", n)
        assert daemon.docker("exec", n, "true").returncode == 0
    finally:
        daemon.docker("rm", "-f", n, check=False, timeout=30)
    missing = daemon.docker("exec", "dyt-no-such-container", "true", check=False)
    assert missing.returncode == 1 and "No such container" in missing.stderr


def test_an_exec_ends_with_its_container(daemon: Daemon, box: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = str(daemon.dir / "docker-config")
    since = int(time.time())
    proc = subprocess.Popen(
        [DOCKER, "-H", daemon.url, "exec", box, "sh", "-c", "echo started; sleep 100"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "started\n"
        daemon.docker("kill", box)
        assert proc.wait(30) == 137  # killed with the container, its status recorded
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    events = daemon.docker(
        "events", "--since", str(since), "--until", str(int(time.time()) + 1),
        "--filter", f"container={box}", "--format", "{{.Action}}|{{.Actor.Attributes.exitCode}}",
    ).stdout.splitlines()  # fmt: skip
    execs = [e for e in events if e.startswith("exec_")]
    assert execs == [
        "exec_create: sh -c echo started; sleep 100|<no value>",
        "exec_start: sh -c echo started; sleep 100|<no value>",
        "exec_die|137",
    ]
    assert shim_files(daemon) == []


def _pty_session(argv: list[str], env: dict[str, str], script: list[bytes]) -> tuple[int, str]:
    """Run ``argv`` on a fresh pty (33x101); type ``script`` line by line; answer the exit
    status and everything it printed."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 60
    pending = list(script)
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            if pending and b"# " in out.rsplit(b"\n", 1)[-1]:  # the shell's prompt
                os.write(master, pending.pop(0))
                out += b"\n"  # the next prompt must come after this line
            if proc.poll() is not None and not ready:
                break
        return proc.wait(10), out.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_docker_exec_it_through_a_pty(daemon: Daemon, box: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_CONFIG=str(daemon.dir / "docker-config"), DOCKER_CLI_HINTS="false")
    code, out = _pty_session(
        [DOCKER, "-H", daemon.url, "exec", "-it", box, "sh"],
        env,
        [b"echo dyt-$((6*7)) $TERM; tty; stty size\r", b"exit 5\r"],
    )
    assert code == 5, out
    assert "dyt-42 xterm" in out
    assert "/dev/pts/" in out
    assert "33 101" in out  # the client's terminal size reached the exec's pty


# -- docker-py and the raw API -------------------------------------------------------------


def test_docker_py_exec_run(daemon: Daemon, box: str) -> None:
    client = docker.DockerClient(base_url=daemon.url, version="1.45", timeout=60)
    try:
        container = client.containers.get(box)
        plain = container.exec_run(["sh", "-c", "echo out; echo err >&2; exit 4"])
        assert plain.exit_code == 4
        assert sorted(plain.output.splitlines()) == [b"err", b"out"]
        split = container.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
        assert split.exit_code == 0 and split.output == (b"out\n", b"err\n")
        tty = container.exec_run("sh -c 'tty; exit 2'", tty=True)
        assert tty.exit_code == 2 and tty.output.startswith(b"/dev/pts/")
        env = container.exec_run("env", environment={"DYT_X": "1"}, user="nobody", workdir="/tmp")
        assert b"DYT_X=1" in env.output.splitlines()
        missing = container.exec_run("dyt-nope")
        assert missing.exit_code == 127 and NOT_FOUND.encode() in missing.output
    finally:
        client.close()


def test_exec_api_inspect_resize_and_errors(daemon: Daemon, box: str) -> None:
    status, doc = raw(
        daemon, "POST", f"/v1.45/containers/{box}/exec",
        {"Cmd": ["sh", "-c", "sleep 0.2; exit 6"], "Tty": True, "User": "nobody"},
    )  # fmt: skip
    assert status == 201
    exec_id = doc["Id"]
    status, doc = raw(daemon, "GET", f"/v1.45/exec/{exec_id}/json")
    assert status == 200
    assert (doc["Running"], doc["ExitCode"], doc["Pid"]) == (False, None, 0)
    assert doc["ProcessConfig"] == {
        "tty": True, "entrypoint": "sh", "arguments": ["-c", "sleep 0.2; exit 6"],
        "privileged": False, "user": "nobody",
    }  # fmt: skip
    assert doc["OpenStdout"] is False and len(doc["ContainerID"]) == 64
    status, _ = raw(daemon, "POST", f"/v1.45/exec/{exec_id}/start", {"Detach": True})
    assert status == 200
    status, doc = raw(daemon, "GET", f"/v1.45/exec/{exec_id}/json")
    assert doc["Running"] is True and doc["Pid"] > 0
    status, _ = raw(daemon, "POST", f"/v1.45/exec/{exec_id}/resize?h=20&w=70")
    assert status == 200
    status, doc = raw(daemon, "POST", f"/v1.45/exec/{exec_id}/start", {"Detach": True})
    assert status == 409 and "already running" in doc["message"]
    deadline = time.monotonic() + 10
    while raw(daemon, "GET", f"/v1.45/exec/{exec_id}/json")[1]["Running"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert raw(daemon, "GET", f"/v1.45/exec/{exec_id}/json")[1]["ExitCode"] == 6
    status, doc = raw(daemon, "GET", "/v1.45/exec/dyt-nope/json")
    assert status == 404 and doc["message"] == "No such exec instance: dyt-nope"
    status, doc = raw(daemon, "POST", f"/v1.45/containers/{box}/exec", {"Cmd": []})
    assert status == 400 and doc["message"] == "No exec command specified"


# -- the dockyard CLI ------------------------------------------------------------------------


def dockyard(
    daemon: Daemon, *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_"))}
    return subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "-H", daemon.url, *args],
        capture_output=True, text=True, timeout=60, check=False, env=env, input=input,
    )  # fmt: skip


def test_dockyard_exec_cli(daemon: Daemon, box: str, tmp_path: Path) -> None:
    assert dockyard(daemon, "exec", box, "echo", "hi").stdout == "hi\n"
    assert dockyard(daemon, "container", "exec", box, "sh", "-c", "exit 3").returncode == 3
    missing = dockyard(daemon, "exec", box, "dyt-nope")
    assert missing.returncode == 127 and NOT_FOUND in missing.stdout
    env_file = tmp_path / "env"
    env_file.write_text("DYT_FROM_FILE=yes\n# a comment\n")
    res = dockyard(
        daemon, "exec", "-u", "nobody", "-w", "/tmp", "-e", "DYT_A=1", "--env-file",
        str(env_file), box, "sh", "-c", "id -un; pwd; env",
    )  # fmt: skip
    lines = res.stdout.splitlines()
    assert lines[:2] == ["nobody", "/tmp"]
    assert {"DYT_A=1", "DYT_FROM_FILE=yes"} <= set(lines)
    assert dockyard(daemon, "exec", "-i", box, "cat", input="piped\n").stdout == "piped\n"
    assert dockyard(daemon, "exec", "-d", box, "sleep", "272").returncode == 0
    top = dockyard(daemon, "top", box).stdout
    assert "sleep 272" in top
    stopped = unique()
    daemon.docker("create", "--name", stopped, BUSYBOX, "true")
    try:
        res = dockyard(daemon, "exec", stopped, "true")
        assert res.returncode == 1 and "is not running" in res.stderr
    finally:
        daemon.docker("rm", "-f", stopped, check=False)
    usage = dockyard(daemon, "exec", box)
    assert usage.returncode == 1 and "requires at least 2 arguments" in usage.stderr  # as docker 28


def test_dockyard_exec_it_through_a_pty(daemon: Daemon, box: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_"))}
    code, out = _pty_session(
        [sys.executable, "-m", "dockyard.cli.main", "-H", daemon.url, "exec", "-it", box, "sh"],
        env,
        [b"echo dyt-$((6*7)); stty size\r", b"exit 7\r"],
    )
    assert code == 7, out
    assert "dyt-42" in out and "33 101" in out
