"""/_ping, /version and /info through the server, on a SystemService with a fake count."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.api.router import Router
from dockyard.api.routes import system as system_routes
from dockyard.engine.system import SystemService, SystemSettings, backing_fs, os_release

from .httpclient import Client, ServerThread


@pytest.fixture
def client() -> Iterator[Client]:
    with tempfile.TemporaryDirectory(prefix="dyt-") as tmp:
        settings = SystemSettings(
            data_root=Path(tmp) / "data",
            exec_root=Path(tmp) / "exec",
            storage_driver="vfs",
            default_runtime="dockyard",
            runtimes={"dockyard": "dockyard-runtime", "runc": "/usr/bin/runc"},
            http_proxy="http://proxy:3128",
        )
        router = Router()
        system_routes.register(router, SystemService(settings, image_count=lambda: 3))
        server = ServerThread(router, Path(tmp) / "dyt-sys.sock")
        c = Client(server.path)
        try:
            yield c
        finally:
            c.close()
            server.stop()


def test_ping(client: Client) -> None:
    for method in ("GET", "HEAD"):
        r = client.request(method, "/_ping")
        assert r.status == 200
        assert r.body == (b"OK" if method == "GET" else b"")
        assert r.headers["api-version"] == "1.45"
        assert r.headers["builder-version"] == "1"
        assert r.headers["cache-control"].startswith("no-cache")
        assert r.headers["pragma"] == "no-cache"
        assert r.headers["content-type"].startswith("text/plain")


def test_version(client: Client) -> None:
    v = json.loads(client.request("GET", "/v1.45/version").body)
    assert v["ApiVersion"] == "1.45"
    assert v["MinAPIVersion"] == "1.24"
    assert v["Os"] == "linux"
    assert v["Arch"] in ("amd64", "arm64")
    assert v["Components"][0]["Name"] == "Engine"
    assert v["Components"][0]["Version"] == v["Version"]


def test_info(client: Client) -> None:
    i = json.loads(client.request("GET", "/info").body)
    assert i["Images"] == 3
    assert i["Driver"] == "vfs"
    assert i["OSType"] == "linux"
    assert i["DefaultRuntime"] == "dockyard"
    assert i["Runtimes"]["runc"] == {"path": "/usr/bin/runc"}
    assert i["HttpProxy"] == "http://proxy:3128"
    assert i["NCPU"] >= 1 and i["MemTotal"] > 0
    assert i["CgroupVersion"] in ("1", "2")
    assert i["Warnings"] == [] and i["SecurityOptions"] == []
    assert len(i["ID"]) == 36
    # the id is kept: a second call gives the same
    assert json.loads(client.request("GET", "/info").body)["ID"] == i["ID"]


def test_os_release_and_backing_fs(tmp_path: Path) -> None:
    f = tmp_path / "os-release"
    f.write_text('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\n')
    assert os_release(str(f)) == ("Debian GNU/Linux 12 (bookworm)", "12")
    assert os_release(str(tmp_path / "missing")) == ("Linux", "")
    assert backing_fs(Path("/proc")) == "proc"
