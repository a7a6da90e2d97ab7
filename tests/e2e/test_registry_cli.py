"""The real docker CLI pushes to and pulls from a private registry through dockyardd,
and docker-py does the same with credentials (X-Registry-Auth)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockyard.testing.daemon import Daemon
from dockyard.testing.features import strict
from dockyard.testing.registry import Mode, Registry
from dockyard.testing.registry import RegistryUnavailable as NoRegistry

pytestmark = pytest.mark.requires("root")


def start(mode: Mode) -> Registry:
    try:
        return Registry.start(mode)
    except NoRegistry as e:
        if strict():
            pytest.fail(f"the test registry is unavailable: {e}")
        pytest.skip(f"the test registry is unavailable: {e}")


@pytest.fixture
def registry() -> Iterator[Registry]:
    reg = start("none")
    try:
        yield reg
    finally:
        reg.stop()


def test_docker_push_rmi_pull(daemon: Daemon, registry: Registry) -> None:
    name = f"{registry.domain}/dyt/busybox:v1"
    image_id = daemon.docker("image", "inspect", "-f", "{{.Id}}", "busybox").stdout.strip()
    daemon.docker("tag", "busybox", name)
    pushed = daemon.docker("push", name).stdout
    assert "Pushed" in pushed
    digest = pushed.split("digest: ")[1].split()[0]
    assert f"v1: digest: {digest} size:" in pushed
    daemon.docker("rmi", name)
    pulled = daemon.docker("pull", name).stdout
    assert f"Digest: {digest}" in pulled
    assert f"Status: Downloaded newer image for {name}" in pulled  # the tag is new
    assert "Already exists" in pulled  # busybox still holds the layer
    again = daemon.docker("pull", name).stdout
    assert f"Status: Image is up to date for {name}" in again
    doc = daemon.docker("image", "inspect", "-f", "{{.Id}} {{json .RepoDigests}}", name).stdout
    assert doc.startswith(image_id)
    assert f"{registry.domain}/dyt/busybox@{digest}" in doc
    missing = daemon.docker("pull", f"{registry.domain}/dyt/none:x", check=False)
    assert missing.returncode != 0 and "manifest unknown" in missing.stderr


def test_docker_py_with_credentials(daemon: Daemon) -> None:
    reg = start("basic")
    try:
        client = docker.DockerClient(base_url=daemon.url, version="1.45", timeout=60)
        name = f"{reg.domain}/dyt/secret"
        client.images.get("busybox").tag(name, "v2")
        user, password = reg.credentials or ("", "")
        lines = list(
            client.images.push(
                name, "v2", auth_config={"username": user, "password": password},
                stream=True, decode=True,
            )
        )  # fmt: skip
        assert any("aux" in line and line["aux"]["Tag"] == "v2" for line in lines), lines
        with pytest.raises(docker.errors.APIError, match="user name and password"):
            client.images.pull(name, "v2", auth_config={"username": user, "password": "wrong"})
        client.images.remove(f"{name}:v2")
        image = client.images.pull(name, "v2", auth_config={"username": user, "password": password})
        assert image.id == client.images.get("busybox").id
        client.close()
    finally:
        reg.stop()


def dockyard(
    daemon: Daemon, *args: str, config: Path | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_"))}
    if config is not None:
        env["DOCKER_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "-H", daemon.url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        input=input,
    )


def test_dockyard_cli_push_pull_with_docker_config_credentials(
    daemon: Daemon, tmp_path: Path
) -> None:
    reg = start("token")
    try:
        name = f"{reg.domain}/dyt/cli"
        daemon.docker("tag", "busybox", f"{name}:v3")
        denied = dockyard(daemon, "push", f"{name}:v3")
        assert denied.returncode != 0 and "user name and password" in denied.stderr
        user, password = reg.credentials or ("", "")
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        (tmp_path / "config.json").write_text(json.dumps({"auths": {reg.domain: {"auth": auth}}}))
        pushed = dockyard(daemon, "push", f"{name}:v3", config=tmp_path)
        assert pushed.returncode == 0, pushed.stderr
        assert f"The push refers to repository [{name}]" in pushed.stdout
        assert "v3: digest: sha256:" in pushed.stdout
        daemon.docker("rmi", f"{name}:v3")
        pulled = dockyard(daemon, "image", "pull", f"{name}:v3", config=tmp_path)
        assert pulled.returncode == 0, pulled.stderr
        assert pulled.stdout.splitlines()[-1] == f"{name}:v3"
        assert f"Status: Downloaded newer image for {name}:v3" in pulled.stdout
        default = dockyard(daemon, "pull", name, config=tmp_path)
        assert default.returncode != 0 and "manifest unknown" in default.stderr
        assert default.stdout.startswith("Using default tag: latest")
    finally:
        reg.stop()


def test_docker_login_then_push_and_pull(daemon: Daemon) -> None:
    reg = start("basic")
    try:
        user, password = reg.credentials or ("", "")
        name = f"{reg.domain}/dyt/login:v4"
        daemon.docker("tag", "busybox", name)
        denied = daemon.docker("push", name, check=False)
        assert denied.returncode != 0 and "user name and password" in denied.stderr
        bad = daemon.docker("login", "-u", user, "--password-stdin", reg.domain,
                            input=b"wrong\n", check=False)  # fmt: skip
        assert bad.returncode != 0 and "unauthorized" in bad.stderr
        good = daemon.docker("login", "-u", user, "--password-stdin", reg.domain,
                             input=password.encode() + b"\n")  # fmt: skip
        assert "Login Succeeded" in good.stdout
        assert "v4: digest: sha256:" in daemon.docker("push", name).stdout
        daemon.docker("rmi", name)
        # the dockyard CLI reads what docker login stored
        pulled = dockyard(daemon, "pull", name, config=daemon.dir / "docker-config")
        assert pulled.returncode == 0, pulled.stderr
        assert pulled.stdout.splitlines()[-1] == name
    finally:
        reg.stop()


def test_dockyard_login_push_logout(daemon: Daemon, tmp_path: Path) -> None:
    reg = start("token")
    try:
        user, password = reg.credentials or ("", "")
        name = f"{reg.domain}/dyt/mine:v5"
        daemon.docker("tag", "busybox", name)
        login = ["login", "-u", user, "--password-stdin", reg.domain]
        bad = dockyard(daemon, *login, config=tmp_path, input="wrong\n")
        assert bad.returncode != 0 and "refused the credentials" in bad.stderr
        assert not (tmp_path / "config.json").exists()
        good = dockyard(daemon, *login, config=tmp_path, input=password + "\n")
        assert good.returncode == 0, good.stderr
        assert good.stdout.strip() == "Login Succeeded"
        stored = json.loads((tmp_path / "config.json").read_text())["auths"][reg.domain]
        assert base64.b64decode(stored["auth"]).decode() == f"{user}:{password}"
        assert (tmp_path / "config.json").stat().st_mode & 0o777 == 0o600
        pushed = dockyard(daemon, "push", name, config=tmp_path)
        assert pushed.returncode == 0, pushed.stderr
        out = dockyard(daemon, "logout", reg.domain, config=tmp_path).stdout
        assert out.strip() == f"Removing login credentials for {reg.domain}"
        denied = dockyard(daemon, "push", name, config=tmp_path)
        assert denied.returncode != 0
    finally:
        reg.stop()
