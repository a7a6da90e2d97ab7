"""dockyardd against the real docker CLI and docker-py."""

from __future__ import annotations

import grp
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from dockyard.testing.daemon import Daemon, ping
from dockyard.testing.names import unique


def test_docker_version(daemon: Daemon) -> None:
    out = daemon.docker("version", "--format", "{{json .}}").stdout
    v = json.loads(out)
    assert v["Server"]["Version"] == "0.1.0"
    assert v["Server"]["ApiVersion"] == "1.45"
    assert v["Client"]["ApiVersion"] == "1.45"  # negotiated down from the client's newest
    text = daemon.docker("version").stdout
    assert "Server: Dockyard Engine" in text
    assert "1.45 (minimum version 1.24)" in text


def test_docker_info(daemon: Daemon) -> None:
    res = daemon.docker("info", "--format", "{{json .}}")
    info = json.loads(res.stdout)
    assert info["ServerVersion"] == "0.1.0"
    assert info["Driver"] == "overlay"
    assert info["DockerRootDir"] == str(daemon.data_root)
    assert info["OSType"] == "linux"
    assert "dockyard" in info["Runtimes"]
    text = daemon.docker("info")
    assert "Server Version: 0.1.0" in text.stdout
    assert "ERROR" not in text.stderr


def test_docker_py(daemon: Daemon) -> None:
    import docker  # docker-py, a dev dependency

    client = docker.DockerClient(base_url=daemon.url)
    try:
        assert client.ping() is True
        assert client.version()["ApiVersion"] == "1.45"
        assert client.info()["Images"] == len(client.images.list(all=True)) >= 1
        assert client.api.api_version == "1.45"
    finally:
        client.close()
    client = docker.from_env(environment=daemon.client_env())
    try:
        assert client.ping() is True
    finally:
        client.close()


def test_unknown_endpoint_answers_404_json(daemon: Daemon) -> None:
    res = daemon.docker("plugin", "ls", check=False)  # (networks are served now)
    assert res.returncode != 0
    assert "page not found" in res.stderr


def test_socket_is_root_dockyard_0660(daemon: Daemon) -> None:
    st = daemon.sock.stat()
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_uid == 0
    assert st.st_gid == grp.getgrnam("dockyard").gr_gid
    assert daemon.pidfile.read_text().strip() == str(daemon.proc.pid if daemon.proc else 0)


def test_sigterm_stops_cleanly() -> None:
    d = Daemon.start()
    try:
        assert d.sock.exists() and d.pidfile.exists()
        assert d.stop() == 0  # checks the exit status and that socket and pidfile are gone
        assert not d.sock.exists()
        assert not d.pidfile.exists()
        assert "daemon stopped" in d.log.read_text()
    finally:
        d.cleanup()


def test_second_daemon_on_same_pidfile_is_refused(daemon: Daemon) -> None:
    other = daemon.sock.with_name("dyt-other.sock")
    res = daemon.run("-H", f"unix://{other}", "--storage-driver", "vfs")
    assert res.returncode == 1
    assert "another dockyardd is running" in res.stderr
    assert str(daemon.proc.pid if daemon.proc else "") in res.stderr
    assert not other.exists()
    assert ping(daemon.sock)  # the first one is untouched


