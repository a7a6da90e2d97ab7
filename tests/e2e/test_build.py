"""Dockerfile builds end to end: the real docker CLI (legacy builder, ``DOCKER_BUILDKIT=0``),
docker-py and the dockyard CLI against a private dockyardd."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker  # docker-py, a dev dependency
import pytest

from dockyard.testing.daemon import DOCKER, Daemon

pytestmark = pytest.mark.requires("root")

APP = """\
FROM busybox
ENV GREETING=hello
WORKDIR /app
COPY msg.txt .
RUN echo "built $GREETING in $(pwd)" > built.txt && cat msg.txt
CMD ["sh", "-c", "cat /app/built.txt /app/msg.txt"]
"""


def docker_env(daemon: Daemon) -> dict[str, str]:
    conf = daemon.dir / "docker-config"
    conf.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_CONFIG=str(conf), DOCKER_CLI_HINTS="false", DOCKER_BUILDKIT="0")
    return env


def build(daemon: Daemon, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``docker build`` with the legacy builder."""
    res = subprocess.run(
        [DOCKER, "-H", daemon.url, "build", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=docker_env(daemon),
        check=False,
    )
    if check and res.returncode != 0:
        raise AssertionError(f"docker build {args}: exit {res.returncode}: {res.stderr}")
    return res


def dockyard(daemon: Daemon, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return daemon.dockyard(*args, check=check, timeout=180)


def built_id(out: str) -> str:
    found = re.findall(r"^Successfully built ([0-9a-f]{12})$", out, re.M)
    assert found, out
    return found[-1]


def context(tmp_path: Path, dockerfile: str, **files: str) -> Path:
    root = tmp_path / "ctx"
    root.mkdir()
    (root / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        (root / name.replace("__", "/")).parent.mkdir(parents=True, exist_ok=True)
        (root / name.replace("__", "/")).write_text(text)
    return root


def no_containers(daemon: Daemon) -> bool:
    return daemon.docker("ps", "-aq").stdout.strip() == ""


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Any]:
    c = docker.DockerClient(base_url=daemon.url, version="1.45", timeout=120)
    try:
        yield c
    finally:
        c.close()


def test_build_then_run_and_rebuild_from_cache(daemon: Daemon, tmp_path: Path) -> None:
    ctx = context(tmp_path, APP, **{"msg.txt": "a message\n"})
    first = build(daemon, "-t", "app", str(ctx))
    assert "Step 1/6 : FROM busybox" in first.stdout
    assert "Step 5/6 : RUN" in first.stdout
    assert re.search(r"^ ---> Running in [0-9a-f]{12}$", first.stdout, re.M)
    assert "a message" in first.stdout  # the RUN's own output, streamed
    assert re.search(r"^Removing intermediate container [0-9a-f]{12}$", first.stdout, re.M)
    assert "Successfully tagged app:latest" in first.stdout
    assert "Using cache" not in first.stdout
    image = built_id(first.stdout)

    run = daemon.docker("run", "--rm", "app")
    assert run.stdout == "built hello in /app\na message\n"

    second = build(daemon, "-t", "app", str(ctx))
    assert second.stdout.count(" ---> Using cache") == 5  # every step after FROM
    assert "Running in" not in second.stdout
    assert built_id(second.stdout) == image
    assert no_containers(daemon)


def test_build_args_and_target_stage(daemon: Daemon, tmp_path: Path) -> None:
    dockerfile = """\
FROM busybox AS other
RUN echo other-stage-ran
FROM busybox AS final
ARG WHO=nobody
RUN echo "hello $WHO" > /who
CMD ["cat", "/who"]
"""
    ctx = context(tmp_path, dockerfile)
    res = build(daemon, "--target", "final", "--build-arg", "WHO=world", "-t", "greet", str(ctx))
    assert "other-stage-ran" not in res.stdout
    assert "Step 1/4 : FROM busybox AS final" in res.stdout
    assert daemon.docker("run", "--rm", "greet").stdout == "hello world\n"

    res = build(daemon, "--target", "final", "-t", "greet2", str(ctx))
    assert daemon.docker("run", "--rm", "greet2").stdout == "hello nobody\n"

    quiet = build(daemon, "-q", "--target", "final", str(ctx))
    image = daemon.docker("image", "inspect", "--format", "{{.Id}}", "greet2").stdout
    assert quiet.stdout == image  # `docker build -q`: the id alone

    res = build(daemon, "--target", "nosuch", str(ctx), check=False)
    assert res.returncode != 0
    assert "nosuch" in res.stderr


def test_dockerfile_outside_context_and_dockerignore(daemon: Daemon, tmp_path: Path) -> None:
    ctx = context(
        tmp_path,
        "FROM scratch\n",
        **{
            "keep.txt": "kept\n",
            "secret.txt": "do not send\n",
            "logs__a.log": "log\n",
            ".dockerignore": "secret.txt\nlogs\n",
        },
    )
    outside = tmp_path / "elsewhere.Dockerfile"
    outside.write_text('FROM busybox\nCOPY . /ctx/\nCMD ["sh", "-c", "ls -A /ctx"]\n')
    build(daemon, "-f", str(outside), "-t", "ctx-view", str(ctx))
    listing = daemon.docker("run", "--rm", "ctx-view").stdout.split()
    assert "keep.txt" in listing
    assert "Dockerfile" in listing
    assert "secret.txt" not in listing
    assert "logs" not in listing
    assert not [n for n in listing if n.startswith(".dockerfile.")]


def test_failing_run_reports_docker_message_and_code(daemon: Daemon, tmp_path: Path) -> None:
    ctx = context(tmp_path, "FROM busybox\nRUN echo before\nRUN echo failing && exit 3\n")
    res = build(daemon, "-t", "broken", str(ctx), check=False)
    assert res.returncode == 3, daemon.log_tail(60)
    assert "failing" in res.stdout
    assert "The command '/bin/sh -c echo failing && exit 3' returned a non-zero code: 3" in (
        res.stderr
    )
    images = daemon.docker("images", "--format", "{{.Repository}}").stdout.split()
    assert "broken" not in images
    assert no_containers(daemon)


def test_docker_py_build(daemon: Daemon, client: Any, tmp_path: Path) -> None:
    ctx = context(tmp_path, 'FROM busybox\nLABEL made-by=docker-py\nCMD ["echo", "from py"]\n')
    image, logs = client.images.build(path=str(ctx), tag="pybuilt:v1", rm=True)
    assert "pybuilt:v1" in image.tags
    assert image.labels.get("made-by") == "docker-py"
    text = "".join(str(chunk.get("stream", "")) for chunk in logs)
    assert "Step 3/3" in text
    out = client.containers.run("pybuilt:v1", remove=True)
    assert out == b"from py\n"


def test_dockyard_cli_build_iidfile_quiet_and_prune(daemon: Daemon, tmp_path: Path) -> None:
    ctx = context(tmp_path, "FROM busybox\nRUN echo step-ran > /f\n")
    iid = tmp_path / "iid"
    res = dockyard(daemon, "build", "-t", "cli-built", "--iidfile", str(iid), str(ctx))
    assert "Step 2/2 : RUN echo step-ran > /f" in res.stdout
    assert "Running in" in res.stdout
    image_id = iid.read_text()
    assert image_id.startswith("sha256:")
    inspect = daemon.docker("image", "inspect", "--format", "{{.Id}}", "cli-built")
    assert inspect.stdout.strip() == image_id

    quiet = dockyard(daemon, "build", "-q", str(ctx))
    assert quiet.stdout == image_id + "\n"  # from the cache: the same image

    dockyard(daemon, "builder", "prune", "-f")
    again = dockyard(daemon, "build", "-t", "cli-built", str(ctx))
    assert "Using cache" not in again.stdout
    assert "Running in" in again.stdout

    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM busybox\nRUN echo oops && exit 5\n")
    failed = dockyard(daemon, "build", "-q", "-f", str(bad), str(ctx), check=False)
    assert failed.returncode == 5
    assert failed.stdout == ""
    assert "oops" in failed.stderr  # quiet: the output is shown once the build failed
    assert "returned a non-zero code: 5" in failed.stderr
    assert no_containers(daemon)


def test_dockyard_cli_build_from_stdin_dockerfile(daemon: Daemon) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_"))}
    res = subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "-H", daemon.url, "build", "-t", "in", "-"],
        input='FROM busybox\nCMD ["echo", "no context"]\n',
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert daemon.docker("run", "--rm", "in").stdout == "no context\n"


def test_client_gone_mid_build_cancels_it(daemon: Daemon, tmp_path: Path) -> None:
    ctx = context(tmp_path, "FROM busybox\nRUN echo started && sleep 30\nRUN echo never\n")
    proc = subprocess.Popen(
        [DOCKER, "-H", daemon.url, "build", "-t", "gone", str(ctx)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=docker_env(daemon),
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        seen = ""
        while "\nstarted\n" not in seen:  # the RUN's output: its container runs
            line = proc.stdout.readline()
            assert line, f"the build ended early: {seen}"
            seen += line
        assert daemon.docker("ps", "-aq").stdout.strip()  # the RUN container exists
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    deadline = time.monotonic() + 10
    while not no_containers(daemon):
        assert time.monotonic() < deadline, daemon.log_tail(30)
        time.sleep(0.2)
    # the context directory goes too, and nothing was tagged
    deadline = time.monotonic() + 10
    while list((daemon.data_root / "tmp").glob("build-*")):
        assert time.monotonic() < deadline, "the build context is still there"
        time.sleep(0.2)
    images = daemon.docker("images", "--format", "{{.Repository}}").stdout.split()
    assert "gone" not in images


def test_compressed_context_on_stdin(daemon: Daemon) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (
            ("Dockerfile", b"FROM busybox\nCOPY note /\nCMD cat /note\n"),
            ("note", b"from a gzip context\n"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    res = subprocess.run(
        [DOCKER, "-H", daemon.url, "build", "-t", "gz", "-"],
        input=buf.getvalue(),
        capture_output=True,
        timeout=120,
        env=docker_env(daemon),
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert daemon.docker("run", "--rm", "gz").stdout == "from a gzip context\n"

    bad = subprocess.run(
        [DOCKER, "-H", daemon.url, "build", "-"],
        input=b"FROM busybox\nNOSUCH thing\n",
        capture_output=True,
        timeout=120,
        env=docker_env(daemon),
        check=False,
    )
    assert bad.returncode == 1
    assert b"unknown instruction" in bad.stderr.lower()
