"""Container healthchecks end to end: what ``docker ps``/``inspect``/``events`` show of
the probes dockyardd runs (engine/health.py), with the real docker CLI and the dockyard
CLI's ``--health-*`` options. Intervals are a few hundred milliseconds so the file stays
short.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dockyard.testing.daemon import DOCKER, Daemon
from dockyard.testing.names import unique
from dockyard.testing.netns import wait_until

pytestmark = pytest.mark.requires("root")

FAST = ("--health-interval", "200ms")


def until(check: Callable[[], bool], what: str) -> None:
    assert wait_until(check, 15.0), f"timed out waiting for {what}"


def run(daemon: Daemon, names: list[str], *args: str) -> str:
    name = unique()
    names.append(name)
    daemon.docker("run", "-d", "--name", name, *args)
    return name


def health(daemon: Daemon, name: str) -> Any:
    return json.loads(daemon.docker("inspect", "-f", "{{json .State.Health}}", name).stdout)


def status(daemon: Daemon, name: str) -> str:
    """ps's STATUS column of ``name``."""
    out = daemon.docker("ps", "-a", "--filter", f"name=^{name}$", "--format", "{{.Status}}")
    return out.stdout.strip()


def listed(daemon: Daemon, *filters: str) -> set[str]:
    args = [a for f in filters for a in ("--filter", f)]
    out = daemon.docker("ps", "-a", *args, "--format", "{{.Names}}").stdout
    return set(out.split())


def health_events(daemon: Daemon, name: str, since: str) -> list[str]:
    time.sleep(0.3)
    res = daemon.docker(
        "events", "--since", since, "--until", f"{time.time():.9f}",
        "--filter", "event=health_status", "--filter", f"container={name}",
        "--format", "{{.Action}}",
    )  # fmt: skip
    return res.stdout.split("\n")[:-1]