def test_second_daemon_on_same_socket_is_refused(daemon: Daemon) -> None:
    res = subprocess.run(
        [
            sys.executable, "-m", "dockyard.daemon.main",
            "-H", daemon.url,
            "--data-root", str(daemon.dir / "data2"),
            "--exec-root", str(daemon.dir / "exec2"),
            "--pidfile", str(daemon.dir / "other.pid"),
            "--config-file", str(daemon.config_file),
        ],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert res.returncode == 1
    assert "another daemon is serving on it" in res.stderr
    assert ping(daemon.sock)


def test_daemon_json_merge() -> None:
    d = Daemon.start(config={"storage-driver": "vfs", "proxies": {"no-proxy": "localhost"}})
    try:
        info = json.loads(d.docker("info", "--format", "{{json .}}").stdout)
        assert info["Driver"] == "vfs"
        assert info["NoProxy"] == "localhost"
        d.stop()
    finally:
        d.cleanup()


def test_daemon_json_conflict_and_unknown_key() -> None:
    d = Daemon.prepare(config={"storage-driver": "vfs"})
    try:
        res = d.run("--storage-driver", "overlay")
        assert res.returncode == 1
        assert "specified both as a flag and in the configuration file" in res.stderr
        assert "storage-driver" in res.stderr
        assert not d.sock.exists() and not d.pidfile.exists()
        d.config_file.write_text('{"no-such-option": true}')
        res = d.run()
        assert res.returncode == 1
        assert "no-such-option" in res.stderr
    finally:
        d.cleanup()


def test_tcp_host_without_tls_is_refused() -> None:
    d = Daemon.prepare()
    try:
        res = d.run("-H", "tcp://127.0.0.1:2375")
        assert res.returncode == 1
        assert "TLS" in res.stderr
        assert not d.pidfile.exists()
    finally:
        d.cleanup()


def test_version_flag() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "dockyard.daemon.main", "--version"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert res.returncode == 0
    assert res.stdout.startswith("Dockyard daemon version")
    assert os.path.exists("/usr/local/bin/docker")


def _spares(daemon: Daemon) -> list[int]:
    """Pids of the spare shims started by ``daemon`` (found by their socket path)."""
    found = []
    needle = f"{daemon.exec_root}/shims/spare-".encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if needle in f.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _wait_for(predicate: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_spare_shim_waits_and_goes_with_the_daemon() -> None:
    """The daemon keeps one shim ready (its imports done); a container start takes it and
    a new one is started; the spare leaves with the daemon, also when the daemon dies."""
    daemon = Daemon.start()
    try:
        assert _wait_for(lambda: list((daemon.exec_root / "shims").glob("spare-*.sock")))
        time.sleep(0.2)  # the daemon polls for the socket every 10 ms
        first = _spares(daemon)[0]
        assert daemon.docker("run", "--rm", "busybox", "echo", "hi").stdout == "hi\n"
        assert _wait_for(lambda: _spares(daemon) not in ([], [first])), (first, _spares(daemon))
        daemon.stop()
        assert _wait_for(lambda: _spares(daemon) == [], 5)
        daemon.restart()
        assert _wait_for(lambda: len(_spares(daemon)) == 1)
        daemon.kill9()
        assert _wait_for(lambda: _spares(daemon) == [], 5)  # it notices its parent is gone
        daemon.restart()
        daemon.stop()
    finally:
        daemon.cleanup()


def test_cleanup_after_a_killed_daemon_leaves_nothing() -> None:
    """The test toolkit's cleanup after a test that failed half-way: the daemon SIGKILLed
    with a container running on a network (its shim, process and bridge live on) —
    nothing of it remains."""
    forwarding = Path("/proc/sys/net/ipv4/ip_forward")
    before = forwarding.read_text()  # a bridge network's daemon turns forwarding on
    # --iptables=false: a SIGKILLed daemon cannot take its firewall chains along, and the
    # chains are shared with every other daemon of this host
    d = Daemon.start("--iptables=false")
    try:
        net = d.docker("network", "create", "--subnet", "10.224.9.0/24", unique("net")).stdout
        d.docker("run", "-d", "--network", net.strip(), "busybox", "sleep", "300")
        bridge = "dy-" + net.strip()[:12]
        assert os.path.isdir(f"/sys/class/net/{bridge}")
        d.kill()
    finally:
        d.cleanup()
        forwarding.write_text(before)
    assert not os.path.exists(f"/sys/class/net/{bridge}")
    argv = ["pgrep", "-f", str(d.dir)]
    left = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    assert left == ""
    with open("/proc/self/mountinfo") as f:
        assert str(d.dir) not in f.read()
    assert not d.dir.exists()
