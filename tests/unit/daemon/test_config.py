"""DaemonConfig: flags merged over daemon.json, conflicts and unknown keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.daemon.config import build, parse_runtime
from dockyard.errors import InvalidArgument


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(data))
    return path


def test_defaults_with_empty_file(tmp_path: Path) -> None:
    c = build({}, write(tmp_path, {}))
    assert c.hosts == ("unix:///run/dockyard.sock",)
    assert c.data_root == Path("/var/lib/dockyard")
    assert c.storage_driver == "overlay"
    assert c.default_runtime == "dockyard"
    assert c.runtimes["dockyard"] == "dockyard-runtime"
    assert c.group == "dockyard"


def test_file_and_flags_merge(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "data-root": "/srv/dy",
            "storage-driver": "vfs",
            "runtimes": {"fast": {"path": "/opt/fast"}},
            "proxies": {"http-proxy": "http://p:1"},
            "debug": True,
        },
    )
    c = build({"hosts": ("unix:///tmp/x.sock",), "runtimes": {"slow": "/opt/slow"}}, path)
    assert c.data_root == Path("/srv/dy")
    assert c.storage_driver == "vfs"
    assert c.hosts == ("unix:///tmp/x.sock",)
    assert c.runtimes["fast"] == "/opt/fast"
    assert c.runtimes["slow"] == "/opt/slow"
    assert c.http_proxy == "http://p:1"
    assert c.debug is True


def test_same_value_in_flag_and_file_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path, {"storage-driver": "vfs"})
    assert build({"storage_driver": "vfs"}, path).storage_driver == "vfs"


def test_conflict_names_every_directive(tmp_path: Path) -> None:
    path = write(tmp_path, {"storage-driver": "vfs", "hosts": ["unix:///a.sock"]})
    with pytest.raises(InvalidArgument) as e:
        build({"storage_driver": "btrfs", "hosts": ("unix:///b.sock",)}, path)
    msg = str(e.value)
    assert "specified both as a flag and in the configuration file" in msg
    assert "storage-driver: (from flag: btrfs, from file: vfs)" in msg
    assert "hosts" in msg and str(path) in msg


def test_unknown_key(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="don't match any configuration option: bogus"):
        build({}, write(tmp_path, {"bogus": 1}))


def test_wrong_type_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="hosts: expected a list"):
        build({}, write(tmp_path, {"hosts": "unix:///x"}))
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(InvalidArgument, match="invalid JSON"):
        build({}, tmp_path / "bad.json")


def test_explicit_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="does not exist"):
        build({}, tmp_path / "missing.json")


def test_checks(tmp_path: Path) -> None:
    path = write(tmp_path, {})
    with pytest.raises(InvalidArgument, match="unknown storage driver"):
        build({"storage_driver": "zfs"}, path)
    with pytest.raises(InvalidArgument, match="default runtime"):
        build({"default_runtime": "nope"}, path)
    with pytest.raises(InvalidArgument, match="reserved"):
        build({"runtimes": {"dockyard": "/x"}}, path)
    with pytest.raises(InvalidArgument, match="name=path"):
        parse_runtime("justname")


def test_registry_directives(tmp_path: Path) -> None:
    path = write(tmp_path, {"insecure-registries": ["reg.test:5000", "10.9.0.0/16"]})
    c = build({"registry_mirrors": ("https://mirror.test",)}, path)
    assert c.insecure_registries == ("reg.test:5000", "10.9.0.0/16")
    assert c.registry_mirrors == ("https://mirror.test",)
    with pytest.raises(InvalidArgument, match="invalid mirror"):
        build({}, write(tmp_path, {"registry-mirrors": ["mirror.test"]}))
    with pytest.raises(InvalidArgument, match="insecure registry"):
        build({}, write(tmp_path, {"insecure-registries": ["http://reg.test"]}))
    with pytest.raises(InvalidArgument, match="insecure-registries: expected a list"):
        build({}, write(tmp_path, {"insecure-registries": "reg.test"}))
