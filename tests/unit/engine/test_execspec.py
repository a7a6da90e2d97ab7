"""The OCI process of an exec (``engine/execspec.py``), the errors of one that cannot
start (``engine/execs.start_failure``, ``shim/execs.runtime_error``) and the exec body the
CLI sends (``cli/execs.exec_config``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.cli.execs import EXEC, exec_config
from dockyard.engine.execs import start_failure
from dockyard.engine.execspec import describe_command, exec_env, exec_process
from dockyard.engine.specprocess import DEFAULT_CAPS, capabilities
from dockyard.errors import Conflict, InvalidArgument, NotFound, SystemFault
from dockyard.shim.execs import runtime_error

BASE: dict[str, Any] = {
    "terminal": True,
    "consoleSize": {"height": 24, "width": 80},
    "user": {"uid": 0, "gid": 0},
    "args": ["sleep", "300"],
    "env": ["PATH=/usr/bin:/bin", "HOSTNAME=abc", "TERM=xterm", "A=container"],
    "cwd": "/srv",
    "capabilities": {
        "bounding": list(DEFAULT_CAPS),
        "effective": list(DEFAULT_CAPS),
        "permitted": list(DEFAULT_CAPS),
    },
    "noNewPrivileges": True,
    "apparmorProfile": "docker-default",
    "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}],
    "oomScoreAdj": 0,
}
CONTAINER = {"Env": ["A=container"], "Tty": True}


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
        "app:x:1000:1000::/home/app:/bin/sh\n"
    )
    (etc / "group").write_text("root:x:0:\nnogroup:x:65534:\napp:x:1000:\nstaff:x:50:app\n")
    return tmp_path


def test_defaults_come_from_the_container(rootfs: Path) -> None:
    p = exec_process(BASE, CONTAINER, {"Cmd": ["echo", "hi"]}, rootfs)
    assert p["args"] == ["echo", "hi"]
    assert p["terminal"] is False
    assert p["user"] == {"uid": 0, "gid": 0}
    assert p["cwd"] == "/srv"
    assert p["noNewPrivileges"] is True
    assert p["rlimits"] == BASE["rlimits"]
    assert p["capabilities"]["bounding"] == list(DEFAULT_CAPS)
    assert p["capabilities"]["effective"] == list(DEFAULT_CAPS)
    # the container's TTY put TERM there: an exec without a TTY does not get it
    assert p["env"] == ["PATH=/usr/bin:/bin", "HOSTNAME=abc", "A=container"]
    assert "consoleSize" not in p and "apparmorProfile" not in p
    assert BASE["args"] == ["sleep", "300"]  # the container's process is not changed


def test_overrides(rootfs: Path) -> None:
    body = {
        "Cmd": ["id"],
        "Tty": True,
        "User": "app",
        "WorkingDir": "/tmp",
        "Env": ["A=exec", "B=2", "PATH"],
    }
    p = exec_process(BASE, CONTAINER, body, rootfs)
    assert p["terminal"] is True
    assert p["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [1000, 50]}
    assert p["cwd"] == "/tmp"
    assert p["env"] == ["HOSTNAME=abc", "A=exec", "TERM=xterm", "B=2"]  # bare PATH unsets
    # a user other than root keeps the bounding set only (as the container's own spec)
    assert p["capabilities"]["bounding"] == list(DEFAULT_CAPS)
    assert p["capabilities"]["effective"] == [] and p["capabilities"]["permitted"] == []


def test_user_and_group_numbers_and_names(rootfs: Path) -> None:
    p = exec_process(BASE, CONTAINER, {"Cmd": ["id"], "User": "nobody:app"}, rootfs)
    # as dockerd: the primary group is also a supplementary one
    assert p["user"] == {"uid": 65534, "gid": 1000, "additionalGids": [1000]}
    p = exec_process(BASE, CONTAINER, {"Cmd": ["id"], "User": "12:34"}, rootfs)
    assert p["user"] == {"uid": 12, "gid": 34, "additionalGids": [34]}
    with pytest.raises(NotFound, match="unable to find user dyt-nope"):
        exec_process(BASE, CONTAINER, {"Cmd": ["id"], "User": "dyt-nope"}, rootfs)


def test_privileged_gets_every_capability(rootfs: Path) -> None:
    p = exec_process(BASE, CONTAINER, {"Cmd": ["id"], "Privileged": True}, rootfs)
    every = capabilities({"Privileged": True})
    assert set(every) > set(DEFAULT_CAPS)
    assert p["capabilities"]["bounding"] == every
    assert p["capabilities"]["effective"] == every


def test_a_term_the_container_asked_for_stays(rootfs: Path) -> None:
    env = exec_env(["TERM=vt100"], {"Env": ["TERM=vt100"]}, {"Cmd": ["x"], "Tty": True})
    assert env == ["TERM=vt100"]


@pytest.mark.parametrize("cmd", [None, [], "", [1, 2]])
def test_a_command_is_required(rootfs: Path, cmd: Any) -> None:
    with pytest.raises(InvalidArgument, match="No exec command specified"):
        exec_process(BASE, CONTAINER, {"Cmd": cmd}, rootfs)


def test_describe_command() -> None:
    assert describe_command({"Cmd": ["sh", "-c", "exit 3"]}) == "sh -c exit 3"
    assert describe_command({"Cmd": "ls"}) == "ls"


OCI = "OCI runtime exec failed: exec failed: unable to start container process: "


@pytest.mark.parametrize(
    ("message", "argv0", "code", "kind", "text"),
    [
        (  # runc
            'exec failed: unable to start container process: exec: "dyt-x": executable file '
            "not found in $PATH",
            "dyt-x", 127, InvalidArgument,
            OCI + 'exec: "dyt-x": executable file not found in $PATH: unknown',
        ),
        (  # ours
            "exec: exec 'dyt-x': executable file not found in $PATH (\"/bin\")",
            "dyt-x", 127, InvalidArgument,
            OCI + 'exec: "dyt-x": executable file not found in $PATH: unknown',
        ),
        (  # crun names a bare command it cannot find by its stat error
            "executable file `dyt-x` not found in $PATH: No such file or directory",
            "dyt-x", 127, InvalidArgument,
            OCI + 'exec: "dyt-x": executable file not found in $PATH: unknown',
        ),
        (
            "exec: exec '/nope': no such file in the container",
            "/nope", 127, InvalidArgument,
            OCI + 'exec: "/nope": stat /nope: no such file or directory: unknown',
        ),
        (
            'exec failed: unable to start container process: exec: "/etc/passwd": permission '
            "denied",
            "/etc/passwd", 126, InvalidArgument,
            OCI + 'exec: "/etc/passwd": permission denied: unknown',
        ),
        ("cgroup: it broke", "ls", 126, SystemFault, OCI + "cgroup: it broke: unknown"),
        ("container is not running", "ls", 126, Conflict, "container is not running"),
        (
            "unable to find user bob: no matching entries in passwd file",
            "ls", 126, InvalidArgument,
            "unable to find user bob: no matching entries in passwd file",
        ),
    ],
)  # fmt: skip
def test_start_failures(message: str, argv0: str, code: int, kind: type, text: str) -> None:
    got_code, error = start_failure(message, argv0)
    assert got_code == code
    assert isinstance(error, kind)
    assert str(error) == text


def test_runtime_error_lines() -> None:
    assert runtime_error("") == ""
    assert runtime_error("dockyard-runtime: exec: boom\n") == "exec: boom"
    runc = (
        'time="2026-11-27T20:55:24Z" level=error msg="exec failed: unable to start container '
        'process: exec: \\"x\\": executable file not found in $PATH"\n'
    )
    assert runtime_error(runc) == (
        'exec failed: unable to start container process: exec: "x": executable file not '
        "found in $PATH"
    )
    assert runtime_error("warning first\ncrun: the real error\n") == "the real error"


def test_cli_exec_body(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("FROM_FILE=1\n# comment\n")
    opts, args = EXEC.parse(
        ["-i", "-u", "nobody", "-w", "/tmp", "-e", "A=1", "--env-file", str(env_file),
         "--privileged", "--detach-keys", "ctrl-x", "box", "sh", "-c", "echo -e hi"]
    )  # fmt: skip
    assert args == ["box", "sh", "-c", "echo -e hi"]  # flags end at the container
    body = exec_config(opts, args[1:])
    assert body == {
        "User": "nobody", "Privileged": True, "Tty": False, "AttachStdin": True,
        "AttachStdout": True, "AttachStderr": True, "DetachKeys": "ctrl-x",
        "Env": ["FROM_FILE=1", "A=1"], "WorkingDir": "/tmp", "Cmd": ["sh", "-c", "echo -e hi"],
    }  # fmt: skip
    opts, args = EXEC.parse(["-d", "-i", "box", "true"])
    detached = exec_config(opts, args[1:])
    assert (detached["AttachStdin"], detached["AttachStdout"], detached["AttachStderr"]) == (
        False, False, False,
    )  # fmt: skip
