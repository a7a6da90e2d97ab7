"""stats, update, top and port end to end: the docker CLI, docker-py and the dockyard CLI."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import docker  # docker-py, a dev dependency
import docker.errors
import pytest

from dockyard.cgroups import manager_for
from dockyard.testing.daemon import Daemon
from dockyard.testing.names import unique

pytestmark = pytest.mark.requires("root")

MIB = 1024 * 1024


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Any]:
    c = docker.DockerClient(base_url=daemon.url, version="1.45", timeout=60)
    try:
        yield c
    finally:
        try:
            for container in c.containers.list(all=True):  # a private daemon: all are ours
                container.remove(force=True)
        except docker.errors.APIError:
            pass
        c.close()


@pytest.fixture(autouse=True)
def remove_containers(daemon: Daemon) -> Iterator[None]:
    """Containers outlive their daemon (their shims stay): remove them all at the end."""
    yield
    if daemon.proc is None or daemon.proc.poll() is not None:
        return
    ids = daemon.docker("ps", "-aq", check=False).stdout.split()
    if ids:
        daemon.docker("rm", "-f", *ids, check=False)


def sleeper(daemon: Daemon, *args: str) -> str:
    name = unique()
    daemon.docker("run", "-d", "--name", name, *args, "busybox", "sleep", "300")
    return name


def dockyard(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_"))}
    return subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "-H", daemon.url, *args],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip


def cgroup_file(daemon: Daemon, cid: str, v1: str, v2: str) -> str:
    """A control file of the container's cgroup, on a v1 or a v2 host."""
    paths = manager_for(f"{daemon.cgroup_parent}/{cid}").paths()
    controller = v1.split(".", 1)[0]
    if controller in paths and paths[controller] != paths.get(""):
        return open(os.path.join(paths[controller], v1)).read().strip()
    return open(os.path.join(paths[""], v2)).read().strip()


def to_bytes(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([KMGT]?i?B)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"B": 1, "KiB": 1024, "MiB": MIB, "GiB": 1024 * MIB}[unit]


def test_docker_stats_no_stream(daemon: Daemon) -> None:
    name = sleeper(daemon)
    res = daemon.docker("stats", "--no-stream")
    lines = res.stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == [
        "CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O",
        "PIDS",
    ]  # fmt: skip
    row = [line for line in lines if name in line]
    assert len(row) == 1
    cells = re.split(r"\s{2,}", row[0])
    assert cells[1] == name
    assert re.fullmatch(r"\d+\.\d\d%", cells[2])
    used, limit = cells[3].split(" / ")
    assert 0 < to_bytes(used) < 64 * MIB  # a sleeping busybox
    assert to_bytes(limit) > 64 * MIB  # no limit: the host's memory
    assert cells[-1] == "1"
    res = daemon.docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", name)
    shown, usage = res.stdout.strip().split(" ", 1)
    assert shown == name
    assert re.fullmatch(r"[\d.]+[KMG]?i?B / [\d.]+[KMG]?i?B", usage)


def test_docker_py_stats_one_answer(daemon: Daemon, client: Any) -> None:
    container = client.containers.run("busybox", ["sleep", "300"], detach=True)
    started = time.monotonic()
    doc = container.stats(stream=False)
    assert 0.5 < time.monotonic() - started < 10  # primed: two readings a second apart
    assert doc["id"] == container.id
    assert doc["name"] == "/" + container.name
    assert doc["pids_stats"]["current"] == 1
    assert 0 < doc["memory_stats"]["usage"] < 64 * MIB
    assert doc["memory_stats"]["limit"] > 64 * MIB
    cpu, pre = doc["cpu_stats"], doc["precpu_stats"]
    assert cpu["online_cpus"] == len(os.sched_getaffinity(0))
    assert cpu["system_cpu_usage"] > pre["system_cpu_usage"] > 0
    assert cpu["cpu_usage"]["total_usage"] >= pre["cpu_usage"]["total_usage"] > 0
    assert doc["read"] > doc["preread"]


def test_stats_stream_and_stopped_container(daemon: Daemon, client: Any) -> None:
    container = client.containers.run("busybox", ["sleep", "300"], detach=True)
    stream = container.stats(stream=True, decode=True)
    first, second = next(stream), next(stream)
    stream.close()
    assert second["preread"] == first["read"]
    assert second["precpu_stats"] == first["cpu_stats"]
    container.stop(timeout=0)
    doc = container.stats(stream=False)
    assert doc["read"] == "0001-01-01T00:00:00Z"
    assert doc["memory_stats"] == {} and doc["pids_stats"] == {}
    assert doc["cpu_stats"]["cpu_usage"]["total_usage"] == 0
    res = daemon.docker("stats", "--no-stream", "--format", "{{.MemUsage}} {{.PIDs}}",
                        container.name)  # fmt: skip
    assert res.stdout.strip() == "0B / 0B 0"


def test_a_client_leaving_a_stream_leaves_nothing_running(daemon: Daemon) -> None:
    name = sleeper(daemon)
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(daemon.sock))
        s.sendall(f"GET /v1.45/containers/{name}/stats HTTP/1.1\r\nHost: d\r\n\r\n".encode())
        data = b""
        while data.count(b"\n") < 8:  # the head and the first document
            data += s.recv(65536)
        assert b" 200 " in data.split(b"\r\n", 1)[0]
    daemon.docker("rm", "-f", name)
    started = time.monotonic()
    daemon.stop()  # a stats loop still running would hold the shutdown
    assert time.monotonic() - started < 5
    assert "still running at shutdown" not in daemon.log.read_text()


