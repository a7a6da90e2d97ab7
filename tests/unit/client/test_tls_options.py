"""The client's TLS options: flags, DOCKYARD_/DOCKER_ variables and the cert directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.client.errors import InvalidHost
from dockyard.client.tls import TLSOptions, dial_tcp, tcp_address


def certs(d: Path) -> Path:
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (d / name).write_text("")
    return d


def test_no_tls_unless_asked(tmp_path: Path) -> None:
    assert TLSOptions.resolve({}, {"DOCKYARD_CERT_PATH": str(certs(tmp_path))}) is None


def test_tlsverify_flag_takes_the_files_of_the_cert_path(tmp_path: Path) -> None:
    opts = TLSOptions.resolve({"tlsverify": True}, {"DOCKYARD_CERT_PATH": str(certs(tmp_path))})
    assert opts is not None and opts.verify
    assert (opts.ca, opts.cert, opts.key) == (
        str(tmp_path / "ca.pem"), str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"),
    )  # fmt: skip


def test_environment_turns_verification_on(tmp_path: Path) -> None:
    for var in ("DOCKYARD_TLS_VERIFY", "DOCKER_TLS_VERIFY"):
        opts = TLSOptions.resolve({}, {var: "1", "DOCKER_CERT_PATH": str(certs(tmp_path))})
        assert opts is not None and opts.verify and opts.cert == str(tmp_path / "cert.pem")
    assert TLSOptions.resolve({}, {"DOCKYARD_TLS_VERIFY": ""}) is None


def test_explicit_files_win_and_missing_defaults_are_left_out(tmp_path: Path) -> None:
    opts = TLSOptions.resolve(
        {"tls": True, "tlscacert": "/x/ca.pem"}, {"DOCKYARD_CERT_PATH": str(tmp_path)}
    )
    assert opts is not None and not opts.verify
    assert (opts.ca, opts.cert, opts.key) == ("/x/ca.pem", None, None)


def test_a_certificate_needs_its_key(tmp_path: Path) -> None:
    with pytest.raises(InvalidHost, match="needs its key"):
        TLSOptions.resolve({"tlsverify": True, "tlscert": "/x/cert.pem"},
                           {"DOCKYARD_CERT_PATH": str(tmp_path)})  # fmt: skip


def test_tcp_without_tls_is_refused_with_a_hint() -> None:
    with pytest.raises(InvalidHost, match="--tlsverify"):
        dial_tcp("tcp://127.0.0.1:1", None, 1.0)
    assert tcp_address("tcp://[::1]:2376") == ("::1", 2376)
    with pytest.raises(InvalidHost):
        tcp_address("tcp://nohost")