def build(daemon: Daemon, tmp_path: Path, dockerfile: str) -> str:
    """``docker build`` (legacy builder) of ``dockerfile``; the image's tag."""
    (tmp_path / "Dockerfile").write_text(dockerfile)
    conf = daemon.dir / "docker-config"
    conf.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_CONFIG=str(conf), DOCKER_CLI_HINTS="false", DOCKER_BUILDKIT="0")
    tag = unique("img")
    res = subprocess.run(
        [DOCKER, "-H", daemon.url, "build", "-t", tag, str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return tag


def test_starting_then_unhealthy_then_healthy(daemon: Daemon, names: list[str]) -> None:
    since = f"{time.time():.9f}"
    plain = run(daemon, names, "busybox", "sleep", "100")
    name = run(
        daemon, names, "--health-cmd", "test -f /tmp/ok", *FAST, "--health-retries", "2",
        "busybox", "sleep", "100",
    )  # fmt: skip
    first = health(daemon, name)
    assert first["Status"] == "starting" and first["FailingStreak"] < 2
    assert health(daemon, plain) is None  # no healthcheck: no State.Health
    assert status(daemon, plain).startswith("Up ") and "(" not in status(daemon, plain)

    until(lambda: health(daemon, name)["Status"] == "unhealthy", what="unhealthy")
    bad = health(daemon, name)
    assert bad["FailingStreak"] >= 2
    assert {r["ExitCode"] for r in bad["Log"]} == {1}
    assert status(daemon, name).endswith("(unhealthy)")
    assert listed(daemon, "health=unhealthy") == {name}
    assert listed(daemon, "health=none") == {plain}
    assert listed(daemon, "health=healthy") == set()

    daemon.docker("exec", name, "touch", "/tmp/ok")
    until(lambda: health(daemon, name)["Status"] == "healthy", what="healthy")
    until(lambda: len(health(daemon, name)["Log"]) == 5, what="five results")
    time.sleep(0.5)
    good = health(daemon, name)
    assert len(good["Log"]) == 5  # the last five only
    assert good["FailingStreak"] == 0 and good["Log"][-1]["ExitCode"] == 0
    assert status(daemon, name).endswith("(healthy)")
    assert listed(daemon, "health=healthy") == {name}
    # the dockyard CLI shows the same
    ours = daemon.dockyard("ps", "--filter", "health=healthy", "--format", "{{.Names}} {{.Status}}")
    assert ours.stdout.startswith(f"{name} Up ") and ours.stdout.endswith(" (healthy)\n")
    template = "{{.State.Health.Status}} {{.State.Health.FailingStreak}} {{len .State.Health.Log}}"
    assert daemon.dockyard("inspect", "-f", template, name).stdout == "healthy 0 5\n"
    config = json.loads(daemon.docker("inspect", "-f", "{{json .Config.Healthcheck}}", name).stdout)
    assert config == {"Test": ["CMD-SHELL", "test -f /tmp/ok"], "Interval": 200_000_000,
                      "Retries": 2}  # fmt: skip

    assert health_events(daemon, name, since) == [
        "health_status: unhealthy",
        "health_status: healthy",
    ]

    # stopped: the monitor is gone and dockerd's status reads unhealthy
    daemon.docker("stop", "-t", "0", name)
    assert health(daemon, name)["Status"] == "unhealthy"
    assert status(daemon, name).startswith("Exited (137)")
    # started again: starting over, the old results kept
    daemon.docker("start", name)
    again = health(daemon, name)
    assert again["Status"] == "starting" and again["FailingStreak"] == 0
    assert len(again["Log"]) >= 5
    until(lambda: health(daemon, name)["Status"] == "healthy", what="healthy after start")


def test_timeout_output_and_exit_code(daemon: Daemon, names: list[str]) -> None:
    slow = run(
        daemon, names, "--health-cmd", "echo begun; sleep 30", *FAST,
        "--health-timeout", "300ms", "--health-retries", "1", "busybox", "sleep", "100",
    )  # fmt: skip
    chatty = run(
        daemon, names, "--health-cmd", "head -c 5000 /dev/zero | tr '\\0' a; exit 3", *FAST,
        "busybox", "sleep", "100",
    )  # fmt: skip
    until(lambda: health(daemon, slow)["Status"] == "unhealthy", what="timed out probe")
    result = health(daemon, slow)["Log"][0]
    assert result["ExitCode"] == -1
    assert result["Output"] == "Health check exceeded timeout (300ms): begun\n"
    # a probe past its timeout is killed: they do not pile up in the container
    time.sleep(1.0)
    top = daemon.docker("top", slow).stdout
    assert top.count("sleep 30") <= 1

    until(lambda: len(health(daemon, chatty)["Log"]) >= 1, what="a result")
    result = health(daemon, chatty)["Log"][0]
    assert result["ExitCode"] == 3
    assert result["Output"] == "a" * 4096 + "..."
    until(lambda: health(daemon, chatty)["Status"] == "unhealthy", what="three failures")
    assert health(daemon, chatty)["FailingStreak"] >= 3  # the default retries


def test_image_healthcheck_and_no_healthcheck(
    daemon: Daemon, names: list[str], tmp_path: Path
) -> None:
    image = build(
        daemon, tmp_path, "FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD true\n"
    )
    inherited = run(daemon, names, image, "sleep", "100")
    until(lambda: health(daemon, inherited)["Status"] == "healthy", what="image healthcheck")

    # create's fields over the image's: the test is the image's, the timeout given
    mixed = run(daemon, names, "--health-timeout", "2s", image, "sleep", "100")
    config = json.loads(
        daemon.docker("inspect", "-f", "{{json .Config.Healthcheck}}", mixed).stdout
    )
    assert config == {"Test": ["CMD-SHELL", "true"], "Interval": 200_000_000,
                      "Timeout": 2_000_000_000, "Retries": 1}  # fmt: skip

    off = unique()
    names.append(off)
    daemon.dockyard("run", "-d", "--name", off, "--no-healthcheck", image, "sleep", "100")
    off_config = daemon.docker("inspect", "-f", "{{json .Config.Healthcheck}}", off).stdout
    assert json.loads(off_config)["Test"] == ["NONE"]  # the image's other fields stay, as dockerd's
    time.sleep(0.6)
    assert health(daemon, off) is None
    assert "(" not in status(daemon, off)
    assert off in listed(daemon, "health=none") and inherited not in listed(daemon, "health=none")


@pytest.mark.parametrize(
    "args",
    [
        ("--no-healthcheck", "--health-cmd", "true"),
        ("--no-healthcheck", "--health-retries", "2"),
        ("--health-interval", "-1s"),
        ("--health-start-period", "-2ms"),
        ("--health-retries", "-1"),
        ("--health-timeout", "soon"),
        ("--health-retries", "x"),
    ],
)
def test_cli_refuses_what_docker_refuses(daemon: Daemon, args: tuple[str, ...]) -> None:
    ours = daemon.dockyard("run", *args, "busybox", "true", check=False)
    theirs = daemon.docker("run", *args, "busybox", "true", check=False)
    assert (ours.returncode, theirs.returncode) == (125, 125)
    assert ours.stderr == theirs.stderr.replace("docker", "dockyard")
    assert daemon.docker("ps", "-aq").stdout == ""  # nothing was created


def test_daemon_refuses_a_too_short_interval(daemon: Daemon) -> None:
    res = daemon.docker("run", "--health-cmd", "true", "--health-interval", "500us",
                        "busybox", "true", check=False)  # fmt: skip
    assert res.returncode == 125
    assert "Interval in Healthcheck cannot be less than 1ms" in res.stderr


def test_paused_container_is_not_probed(daemon: Daemon, names: list[str]) -> None:
    name = run(daemon, names, "--health-cmd", "true", *FAST, "busybox", "sleep", "100")
    until(lambda: health(daemon, name)["Status"] == "healthy", what="healthy")
    daemon.docker("pause", name)
    frozen = health(daemon, name)
    assert frozen["Status"] == "unhealthy"  # dockerd's status of a stopped monitor
    assert status(daemon, name).endswith("(Paused)")
    time.sleep(0.8)
    assert health(daemon, name)["Log"] == frozen["Log"]
    daemon.docker("unpause", name)
    until(lambda: health(daemon, name)["Status"] == "healthy", what="healthy after unpause")


def test_health_survives_a_daemon_restart(daemon: Daemon, names: list[str]) -> None:
    name = run(daemon, names, "--health-cmd", "test ! -f /tmp/bad", *FAST,
               "--health-retries", "1", "busybox", "sleep", "100")  # fmt: skip
    until(lambda: health(daemon, name)["Status"] == "healthy", what="healthy")
    before = health(daemon, name)["Log"]
    pid = daemon.docker("inspect", "-f", "{{.State.Pid}}", name).stdout

    daemon.kill9()
    daemon.restart()
    assert daemon.docker("inspect", "-f", "{{.State.Pid}}", name).stdout == pid
    after = health(daemon, name)
    assert after["Log"][0] == before[0]  # saved with the record
    until(lambda: health(daemon, name)["Status"] == "healthy", what="healthy after restore")

    # the restored container is probed again: a failure now shows
    since = f"{time.time():.9f}"
    daemon.docker("exec", name, "touch", "/tmp/bad")
    until(lambda: health(daemon, name)["Status"] == "unhealthy", what="unhealthy after restore")
    assert health_events(daemon, name, since) == ["health_status: unhealthy"]


def test_a_probe_that_cannot_start_with_docker_py(daemon: Daemon, names: list[str]) -> None:
    import docker  # docker-py, a dev dependency

    client = docker.DockerClient(base_url=daemon.url, version="1.45", timeout=60)
    name = unique()
    names.append(name)
    try:
        test = {"test": ["CMD", "nope"], "interval": 200_000_000, "retries": 1}
        client.containers.run("busybox", ["sleep", "100"], name=name, detach=True, healthcheck=test)
        until(lambda: health(daemon, name)["Status"] == "unhealthy", what="unhealthy")
        result = health(daemon, name)["Log"][0]
        assert result["ExitCode"] == -1
        assert result["Output"] == (
            "OCI runtime exec failed: exec failed: unable to start container process: "
            'exec: "nope": executable file not found in $PATH: unknown'
        )
        assert client.containers.get(name).attrs["State"]["Health"]["FailingStreak"] >= 1
    finally:
        client.close()
