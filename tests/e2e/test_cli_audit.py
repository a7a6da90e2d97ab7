"""The ``dockyard`` CLI next to the docker CLI 28, both against one private dockyardd:
the same command line must print the same (tables, ``--format`` results, errors) and
exit with the same status. "docker" in either output reads as "dockyard".

Also: docker's exit statuses of ``run`` (125/126/127/the container's), ``-H`` and
``DOCKYARD_HOST``, ``system prune``, json-file logs and their rotation.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import DOCKER, Daemon
from dockyard.testing.names import unique

BUSYBOX = "busybox:latest"
NOISE = ("WARNING: network mode", 'level=error msg="Error waiting for container')


def _env(daemon: Daemon) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_"))}
    env.update(DOCKER_CONFIG=str(daemon.dir / "docker-config"), DOCKER_CLI_HINTS="false")
    return env


def dockyard(
    daemon: Daemon, *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    host = [] if env is not None else ["-H", daemon.url]
    return subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", *host, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env if env is not None else _env(daemon),
        input=input,
    )


def docker(
    daemon: Daemon, *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    (daemon.dir / "docker-config").mkdir(exist_ok=True)
    return subprocess.run(
        [DOCKER, "-H", daemon.url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=_env(daemon),
        input=input,
    )


def _seen(res: subprocess.CompletedProcess[str]) -> tuple[int, str, str]:
    def norm(text: str) -> str:
        lines = [line for line in text.splitlines(True) if not any(n in line for n in NOISE)]
        return "".join(lines).replace("docker", "dockyard").replace("Docker", "Dockyard")

    return res.returncode, norm(res.stdout), norm(res.stderr)


def same(daemon: Daemon, *args: str, input: str | None = None) -> tuple[int, str, str]:
    """Run both CLIs; they must agree. A second or third try absorbs a clock tick
    between the two runs ("Up 2 seconds" / "Up 3 seconds")."""
    for _ in range(3):
        theirs = _seen(docker(daemon, *args, input=input))
        ours = _seen(dockyard(daemon, *args, input=input))
        if theirs == ours:
            return ours
        time.sleep(0.3)
    assert ours == theirs, f"dockyard {' '.join(args)} differs from docker"
    return ours


@pytest.fixture
def scene(daemon: Daemon) -> Iterator[dict[str, str]]:
    """A running container with labels, one that exited 3 with output, one created with
    a named volume; removed at the end."""
    names = {k: unique(k) for k in ("up", "exited", "created", "vol")}
    daemon.docker("run", "-d", "--name", names["up"], "-l", "b=1", "-l", "a=<2>",
                  BUSYBOX, "sleep", "300")  # fmt: skip
    daemon.docker("run", "--name", names["exited"], BUSYBOX, "sh", "-c",
                  "echo out; echo err >&2; exit 3", check=False)  # fmt: skip
    daemon.docker("create", "--name", names["created"], "-v", f"{names['vol']}:/data",
                  BUSYBOX, "echo", "x")  # fmt: skip
    try:
        yield names
    finally:
        daemon.docker("rm", "-f", names["up"], names["exited"], names["created"], check=False)
        daemon.docker("volume", "rm", names["vol"], check=False)


def test_listings_and_tables_match_docker(daemon: Daemon, scene: dict[str, str]) -> None:
    up = scene["up"]
    for args in (
        ["ps"], ["ps", "-a"], ["ps", "-aq"], ["ps", "-a", "--no-trunc"], ["ps", "-a", "-s"],
        ["ps", "-n", "2"], ["ps", "-l"], ["ps", "-a", "--format", "{{json .}}"],
        ["ps", "-a", "--format", "table {{.Names}}\\t{{.Status}}\\t{{.Labels}}"],
        ["ps", "-a", "--filter", "status=exited"], ["ps", "-a", "--filter", "exited=3"],
        ["ps", "-a", "--filter", f"volume={scene['vol']}"], ["ps", "--filter", "label=a"],
        ["images"], ["images", "-q"], ["images", "--format", "json"], ["images", "--no-trunc"],
        ["history", BUSYBOX], ["history", "-H=false", BUSYBOX], ["history", "-q", BUSYBOX],
        ["volume", "ls"], ["volume", "ls", "-q"], ["volume", "ls", "--format", "json"],
        ["network", "ls"], ["network", "ls", "--format", "json"], ["network", "ls", "-q"],
        ["top", up], ["system", "df"], ["system", "df", "-v"],
        ["info", "--format", "{{.Containers}} {{.ContainersRunning}} {{json .Plugins}}"],
        ["version", "--format", "{{.Server.APIVersion}} {{.Client.APIVersion}}"],
    ):  # fmt: skip
        code, _, _ = same(daemon, *args)
        assert code == 0, args


def test_ps_name_filter_is_a_regex(daemon: Daemon, scene: dict[str, str]) -> None:
    up = scene["up"]
    exact = same(daemon, "ps", "-a", "--format", "{{.Names}}", "--filter", f"name=^{up}$")
    assert exact[1] == f"{up}\n"
    assert same(daemon, "ps", "-a", "-q", "--filter", f"name=^{up[:-1]}$")[1] == ""
    part = same(daemon, "ps", "-a", "--format", "{{.Names}}", "--filter", f"name={up[4:12]}")
    assert up in part[1].split()
    with_slash = same(daemon, "ps", "--format", "{{.Names}}", "--filter", f"name=/{up}")
    assert with_slash[1] == f"{up}\n"


def test_inspect_templates_and_types_match_docker(daemon: Daemon, scene: dict[str, str]) -> None:
    up, exited, created = scene["up"], scene["exited"], scene["created"]
    outputs = {
        "{{.State.Status}}": "running\n",
        "{{range .Mounts}}{{.Name}} {{end}}": "",
        '{{join .Args ","}}': "300\n",
        "{{json .Config.Labels}}": '{"a":"<2>","b":"1"}\n',
        "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}": "a=<2>;b=1;\n",
        "{{if .State.Running}}up{{else}}down{{end}} {{len .Args}}": "up 1\n",
        '{{with .State}}{{.Status}}{{end}} {{printf "%s!" .Path}}': "running sleep!\n",
    }
    for fmt, text in outputs.items():
        if text:
            assert same(daemon, "inspect", "--format", fmt, up)[1] == text, fmt
    mounts = same(daemon, "inspect", "-f", "{{range .Mounts}}{{.Name}} {{end}}", created)
    assert mounts[1] == f"{scene['vol']} \n"
    assert same(daemon, "inspect", "-f", "{{.State.ExitCode}}", exited)[1] == "3\n"
    for args in (
        ["inspect", "--type", "volume", scene["vol"]], ["inspect", scene["vol"]],
        ["inspect", "none"], ["inspect", "--type", "network", "host"],
        ["inspect", "--type", "image", BUSYBOX], ["inspect", "-f", "{{.Name}}", up, BUSYBOX],
        ["inspect", "-f", "{{.Nope}}", up], ["inspect", "-f", "{{nofunc .}}", up],
        ["inspect", "--type", "bogus", up], ["inspect", "dyt-no-such-object"],
        ["container", "inspect", BUSYBOX], ["image", "inspect", up],
        ["version", "-f", "{{.Bogus}}"], ["info", "-f", "{{.Bogus}}"],
        ["ps", "--format", "{{.Bogus}}"], ["images", "--format", "{{.Bogus}}"],
        ["ps", "--format", "{{.Names"],
    ):  # fmt: skip
        same(daemon, *args)


def test_usage_errors_and_statuses_match_docker(daemon: Daemon, scene: dict[str, str]) -> None:
    up, exited = scene["up"], scene["exited"]
    expected = {
        ("ps", "--bogus"): 125,
        ("ps", "-n", "x"): 125,
        ("ps", "--filter", "name"): 125,
        ("stop", "-t", "x", up): 125,
        ("kill", "-s"): 125,
        ("--bogus", "ps"): 125,
        ("run", "-m", "x", BUSYBOX): 125,
        ("tag",): 1,
        ("rm",): 1,
        ("ps", "x"): 1,
        ("logs", "a", "b"): 1,
        ("dyt-bogus",): 1,
        ("image", "dyt-bogus"): 1,
        ("logs", "dyt-no-such"): 1,
        ("logs", "--since", "bogus", exited): 1,
        ("rm", up): 1,
        ("attach", exited): 1,
        ("start", "dyt-no-such", "dyt-no-such-2"): 1,
        ("rename", "dyt-no-such", "x"): 1,
        ("rename", up, exited): 1,
        ("create", "--name", up, BUSYBOX): 1,
        ("run", "--name", up, BUSYBOX): 125,
        ("run", "--rm", "dyt-no-such-image:1", "true"): 125,
        ("run", "--rm", BUSYBOX, "dyt-no-such-command"): 127,
        ("run", "--rm", BUSYBOX, "/etc/passwd"): 126,
        ("run", "--rm", BUSYBOX, "sh", "-c", "exit 7"): 7,
        ("exec", up, "dyt-no-such-command"): 127,
        ("exec", exited, "true"): 1,
        ("wait", exited, "dyt-no-such"): 1,
        ("images", "--filter", "bogus=1"): 1,
        ("ps", "--filter", "bogus=1"): 1,
        ("ps", "-a", "--filter", "status=bogus"): 1,
    }
    for args, status in expected.items():
        code, _, err = same(daemon, *args)
        assert code == status, (args, err)
    # a bare management command prints its help (on stderr) and succeeds
    for group in ("image", "container", "volume", "network", "system"):
        assert same(daemon, group)[0] == 0


def test_logs_match_docker_and_the_file_is_docker_json_file(
    daemon: Daemon, scene: dict[str, str]
) -> None:
    exited = scene["exited"]
    for args in (["logs"], ["logs", "-t"], ["logs", "--tail", "1"], ["logs", "-n", "0"],
                 ["logs", "--since", "1h"], ["logs", "--until", "1h"],
                 ["logs", "--details"]):  # fmt: skip
        same(daemon, *args, exited)
    out = dockyard(daemon, "logs", "-t", exited)
    assert out.stdout.endswith(" out\n") and out.stderr.endswith(" err\n")
    out_time, err_time = out.stdout.split()[0], out.stderr.split()[0]
    assert out_time < err_time  # nanosecond RFC 3339 times sort as text
    # both bounds include a line at the very time: the CLI must send every nanosecond
    assert same(daemon, "logs", "--since", err_time, exited)[1:] == ("", "err\n")
    assert same(daemon, "logs", "--until", out_time, exited)[1:] == ("out\n", "")
    log_path = docker(daemon, "inspect", "-f", "{{.LogPath}}", exited).stdout.strip()
    lines = Path(log_path).read_text().splitlines()
    line = re.compile(r'\{"log":"[^"]*\\n","stream":"std(out|err)","time":"[0-9T:.-]+Z"\}')
    assert [json.loads(x)["log"] for x in lines] == ["out\n", "err\n"]
    assert all(line.fullmatch(x) for x in lines), lines


def test_log_rotation_by_max_size_and_max_file(daemon: Daemon) -> None:
    name = unique("rot")
    script = "i=0; while [ $i -lt 400 ]; do echo line-$i-................; i=$((i+1)); done"
    res = dockyard(daemon, "run", "--name", name, "--log-opt", "max-size=2k",
                   "--log-opt", "max-file=3", BUSYBOX, "sh", "-c", script)  # fmt: skip
    try:
        assert res.returncode == 0, res.stderr
        log_path = Path(docker(daemon, "inspect", "-f", "{{.LogPath}}", name).stdout.strip())
        files = sorted(p.name for p in log_path.parent.glob(log_path.name + "*"))
        assert files == [log_path.name, log_path.name + ".1", log_path.name + ".2"]
        assert all(p.stat().st_size <= 2048 + 200 for p in log_path.parent.glob("*json.log*"))
        ours = dockyard(daemon, "logs", name).stdout.splitlines()
        assert ours == docker(daemon, "logs", name).stdout.splitlines()
        assert ours and ours[-1] == "line-399-................"
        assert ours == [f"line-{i}-................" for i in range(400 - len(ours), 400)]
        config = same(daemon, "inspect", "-f", "{{json .HostConfig.LogConfig}}", name)[1]
        assert json.loads(config) == {
            "Type": "json-file",
            "Config": {"max-file": "3", "max-size": "2k"},
        }
    finally:
        daemon.docker("rm", "-f", name, check=False)


def test_host_flag_and_environment(daemon: Daemon) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_"))}
    by_env = dockyard(daemon, "version", "-f", "{{.Server.Version}}",
                      env={**base, "DOCKYARD_HOST": daemon.url})  # fmt: skip
    assert by_env.returncode == 0 and by_env.stdout.strip()
    docker_env = dockyard(daemon, "ps", "-q", env={**base, "DOCKER_HOST": daemon.url})
    assert docker_env.returncode == 0
    first = {**base, "DOCKYARD_HOST": daemon.url, "DOCKER_HOST": "unix:///nonexistent.sock"}
    assert dockyard(daemon, "ps", "-q", env=first).returncode == 0
    flag_wins = dockyard(daemon, "-H", daemon.url, "ps", "-q",
                         env={**base, "DOCKYARD_HOST": "unix:///nonexistent.sock"})  # fmt: skip
    assert flag_wins.returncode == 0
    nowhere = dockyard(daemon, "ps", env={**base, "DOCKYARD_HOST": "unix:///nonexistent.sock"})
    assert nowhere.returncode == 1 and "/nonexistent.sock" in nowhere.stderr


def test_system_prune_as_docker_prints_it(daemon: Daemon) -> None:
    stopped, anon = unique("stopped"), unique("anon")
    daemon.docker("run", "--name", stopped, BUSYBOX, "true")
    daemon.docker("run", "--name", anon, "-v", "/data", BUSYBOX, "true")
    volume = daemon.docker("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", anon).stdout
    ids = sorted(
        daemon.docker("inspect", "-f", "{{.Id}}", n).stdout.strip() for n in (stopped, anon)
    )
    # asked and refused: nothing goes, and the question is docker's
    refused = same(daemon, "system", "prune", "--volumes", input="n\n")
    assert refused[0] == 0 and "all anonymous volumes not used" in refused[1]
    assert len(daemon.docker("ps", "-aq").stdout.split()) == 2
    res = dockyard(daemon, "system", "prune", "--volumes", "-f")
    assert res.returncode == 0, res.stderr
    parts = res.stdout.split("\n\n")
    assert parts[0].splitlines()[0] == "Deleted Containers:"
    assert sorted(parts[0].splitlines()[1:]) == ids
    assert parts[1] == f"Deleted Volumes:\n{volume.strip()}"
    assert parts[-1].startswith("Total reclaimed space: ")
    assert daemon.docker("ps", "-aq").stdout == ""
    assert volume.strip() not in daemon.docker("volume", "ls", "-q").stdout
    assert same(daemon, "system", "prune", "-f", "--volumes", "--filter", "until=1h")[0] == 1


def _pty(argv: list[str], env: dict[str, str], keys: list[bytes]) -> tuple[int, bytes]:
    """Run ``argv`` on a fresh pty; type ``keys`` one by one once the output pauses."""
    import fcntl
    import select
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    out, pending = b"", list(keys)
    quiet_since = time.monotonic()
    deadline = time.monotonic() + 60
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
                out, quiet_since = out + chunk, time.monotonic()
            elif pending and time.monotonic() - quiet_since > 0.7:
                os.write(master, pending.pop(0))
                quiet_since = time.monotonic()
            if proc.poll() is not None and not ready:
                break
        return proc.wait(10), out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_detach_keys_of_run_and_attach_as_docker(daemon: Daemon) -> None:
    env = _env(daemon)
    (daemon.dir / "docker-config").mkdir(exist_ok=True)
    clis = {
        "docker": [DOCKER, "-H", daemon.url],
        "dockyard": [sys.executable, "-m", "dockyard.cli.main", "-H", daemon.url],
    }
    for tool, cli in clis.items():
        name = unique(tool)
        try:
            # run -it, then ctrl-p ctrl-q: the CLI leaves with 0, the container runs on
            code, out = _pty([*cli, "run", "-it", "--name", name, BUSYBOX, "sh"], env,
                             [b"echo dyt-$((6*7))\r", b"\x10\x11"])  # fmt: skip
            assert code == 0 and b"dyt-42" in out, (tool, out)
            assert daemon.docker("inspect", "-f", "{{.State.Running}}", name).stdout == "true\n"
            # attach with other keys: docker attach says "read escape sequence", exits 1
            code, out = _pty([*cli, "attach", "--detach-keys=ctrl-a,x", name], env,
                             [b"echo dyt-$((7*7))\r", b"\x01x"])  # fmt: skip
            assert code == 1 and b"dyt-49" in out and b"read escape sequence" in out, (tool, out)
            assert daemon.docker("inspect", "-f", "{{.State.Running}}", name).stdout == "true\n"
            # an exit typed in the session ends the CLI with the container's status
            code, out = _pty([*cli, "attach", name], env, [b"exit 9\r"])
            assert code == 9, (tool, out)
        finally:
            daemon.docker("rm", "-f", name, check=False)


def test_wait_and_its_conditions(daemon: Daemon) -> None:
    import http.client
    import socket
    import threading

    name = unique("wait")
    daemon.docker("create", "--name", name, BUSYBOX, "sh", "-c", "sleep 1; exit 4")
    try:

        def wait(condition: str) -> Any:
            class Conn(http.client.HTTPConnection):
                def connect(self) -> None:
                    self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    self.sock.connect(str(daemon.sock))

            conn = Conn("dyt", timeout=60)
            conn.request("POST", f"/v1.45/containers/{name}/wait?condition={condition}")
            return json.loads(conn.getresponse().read())

        # a created container is not running: that wait answers at once
        assert wait("not-running") == {"StatusCode": 0, "Error": None}
        results: dict[str, Any] = {}
        waiters = [threading.Thread(target=lambda c=c: results.update({c: wait(c)}))
                   for c in ("next-exit", "removed")]  # fmt: skip
        for t in waiters:
            t.start()
        time.sleep(0.5)
        daemon.docker("start", name)
        assert same(daemon, "wait", name)[1] == "4\n"
        waiters[0].join(30)
        assert results["next-exit"]["StatusCode"] == 4
        assert "removed" not in results
        daemon.docker("rm", name)
        waiters[1].join(30)
        assert results["removed"]["StatusCode"] == 4
    finally:
        daemon.docker("rm", "-f", name, check=False)