def test_docker_update_applies_live_and_is_kept(daemon: Daemon) -> None:
    name = sleeper(daemon)
    cid = daemon.docker("inspect", "-f", "{{.Id}}", name).stdout.strip()
    since = time.time()
    res = daemon.docker("update", "--memory", "64m", "--pids-limit", "20", "--cpu-shares",
                        "512", name)  # fmt: skip
    assert res.stdout.strip() == name
    events = daemon.docker(
        "events",
        "--since",
        f"{since:.3f}",
        "--until",
        f"{time.time():.3f}",
        "--filter",
        "event=update",
        "--format",
        "{{.Actor.Attributes.name}}",
    )
    assert events.stdout.split() == [name]
    assert cgroup_file(daemon, cid, "memory.limit_in_bytes", "memory.max") == str(64 * MIB)
    assert cgroup_file(daemon, cid, "pids.max", "pids.max") == "20"
    assert cgroup_file(daemon, cid, "cpu.shares", "cpu.weight") in ("512", "20")
    doc = json.loads(daemon.docker("inspect", name).stdout)[0]["HostConfig"]
    assert (doc["Memory"], doc["PidsLimit"], doc["CpuShares"]) == (64 * MIB, 20, 512)
    stats = json.loads(daemon.docker("stats", "--no-stream", "--format", "json", name).stdout)
    assert stats["MemUsage"].endswith(" / 64MiB")
    # the limits are part of the container: a restart gets them again
    daemon.docker("restart", "-t", "0", name)
    assert cgroup_file(daemon, cid, "memory.limit_in_bytes", "memory.max") == str(64 * MIB)
    assert cgroup_file(daemon, cid, "pids.max", "pids.max") == "20"


def test_docker_update_errors(daemon: Daemon) -> None:
    name = sleeper(daemon)
    res = daemon.docker("update", "--memory", "1m", name, check=False)
    assert res.returncode == 1
    assert "Minimum memory limit allowed is 6MB" in res.stderr
    res = daemon.docker("update", "--cpus", "0.5", "--cpu-period", "50000", name, check=False)
    assert res.returncode == 1
    assert "Conflicting options" in res.stderr
    res = daemon.docker("update", "--memory", "64m", "nosuchcontainer", check=False)
    assert res.returncode == 1
    assert "No such container: nosuchcontainer" in res.stderr


def test_update_of_a_stopped_container_applies_at_start(daemon: Daemon) -> None:
    name = unique()
    daemon.docker("create", "--name", name, "busybox", "sleep", "300")
    daemon.docker("update", "--memory", "32m", "--restart", "on-failure:3", name)
    daemon.docker("start", name)
    cid = daemon.docker("inspect", "-f", "{{.Id}}", name).stdout.strip()
    assert cgroup_file(daemon, cid, "memory.limit_in_bytes", "memory.max") == str(32 * MIB)
    policy = daemon.docker("inspect", "-f", "{{json .HostConfig.RestartPolicy}}", name).stdout
    assert json.loads(policy) == {"Name": "on-failure", "MaximumRetryCount": 3}


def test_docker_top_with_ps_options(daemon: Daemon) -> None:
    name = sleeper(daemon)
    lines = daemon.docker("top", name, "-o", "pid,comm").stdout.split("\n")
    assert lines[0].split() == ["PID", "COMMAND"]
    assert lines[1].split()[1] == "sleep"
    lines = daemon.docker("top", name, "aux").stdout.split("\n")
    assert lines[0].split()[:2] == ["USER", "PID"]
    assert lines[1].split()[-2:] == ["sleep", "300"]


def test_port_without_published_ports(daemon: Daemon) -> None:
    name = sleeper(daemon)
    for run in (daemon.docker, lambda *a, check=False: dockyard(daemon, *a)):
        res = run("port", name, check=False)
        assert (res.returncode, res.stdout) == (0, "")
        res = run("port", name, "80/tcp", check=False)
        assert res.returncode == 1
        assert f"Error: No public port '80/tcp' published for {name}" in res.stderr


def test_dockyard_cli_stats_and_update(daemon: Daemon) -> None:
    name = sleeper(daemon)
    res = dockyard(daemon, "update", "--memory", "48m", "--pids-limit", "30", name)
    assert (res.returncode, res.stdout) == (0, name + "\n"), res.stderr
    res = dockyard(daemon, "stats", "--no-stream")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split("   ")[0] == "CONTAINER ID"
    cells = re.split(r"\s{2,}", next(line for line in lines if name in line))
    assert cells[3].endswith(" / 48MiB")
    assert cells[-1] == "1"
    res = dockyard(daemon, "stats", "--no-stream", "--format", "{{.PIDs}}", name)
    assert res.stdout == "1\n"
    res = dockyard(daemon, "stats", "--no-stream", "nosuchcontainer")
    assert res.returncode == 1
    assert "No such container: nosuchcontainer" in res.stderr
    res = dockyard(daemon, "update", name)
    assert res.returncode == 1
    assert "you must provide one or more flags" in res.stderr


def test_dockyard_cli_stats_stream_redraws(daemon: Daemon) -> None:
    name = sleeper(daemon)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dockyard.cli.main", "-H", daemon.url, "stats", "--format",
         "{{.Name}} {{.PIDs}}", name],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        time.sleep(2.5)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    frames = out.decode().splitlines()
    assert len(frames) >= 3  # not a terminal: one plain frame per redraw
    assert frames[-1] == f"{name} 1"
