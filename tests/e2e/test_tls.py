"""dockyardd on TCP with mutual TLS: the docker CLI, docker-py and the dockyard CLI.

The test makes its own CA, server and client certificates with ``openssl`` in a temp
dir (plus a client certificate from a second, untrusted CA) and starts a daemon on
``tcp://127.0.0.1:<free port>`` next to its unix socket. Traffic stays on loopback.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker  # docker-py, a dev dependency
import docker.tls
import pytest

from dockyard.testing.daemon import DOCKER, Daemon

pytestmark = pytest.mark.requires("root")


@dataclass
class Certs:
    dir: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_cert: Path  # signed by another CA
    rogue_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _key(name: str, cwd: Path) -> None:
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name, cwd=cwd)


def _ca(name: str, cwd: Path) -> None:
    _key(f"{name}-key.pem", cwd)
    _openssl("req", "-x509", "-new", "-key", f"{name}-key.pem", "-out", f"{name}.pem",
             "-days", "2", "-subj", f"/CN=dyt-{name}", cwd=cwd)  # fmt: skip


def _signed(name: str, ca: str, extensions: str, cwd: Path) -> None:
    _key(f"{name}-key.pem", cwd)
    _openssl("req", "-new", "-key", f"{name}-key.pem", "-out", f"{name}.csr",
             "-subj", f"/CN=dyt-{name}", cwd=cwd)  # fmt: skip
    (cwd / f"{name}.ext").write_text(extensions)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}-key.pem",
             "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
             "-extfile", f"{name}.ext", cwd=cwd)  # fmt: skip


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    _ca("ca", tmp_path)
    _ca("rogue-ca", tmp_path)
    server_ext = "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
    client_ext = "extendedKeyUsage=clientAuth\n"
    _signed("server", "ca", server_ext, tmp_path)
    _signed("client", "ca", client_ext, tmp_path)
    _signed("rogue", "rogue-ca", client_ext, tmp_path)
    return Certs(
        tmp_path, tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server-key.pem",
        tmp_path / "client.pem", tmp_path / "client-key.pem",
        tmp_path / "rogue.pem", tmp_path / "rogue-key.pem",
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def tls_daemon(certs: Certs) -> Iterator[tuple[Daemon, str]]:
    port = free_port()
    host = f"tcp://127.0.0.1:{port}"
    d = Daemon.start(
        "-H", host, "--tlsverify",
        "--tlscacert", str(certs.ca),
        "--tlscert", str(certs.server_cert),
        "--tlskey", str(certs.server_key),
    )  # fmt: skip
    try:
        yield d, host
        d.stop()
    finally:
        d.cleanup()


def docker_cli(
    d: Daemon, host: str, *args: str, tls: list[str]
) -> subprocess.CompletedProcess[str]:
    conf = d.dir / "docker-config"
    conf.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_CONFIG=str(conf), DOCKER_CLI_HINTS="false")
    return subprocess.run(
        [DOCKER, *tls, "-H", host, *args],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip


def dockyard_cli(
    host: str, *args: str, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_"))}
    env["HOME"] = "/nonexistent"  # no ~/.dockyard defaults from the machine
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "-H", host, *args],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip


def test_docker_cli_with_client_certificate(tls_daemon: tuple[Daemon, str], certs: Certs) -> None:
    d, host = tls_daemon
    tls = ["--tlsverify", "--tlscacert", str(certs.ca), "--tlscert", str(certs.client_cert),
           "--tlskey", str(certs.client_key)]  # fmt: skip
    res = docker_cli(d, host, "version", "--format", "{{json .Server}}", tls=tls)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["ApiVersion"] == "1.45"
    # a hijacked stream (attach) and a streamed wait over TLS
    res = docker_cli(d, host, "run", "--rm", "busybox", "echo", "over tls", tls=tls)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "over tls\n"


def test_docker_cli_without_client_certificate_fails(
    tls_daemon: tuple[Daemon, str], certs: Certs
) -> None:
    d, host = tls_daemon
    res = docker_cli(d, host, "version", tls=["--tlsverify", "--tlscacert", str(certs.ca)])
    assert res.returncode != 0
    assert "Server:" not in res.stdout
    # the daemon is still serving afterwards
    assert d.docker("version", "--format", "{{.Server.APIVersion}}").stdout.strip() == "1.45"


def test_docker_cli_with_certificate_of_another_ca_fails(
    tls_daemon: tuple[Daemon, str], certs: Certs
) -> None:
    d, host = tls_daemon
    tls = ["--tlsverify", "--tlscacert", str(certs.ca), "--tlscert", str(certs.rogue_cert),
           "--tlskey", str(certs.rogue_key)]  # fmt: skip
    res = docker_cli(d, host, "version", tls=tls)
    assert res.returncode != 0
    assert "Server:" not in res.stdout


def test_docker_py_with_tls_config(
    tls_daemon: tuple[Daemon, str], certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, host = tls_daemon
    # requests lets these variables override the session's CA (docker-py sets our CA there)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    tls = docker.tls.TLSConfig(
        client_cert=(str(certs.client_cert), str(certs.client_key)),
        verify=str(certs.ca),
    )
    client = docker.DockerClient(base_url=host.replace("tcp://", "https://"), tls=tls,
                                 version="1.45", timeout=30)  # fmt: skip
    try:
        assert client.ping() is True
        assert any("busybox:latest" in i.tags for i in client.images.list())
    finally:
        client.close()


def test_dockyard_cli_flags_and_environment(tls_daemon: tuple[Daemon, str], certs: Certs) -> None:
    _, host = tls_daemon
    res = dockyard_cli(
        host, "--tlsverify", "--tlscacert", str(certs.ca), "--tlscert", str(certs.client_cert),
        "--tlskey", str(certs.client_key), "version",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "API version:" in res.stdout and "1.45" in res.stdout
    # DOCKER_CERT_PATH-style: ca.pem, cert.pem, key.pem in one directory
    cert_dir = certs.dir / "dockyard-certs"
    cert_dir.mkdir()
    for src, name in ((certs.ca, "ca.pem"), (certs.client_cert, "cert.pem"),
                      (certs.client_key, "key.pem")):  # fmt: skip
        (cert_dir / name).write_bytes(src.read_bytes())
    env = {"DOCKYARD_TLS_VERIFY": "1", "DOCKYARD_CERT_PATH": str(cert_dir)}
    res = dockyard_cli(host, "ps", "-a", env_extra=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("CONTAINER ID")
    # without TLS the client refuses a tcp host and says what to give
    res = dockyard_cli(host, "version")
    assert res.returncode == 1
    assert "--tlsverify" in res.stderr
    # a client certificate from another CA is refused by the daemon
    res = dockyard_cli(
        host, "--tlsverify", "--tlscacert", str(certs.ca), "--tlscert", str(certs.rogue_cert),
        "--tlskey", str(certs.rogue_key), "version",
    )  # fmt: skip
    assert res.returncode == 1
    assert "Server:" not in res.stdout
    assert "TLS" in res.stderr or "certificate" in res.stderr


def test_tcp_settings_in_daemon_json(certs: Certs) -> None:
    port = free_port()
    config = {
        "hosts": [f"tcp://127.0.0.1:{port}"],
        "tlsverify": True,
        "tlscacert": str(certs.ca),
        "tlscert": str(certs.server_cert),
        "tlskey": str(certs.server_key),
    }
    # -H on the command line and "hosts" in the file conflict (as with dockerd), so the
    # unix socket the fixture waits on goes into the file too
    d = Daemon.prepare(config)
    try:
        config["hosts"] = [d.url, *config["hosts"]]  # type: ignore[list-item]
        d.config_file.write_text(json.dumps(config))
        argv = d.argv()
        i = argv.index("-H")
        del argv[i : i + 2]
        with d.log.open("ab") as log:
            d.proc = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
        d.wait_ready()
        res = dockyard_cli(
            f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", str(certs.ca),
            "--tlscert", str(certs.client_cert), "--tlskey", str(certs.client_key), "version",
        )  # fmt: skip
        assert res.returncode == 0, res.stderr + d.log_tail()
        d.stop()
    finally:
        d.cleanup()


def test_tcp_without_tls_verification_is_refused(certs: Certs) -> None:
    d = Daemon.prepare()
    try:
        port = free_port()
        res = d.run("-H", f"tcp://127.0.0.1:{port}", "--tls", "--tlscert", str(certs.server_cert),
                    "--tlskey", str(certs.server_key))  # fmt: skip
        assert res.returncode == 1
        assert "--tlsverify" in res.stderr
        res = d.run("-H", f"tcp://127.0.0.1:{port}", "--tlsverify")
        assert res.returncode == 1
        assert "--tlscacert" in res.stderr
        assert not d.pidfile.exists()
    finally:
        d.cleanup()


def test_dockyard_cli_runs_a_container_over_tls(
    tls_daemon: tuple[Daemon, str], certs: Certs
) -> None:
    d, host = tls_daemon
    tls = ["--tlsverify", "--tlscacert", str(certs.ca), "--tlscert", str(certs.client_cert),
           "--tlskey", str(certs.client_key)]  # fmt: skip
    res = dockyard_cli(host, *tls, "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "out\n"
    assert res.stderr.endswith("err\n")  # after any warning of the create
    res = dockyard_cli(host, *tls, "run", "--rm", "busybox", "sh", "-c", "exit 3")
    assert res.returncode == 3
    assert d.docker("ps", "-aq").stdout == ""
