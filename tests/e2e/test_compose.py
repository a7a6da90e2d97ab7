"""docker-compose (Debian's 1.29, which speaks the Engine API through docker-py) against
dockyardd: a project with a user network, a named volume, a published port, a service
built from a Dockerfile, ``depends_on``, ``exec``, ``logs``, ``scale``, ``restart`` and
``down -v`` leaving nothing behind.

Traffic only flows between this host and the project's containers.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.testing.daemon import Daemon, own_bridge, running
from dockyard.testing.names import SESSION
from dockyard.testing.netns import wait_for_http

pytestmark = pytest.mark.requires("root", "docker-compose")

COMPOSE = """\
version: "3.8"
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"]
    volumes: ["www:/www"]
    ports: ["127.0.0.1:{port}:80"]
  writer:
    build: ./writer
    volumes: ["www:/www"]
    depends_on: [web]
    environment:
      GREETING: hello from compose
  worker:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; echo worker up; while :; do sleep 1; done"]
volumes:
  www: {{}}
"""
DOCKERFILE = """\
FROM busybox:latest
CMD ["sh", "-c", "echo $GREETING > /www/index.html; trap 'exit 0' TERM; while :; do sleep 1; done"]
"""


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    with own_bridge(228) as config, running(config=config) as d:
        yield d


def test_a_compose_project(daemon: Daemon, tmp_path: Path) -> None:
    port = 18000 + os.getpid() % 1000
    (tmp_path / "writer").mkdir()
    (tmp_path / "writer" / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "docker-compose.yml").write_text(COMPOSE.format(port=port))
    project = f"{SESSION.replace('-', '')}proj"
    env = {**os.environ, "DOCKER_HOST": daemon.url, "COMPOSE_DOCKER_CLI_BUILD": "0"}

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(["docker-compose", "-p", project, *args], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert res.returncode == 0, f"docker-compose {' '.join(args)}: {res.stderr[-2000:]}"
        return res

    try:
        compose("up", "-d", "--build")
        # the volume the writer filled, served by web on the published port
        assert wait_for_http(f"http://127.0.0.1:{port}/").strip() == "hello from compose"
        # service names resolve on the project's network
        got = compose("exec", "-T", "writer", "wget", "-q", "-O-", "http://web/")
        assert got.stdout.strip() == "hello from compose"
        ps = compose("ps").stdout
        assert f"{project}_web_1" in ps and f"127.0.0.1:{port}->80/tcp" in ps
        assert "worker up" in compose("logs", "worker").stdout
        compose("up", "-d", "--scale", "worker=2")
        assert len(compose("ps", "-q", "worker").stdout.split()) == 2
        compose("restart", "web")
        assert wait_for_http(f"http://127.0.0.1:{port}/").strip() == "hello from compose"
        template = '{{index .Config.Labels "com.docker.compose.service"}}'
        labels = daemon.docker("inspect", "-f", template, f"{project}_web_1").stdout
        assert labels.strip() == "web"
    finally:
        compose("down", "-v", "--rmi", "local")
    assert daemon.docker("ps", "-aq").stdout == ""
    assert f"{project}_default" not in daemon.docker("network", "ls").stdout
    assert f"{project}_www" not in daemon.docker("volume", "ls").stdout
    assert f"{project}_writer" not in daemon.docker("images").stdout
