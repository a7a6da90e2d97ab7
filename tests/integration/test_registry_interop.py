"""Interop with the real Docker engine through one registry, both ways: an image pushed
by Dockyard is pulled and run by dockerd 20.10, and one pushed by dockerd (after
``docker load`` of Dockyard's busybox save) is pulled and run by Dockyard. Docker
treats 127.0.0.0/8 as insecure by default, so no daemon flag is needed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.testing.daemon import Daemon
from dockyard.testing.dockerd import Dockerd
from dockyard.testing.features import strict
from dockyard.testing.registry import Registry
from dockyard.testing.registry import RegistryUnavailable as NoRegistry

pytestmark = pytest.mark.requires("root")


@pytest.fixture
def registry() -> Iterator[Registry]:
    try:
        reg = Registry.start("none")
    except NoRegistry as e:
        if strict():
            pytest.fail(f"the test registry is unavailable: {e}")
        pytest.skip(f"the test registry is unavailable: {e}")
    try:
        yield reg
    finally:
        reg.stop()


@pytest.fixture
def ours() -> Iterator[Daemon]:
    d = Daemon.start()
    try:
        yield d
        d.stop()
    finally:
        d.cleanup()


def dockyard(daemon: Daemon, *args: str) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "-H", daemon.url, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, f"dockyard {' '.join(args)}: {res.stderr}"
    return res.stdout


def test_docker_pulls_and_runs_what_dockyard_pushed(
    dockerd: Dockerd, registry: Registry, ours: Daemon
) -> None:
    name = f"{registry.domain}/dyt/from-dockyard:v1"
    dockyard(ours, "tag", "busybox", name)
    out = dockyard(ours, "push", name)
    digest = out.split("v1: digest: ")[1].split()[0]
    try:
        pulled = dockerd.cli("pull", name).stdout.decode()
        assert f"Digest: {digest}" in pulled
        repo_digests = dockerd.cli("image", "inspect", "-f", "{{json .RepoDigests}}", name)
        assert f"{registry.domain}/dyt/from-dockyard@{digest}" in repo_digests.stdout.decode()
        ran = dockerd.cli("run", "--rm", "--network", "none", name, "sh", "-c", "echo ran $((6*7))")
        assert ran.stdout.decode().strip() == "ran 42"
    finally:
        dockerd.cli("rmi", "-f", name, check=False)


def test_dockyard_pulls_and_runs_what_docker_pushed(
    dockerd: Dockerd, registry: Registry, ours: Daemon, tmp_path: Path
) -> None:
    archive = tmp_path / "busybox.tar"
    dockyard(ours, "save", "-o", str(archive), "busybox")
    loaded = dockerd.cli("load", "-i", str(archive)).stdout.decode()
    assert "busybox:latest" in loaded
    name = f"{registry.domain}/dyt/from-docker:v1"
    try:
        dockerd.cli("tag", "busybox:latest", name)
        out = dockerd.cli("push", name).stdout.decode()
        digest = out.split("v1: digest: ")[1].split()[0]
        pulled = dockyard(ours, "pull", name)
        assert f"Digest: {digest}" in pulled
        assert f"Status: Downloaded newer image for {name}" in pulled
        doc = dockyard(ours, "image", "inspect", "-f", "{{json .RepoDigests}}", name)
        assert f"{registry.domain}/dyt/from-docker@{digest}" in doc
        ran = dockyard(ours, "run", "--rm", "--network", "none", name, "sh", "-c", "echo $((6*7))")
        assert ran.strip() == "42"
    finally:
        dockerd.cli("rmi", "-f", name, "busybox:latest", check=False)
