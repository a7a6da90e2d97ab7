"""Which hosts the daemon listens on: unix sockets, and TCP only with verified TLS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.daemon.config import DaemonConfig, build
from dockyard.daemon.listeners import TcpListener, UnixListener, plan, tcp_address
from dockyard.errors import InvalidArgument


def config(
    tmp_path: Path, flags: dict[str, object], file: dict[str, object] | None = None
) -> DaemonConfig:
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(file or {}))
    return build(flags, path)


def test_tcp_address() -> None:
    assert tcp_address("tcp://127.0.0.1:2376") == ("127.0.0.1", 2376)
    assert tcp_address("tcp://[::1]:2376") == ("::1", 2376)
    assert tcp_address("tcp://:2376") == ("0.0.0.0", 2376)
    for bad in ("tcp://127.0.0.1", "tcp://127.0.0.1:0", "tcp://h:99999", "tcp://a/b:1"):
        with pytest.raises(InvalidArgument, match="expected tcp://ADDRESS:PORT"):
            tcp_address(bad)


def test_unix_hosts_need_no_tls(tmp_path: Path) -> None:
    c = config(tmp_path, {"hosts": ("unix:///run/a.sock",)})
    assert plan(c) == [UnixListener(Path("/run/a.sock"))]


def test_plain_tcp_is_refused(tmp_path: Path) -> None:
    for extra in ({}, {"tls": True}):
        c = config(tmp_path, {"hosts": ("tcp://127.0.0.1:2375",), **extra})
        with pytest.raises(InvalidArgument, match=r"without TLS client verification.*--tlsverify"):
            plan(c)


def test_tlsverify_needs_the_three_files(tmp_path: Path) -> None:
    c = config(tmp_path, {"hosts": ("tcp://127.0.0.1:2376",), "tlsverify": True,
                          "tlscert": Path("/c.pem")})  # fmt: skip
    with pytest.raises(InvalidArgument, match="--tlscacert, --tlskey not given"):
        plan(c)


def test_tls_settings_from_daemon_json(tmp_path: Path) -> None:
    c = config(tmp_path, {}, {
        "hosts": ["unix:///run/a.sock", "tcp://127.0.0.1:2376"], "tlsverify": True,
        "tlscacert": "/etc/d/ca.pem", "tlscert": "/etc/d/cert.pem", "tlskey": "/etc/d/key.pem",
    })  # fmt: skip
    assert (c.tlscacert, c.tlscert, c.tlskey) == (
        Path("/etc/d/ca.pem"), Path("/etc/d/cert.pem"), Path("/etc/d/key.pem"),
    )  # fmt: skip
    assert plan(c) == [
        UnixListener(Path("/run/a.sock")),
        TcpListener("tcp://127.0.0.1:2376", "127.0.0.1", 2376),
    ]
    with pytest.raises(InvalidArgument, match="tlsverify: expected true or false"):
        config(tmp_path, {}, {"tlsverify": "yes"})
